"""Start-up placement of the simulated cloud, checked on the model for many shapes."""

from __future__ import annotations

from collections import Counter

import pytest

from fenix.simulators.cloud import SimulatedCloud, SimulatedCloudConfig


def placement(cloud: SimulatedCloud) -> Counter:
    return Counter(i["host"] for i in cloud.list_instances())


@pytest.mark.parametrize(
    ("hosts", "projects", "instances"),
    [(4, 2, 4), (2, 1, 2), (3, 2, 4), (5, 3, 7), (10, 4, 10), (3, 1, 3), (7, 2, 2)],
)
def test_no_empty_host_and_room_to_empty_any_one_host(hosts, projects, instances):
    config = SimulatedCloudConfig(hosts=hosts, projects=projects, instances=instances)
    cloud = SimulatedCloud(config)
    counts = placement(cloud)
    total = projects * instances
    assert sum(counts.values()) == total
    assert len(counts) == min(hosts, total)  # every host used when there are enough instances
    assert max(counts.values()) - min(counts.values()) <= 1  # round-robin
    listed = cloud.list_hosts()
    capacity = listed[0]["capacity"]
    assert all(h["capacity"] == capacity for h in listed)
    for name, on_host in counts.items():
        free_elsewhere = sum(h["free"] for h in listed if h["name"] != name)
        assert free_elsewhere >= on_host
    # ... and the capacity is the smallest that does it.
    smaller = capacity - 1
    assert smaller == 0 or smaller * (hosts - 1) < total or smaller < max(counts.values())


def test_instances_are_interleaved_so_each_host_serves_several_projects():
    cloud = SimulatedCloud(SimulatedCloudConfig(hosts=4, projects=2, instances=4))
    on_1 = cloud.list_instances(host="compute-1")
    assert [i["instance_id"] for i in on_1] == ["project-1-vm-1", "project-2-vm-1"]


def test_fewer_instances_than_hosts_leaves_the_last_hosts_empty():
    cloud = SimulatedCloud(SimulatedCloudConfig(hosts=5, projects=1, instances=3))
    assert placement(cloud) == Counter({"compute-1": 1, "compute-2": 1, "compute-3": 1})
    assert cloud.list_instances(host="compute-5") == []
    assert {h["capacity"] for h in cloud.list_hosts()} == {1}


def test_a_single_host_gets_just_enough_capacity():
    cloud = SimulatedCloud(SimulatedCloudConfig(hosts=1, projects=2, instances=3))
    (host,) = cloud.list_hosts()
    assert host["capacity"] == 6 and host["free"] == 0


def test_impossible_shapes_are_refused():
    with pytest.raises(ValueError, match="compute host"):
        SimulatedCloudConfig(hosts=0)
    with pytest.raises(ValueError, match="fail_rate"):
        SimulatedCloudConfig(fail_rate=2.0)


def test_report_covers_every_instance_and_host_from_the_start():
    cloud = SimulatedCloud(SimulatedCloudConfig(controllers=1))
    report = cloud.report()
    assert set(report) == {"instances", "hosts"}
    assert len(report["instances"]) == 8
    entry = report["instances"]["project-1-vm-1"]
    assert entry["fate"] == "active" and entry["hosts"] == ["compute-1"]
    assert entry["downtime_seconds"] == 0 and entry["moves"] == []
    assert report["hosts"]["controller-1"]["kind"] == "controller"
    assert report["hosts"]["compute-1"]["instances"] == ["project-1-vm-1", "project-2-vm-1"]
