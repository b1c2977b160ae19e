"""The simulated cloud through SimulatedDriver, over real HTTP."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from fenix.drivers.base import (
    ActionStatus,
    CloudDriver,
    DriverError,
    HostKind,
    UnknownHostError,
    UnknownInstanceError,
)
from fenix.drivers.simulated import SimulatedDriver

WAIT = 5.0


def hosts_of(driver: SimulatedDriver) -> dict:
    return {h.name: h for h in driver.list_hosts()}


def where(driver: SimulatedDriver, instance_id: str) -> str:
    return driver.get_instance(instance_id).host


# -- placement ---------------------------------------------------------------------------------


def test_default_cloud_has_fixed_names_and_no_empty_compute_host(sim):
    driver = sim.driver
    assert isinstance(driver, CloudDriver) and driver.name == "simulated"
    hosts = hosts_of(driver)
    assert list(hosts) == ["compute-1", "compute-2", "compute-3", "compute-4"]
    assert all(h.kind is HostKind.COMPUTE and h.enabled for h in hosts.values())
    instances = driver.list_instances()
    expected = {f"project-{p}-vm-{k}" for p in (1, 2) for k in range(1, 5)}
    assert {i.instance_id for i in instances} == expected
    assert all(i.name == i.instance_id and i.size == 1 for i in instances)
    assert {i.project_id for i in instances} == {"project-1", "project-2"}
    per_host = {name: len(driver.list_instances(host=name)) for name in hosts}
    assert min(per_host.values()) >= 1
    assert sum(per_host.values()) == 8


def test_any_one_host_can_be_emptied_onto_the_others(sim):
    hosts = hosts_of(sim.driver)
    capacities = {h.capacity for h in hosts.values()}
    assert len(capacities) == 1
    capacity = capacities.pop()
    assert capacity == 3  # smallest c with c * 3 >= 8 and c >= 2
    for name in hosts:
        on_host = len(sim.driver.list_instances(host=name))
        free_elsewhere = sum(h.details["free"] for n, h in hosts.items() if n != name)
        assert free_elsewhere >= on_host


def test_controller_hosts_are_listed_and_hold_no_instances(make_sim):
    sim = make_sim(controllers=2)
    hosts = hosts_of(sim.driver)
    assert hosts["controller-1"].kind is HostKind.CONTROLLER
    assert hosts["controller-2"].capacity == 0
    assert sim.driver.list_instances(host="controller-1") == []


def test_list_instances_filters_by_host_and_project(sim):
    driver = sim.driver
    on_1 = driver.list_instances(host="compute-1")
    assert on_1 and all(i.host == "compute-1" for i in on_1)
    p2 = driver.list_instances(project_id="project-2")
    assert len(p2) == 4 and all(i.project_id == "project-2" for i in p2)
    both = driver.list_instances(host="compute-1", project_id="project-2")
    assert {i.instance_id for i in both} == {i.instance_id for i in on_1} & {
        i.instance_id for i in p2
    }
    assert driver.list_instances(project_id="project-9") == []


# -- hosts -------------------------------------------------------------------------------------


def test_disable_and_enable_host(sim):
    driver = sim.driver
    driver.disable_host("compute-2", "maintenance session s1")
    host = hosts_of(driver)["compute-2"]
    assert host.enabled is False
    assert host.details["disabled_reason"] == "maintenance session s1"
    driver.enable_host("compute-2")
    host = hosts_of(driver)["compute-2"]
    assert host.enabled is True and host.details["disabled_reason"] is None


def test_maintain_host_with_an_instance_still_on_it_records_downtime(make_sim):
    sim = make_sim(maintain_seconds=0.1)
    victims = [i.instance_id for i in sim.driver.list_instances(host="compute-1")]
    started = time.monotonic()
    sim.driver.maintain_host("compute-1")
    assert time.monotonic() - started >= 0.1
    report = sim.driver.report()
    for instance_id in victims:
        entry = report["instances"][instance_id]
        assert entry["downtime_seconds"] >= 0.09
        assert len(entry["downtime_intervals"]) == 1
    others = [i for i, e in report["instances"].items() if i not in victims]
    assert all(report["instances"][i]["downtime_seconds"] == 0 for i in others)
    host = report["hosts"]["compute-1"]
    assert host["maintained"] == 1
    (record,) = host["maintenance"]
    assert record["end"] - record["start"] >= 0.09
    assert sorted(record["instances"]) == sorted(victims)


def test_maintain_an_empty_host_costs_no_downtime(sim):
    for instance in sim.driver.list_instances(host="compute-4"):
        action = sim.driver.live_migrate(instance.instance_id)
        assert sim.driver.wait_action(action, WAIT).status is ActionStatus.DONE
    sim.driver.maintain_host("compute-4")
    report = sim.driver.report()
    assert report["hosts"]["compute-4"]["maintained"] == 1
    assert all(e["downtime_seconds"] == 0 for e in report["instances"].values())


# -- moves -------------------------------------------------------------------------------------


def test_cold_migrate_moves_the_instance_and_records_downtime(make_sim):
    sim = make_sim(migrate_seconds=0.2)
    driver = sim.driver
    action = driver.migrate("project-1-vm-1", "compute-2")
    moving = driver.get_instance("project-1-vm-1")
    assert moving.state == "MIGRATING" and moving.host == "compute-1"
    assert moving.details["serving"] is False
    assert hosts_of(driver)["compute-2"].details["reserved"] == 1
    result = driver.wait_action(action, WAIT)
    assert result.status is ActionStatus.DONE and result.error is None
    assert result.host == "compute-2" and result.instance_id == "project-1-vm-1"
    assert driver.get_instance("project-1-vm-1").state == "ACTIVE"
    assert where(driver, "project-1-vm-1") == "compute-2"
    entry = driver.report()["instances"]["project-1-vm-1"]
    assert entry["downtime_seconds"] >= 0.18
    assert entry["hosts"] == ["compute-1", "compute-2"]
    (move,) = entry["moves"]
    assert move["kind"] == "migrate" and move["status"] == "DONE"
    assert (move["from"], move["to"]) == ("compute-1", "compute-2")
    assert move["end"] > move["start"]


def test_live_migrate_records_zero_downtime(sim):
    driver = sim.driver
    action = driver.live_migrate("project-1-vm-1", "compute-3")
    assert driver.get_instance("project-1-vm-1").details["serving"] is True
    result = driver.wait_action(action, WAIT)
    assert result.status is ActionStatus.DONE
    assert where(driver, "project-1-vm-1") == "compute-3"
    entry = driver.report()["instances"]["project-1-vm-1"]
    assert entry["downtime_seconds"] == 0 and entry["downtime_intervals"] == []
    assert entry["moves"][0]["kind"] == "live_migrate"


def test_migrate_without_target_picks_the_enabled_host_with_most_free_capacity(sim):
    driver = sim.driver
    # Every host holds 2 of capacity 3: ties go by name.
    result = driver.wait_action(driver.migrate("project-1-vm-1"), WAIT)
    assert result.status is ActionStatus.DONE and result.host == "compute-2"
    # Now free: compute-1 2, compute-2 0, compute-3 1, compute-4 1.
    driver.delete_instance("project-2-vm-4")  # compute-4 free 2
    driver.disable_host("compute-1", "test")
    result = driver.wait_action(driver.migrate("project-1-vm-3"), WAIT)
    assert result.status is ActionStatus.DONE and result.host == "compute-4"


def test_migrate_to_a_disabled_host_fails_with_a_message(sim):
    driver = sim.driver
    driver.disable_host("compute-3", "being upgraded")
    result = driver.wait_action(driver.migrate("project-1-vm-1", "compute-3"), WAIT)
    assert result.status is ActionStatus.FAILED
    assert "compute-3" in result.error and "unavailable" in result.error
    assert "being upgraded" in result.error
    assert where(driver, "project-1-vm-1") == "compute-1"
    assert driver.report()["instances"]["project-1-vm-1"]["downtime_seconds"] == 0


@pytest.mark.parametrize(
    ("target", "words"),
    [("compute-1", "current host"), ("compute-99", "could not be found")],
)
def test_migrate_to_the_source_or_an_unknown_host_fails(sim, target, words):
    result = sim.driver.wait_action(sim.driver.live_migrate("project-1-vm-1", target), WAIT)
    assert result.status is ActionStatus.FAILED and words in result.error


def test_migrate_fails_when_the_target_has_no_room(sim):
    driver = sim.driver
    driver.create_instance("project-1", host="compute-2")  # now 3 of capacity 3
    result = driver.wait_action(driver.migrate("project-1-vm-1", "compute-2"), WAIT)
    assert result.status is ActionStatus.FAILED
    assert result.error.startswith("No valid host was found")
    assert "compute-2" in result.error


def test_capacity_is_reserved_by_moves_in_flight(make_sim):
    sim = make_sim(migrate_seconds=0.3)
    driver = sim.driver
    # compute-4 has one free slot: the first move takes it, the second finds no room.
    first = driver.migrate("project-1-vm-1", "compute-4")
    second = driver.migrate("project-1-vm-2", "compute-4")
    failed = driver.wait_action(second, 0)
    assert failed.status is ActionStatus.FAILED and "free 0" in failed.error
    assert driver.wait_action(first, WAIT).status is ActionStatus.DONE


def test_migrate_fails_when_no_other_host_is_enabled(sim):
    driver = sim.driver
    for name in ("compute-2", "compute-3", "compute-4"):
        driver.disable_host(name, "test")
    result = driver.wait_action(driver.migrate("project-1-vm-1"), WAIT)
    assert result.status is ActionStatus.FAILED
    assert result.error == "No valid host was found. There are not enough hosts available."


def test_moving_an_instance_already_moving_is_refused(make_sim):
    sim = make_sim(migrate_seconds=0.3)
    driver = sim.driver
    action = driver.migrate("project-1-vm-1", "compute-3")
    with pytest.raises(DriverError, match="task_state migrate"):
        driver.live_migrate("project-1-vm-1", "compute-4")
    assert driver.wait_action(action, WAIT).status is ActionStatus.DONE


def test_evict_deletes_the_instance_and_counts_downtime_until_deleted(make_sim):
    sim = make_sim(evict_seconds=0.15)
    driver = sim.driver
    action = driver.evict("project-2-vm-1")
    assert driver.get_instance("project-2-vm-1").details["serving"] is False
    result = driver.wait_action(action, WAIT)
    assert result.status is ActionStatus.DONE and result.host is None
    assert "project-2-vm-1" not in {i.instance_id for i in driver.list_instances()}
    with pytest.raises(UnknownInstanceError):
        driver.get_instance("project-2-vm-1")
    entry = driver.report()["instances"]["project-2-vm-1"]
    assert entry["fate"] == "evicted" and entry["evicted"] is True
    assert entry["host"] is None and entry["ended_at"] is not None
    (interval,) = entry["downtime_intervals"]
    assert interval[1] == pytest.approx(entry["ended_at"])
    assert entry["downtime_seconds"] >= 0.13
    time.sleep(0.05)
    later = driver.report()["instances"]["project-2-vm-1"]
    assert later["downtime_seconds"] == entry["downtime_seconds"]  # stops once deleted


def test_wait_action_returns_running_when_the_timeout_passes(make_sim):
    sim = make_sim(migrate_seconds=1.0)
    action = sim.driver.migrate("project-1-vm-1", "compute-3")
    started = time.monotonic()
    result = sim.driver.wait_action(action, 0.2)
    waited = time.monotonic() - started
    assert result.status is ActionStatus.RUNNING and result.host is None
    assert waited >= 0.15  # it waited (how promptly it returns: bench/timings.py)


def test_wait_action_returns_the_outcome_once_the_action_ends(make_sim):
    sim = make_sim(migrate_seconds=0.1)
    action = sim.driver.migrate("project-1-vm-1", "compute-3")
    result = sim.driver.wait_action(action, 60)  # how soon it returns: bench/timings.py
    assert (result.status, result.host) == (ActionStatus.DONE, "compute-3")
    (moved,) = [i for i in sim.driver.list_instances() if i.instance_id == "project-1-vm-1"]
    assert moved.host == "compute-3"


def test_many_moves_run_at_once(make_sim):
    # 3 hosts, 8 instances: capacity 4; compute-1 holds 3, the others have 1 and 2 free.
    sim = make_sim(hosts=3, live_migrate_seconds=3.0)
    driver = sim.driver
    victims = [i.instance_id for i in driver.list_instances(host="compute-1")]
    assert len(victims) == 3
    actions = [driver.live_migrate(i) for i in victims]
    # All three under way together, not one after the other.
    assert [driver.wait_action(a, 0).status for a in actions] == [ActionStatus.RUNNING] * 3
    results = [driver.wait_action(a, WAIT) for a in actions]
    assert all(r.status is ActionStatus.DONE for r in results)
    assert driver.list_instances(host="compute-1") == []
    # Each went where there was room: no host holds more than its capacity.
    for host in driver.list_hosts():
        used = sum(i.size for i in driver.list_instances(host=host.name))
        assert used <= host.capacity, host.name
    assert {r.host for r in results} <= {"compute-2", "compute-3"}


# -- faults ------------------------------------------------------------------------------------


def test_injected_fault_fails_only_the_next_matching_move(sim):
    driver = sim.driver
    driver.inject_fault("live_migrate", instance_id="project-1-vm-1", message="boom: libvirt")
    other = driver.wait_action(driver.live_migrate("project-1-vm-2"), WAIT)
    assert other.status is ActionStatus.DONE
    failed = driver.wait_action(driver.live_migrate("project-1-vm-1"), WAIT)
    assert failed.status is ActionStatus.FAILED and failed.error == "boom: libvirt"
    assert failed.host == "compute-1" and where(driver, "project-1-vm-1") == "compute-1"
    again = driver.wait_action(driver.live_migrate("project-1-vm-1"), WAIT)
    assert again.status is ActionStatus.DONE


def test_injected_fault_count_covers_several_operations(sim):
    driver = sim.driver
    driver.inject_fault("migrate", count=2)
    results = [
        driver.wait_action(driver.migrate(f"project-1-vm-{k}", "compute-4"), WAIT)
        for k in (1, 1, 1)
    ]
    assert [r.status for r in results] == [
        ActionStatus.FAILED,
        ActionStatus.FAILED,
        ActionStatus.DONE,
    ]
    assert results[0].error == "Simulated fault injected into migrate."


def test_injected_maintain_and_create_faults_raise_driver_errors(sim):
    driver = sim.driver
    driver.inject_fault("maintain", host="compute-2", message="BMC unreachable")
    with pytest.raises(DriverError, match="BMC unreachable"):
        driver.maintain_host("compute-2")
    driver.maintain_host("compute-2")
    driver.inject_fault("create", message="quota exceeded")
    with pytest.raises(DriverError, match="quota exceeded"):
        driver.create_instance("project-1")
    maintenance = driver.report()["hosts"]["compute-2"]["maintenance"]
    assert [m["ok"] for m in maintenance] == [False, True]


def test_fail_rate_one_fails_every_move(make_sim):
    sim = make_sim(fail_rate=1.0)
    result = sim.driver.wait_action(sim.driver.live_migrate("project-1-vm-1"), WAIT)
    assert result.status is ActionStatus.FAILED and "fail_rate" in result.error


def test_unknown_fault_kind_is_a_bad_request(sim):
    response = requests.post(f"{sim.url}/v1/faults", json={"kind": "reboot"}, timeout=5)
    assert response.status_code == 400
    assert "Unknown fault kind" in response.json()["error"]["message"]


# -- scale out / in ----------------------------------------------------------------------------


def test_create_instance_takes_the_next_name_and_the_roomiest_host(sim):
    driver = sim.driver
    created = driver.create_instance("project-1")
    assert created.instance_id == "project-1-vm-5" and created.project_id == "project-1"
    assert created.host == "compute-1"  # every host has 1 free; ties go by name
    pinned = driver.create_instance("project-2", host="compute-4")
    assert pinned.instance_id == "project-2-vm-5" and pinned.host == "compute-4"
    assert len(driver.list_instances()) == 10


def test_create_instance_fails_when_no_host_has_room(sim):
    driver = sim.driver
    hosts = {driver.create_instance("project-1").host for _ in range(4)}
    assert hosts == {"compute-1", "compute-2", "compute-3", "compute-4"}
    with pytest.raises(DriverError, match="No valid host was found"):
        driver.create_instance("project-1")


def test_delete_instance_is_recorded_as_deleted_not_downtime(sim):
    driver = sim.driver
    driver.delete_instance("project-1-vm-4")
    assert "project-1-vm-4" not in {i.instance_id for i in driver.list_instances()}
    entry = driver.report()["instances"]["project-1-vm-4"]
    assert entry["fate"] == "deleted" and entry["downtime_seconds"] == 0
    # Names are never reused: a scale out after the scale in takes vm-5.
    assert driver.create_instance("project-1").instance_id == "project-1-vm-5"
    with pytest.raises(UnknownInstanceError):
        driver.delete_instance("project-1-vm-4")


# -- errors ------------------------------------------------------------------------------------


def test_unknown_host_raises_unknown_host_error(sim):
    with pytest.raises(UnknownHostError, match="compute-99"):
        sim.driver.disable_host("compute-99", "x")
    with pytest.raises(UnknownHostError):
        sim.driver.enable_host("compute-99")
    with pytest.raises(UnknownHostError):
        sim.driver.maintain_host("compute-99")
    with pytest.raises(UnknownHostError):
        sim.driver.list_instances(host="compute-99")


def test_unknown_instance_raises_unknown_instance_error(sim):
    for call in (sim.driver.migrate, sim.driver.live_migrate, sim.driver.evict):
        with pytest.raises(UnknownInstanceError, match="project-1-vm-99"):
            call("project-1-vm-99")


def test_unknown_names_are_404_with_a_json_error_over_http(sim):
    response = requests.post(f"{sim.url}/v1/hosts/nope/disable", json={}, timeout=5)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": 404,
        "title": "HostNotFound",
        "message": "Compute host nope could not be found.",
    }
    response = requests.post(f"{sim.url}/v1/instances/nope/evict", timeout=5)
    assert response.status_code == 404
    assert response.json()["error"]["title"] == "InstanceNotFound"
    response = requests.get(f"{sim.url}/v1/no-such-route", timeout=5)
    assert response.status_code == 404 and "error" in response.json()


def test_unknown_action_and_bad_wait_are_errors(sim):
    with pytest.raises(DriverError, match="could not be found"):
        sim.driver.wait_action("no-such-action", 0)
    action = sim.driver.live_migrate("project-1-vm-1")
    response = requests.get(f"{sim.url}/v1/actions/{action}?wait=soon", timeout=5)
    assert response.status_code == 400


def test_unreachable_cloud_is_a_driver_error():
    driver = SimulatedDriver("http://127.0.0.1:9", timeout=1.0)
    with pytest.raises(DriverError, match="unreachable"):
        driver.list_hosts()
    driver.close()


def test_concurrent_callers_see_a_consistent_cloud(make_sim):
    sim = make_sim(hosts=6, projects=3, instances=6, live_migrate_seconds=0.02)
    errors: list[BaseException] = []
    statuses: list[ActionStatus] = []

    def churn(project: str) -> None:
        driver = SimulatedDriver(sim.url)
        try:
            for instance in driver.list_instances(project_id=project):
                result = driver.wait_action(driver.live_migrate(instance.instance_id), WAIT)
                statuses.append(result.status)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            driver.close()

    threads = [threading.Thread(target=churn, args=(f"project-{p}",)) for p in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert statuses == [ActionStatus.DONE] * 18
    hosts = sim.driver.list_hosts()
    assert sum(h.details["used"] for h in hosts) == 18
    assert all(h.details["used"] <= h.capacity and h.details["reserved"] == 0 for h in hosts)
