"""Hosts, instances and server groups, read and changed through the driver over real HTTP."""

from __future__ import annotations

import os

import openstack
import pytest
import yaml

from fenix.drivers.base import DriverError, HostKind, UnknownHostError
from fenix.drivers.openstack import OpenStackDriver
from fenix.simulators.openstack import clouds_yaml_entry
from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS
from tests.controller.simulators.openstack.fixtures import connect

pytestmark = OPENSTACKSDK_MARKS


@pytest.fixture
def clouds_yaml(tmp_path, monkeypatch):
    """Point openstacksdk at a clouds.yaml of our own, with no OS_* variable around."""
    for name in [n for n in os.environ if n.startswith("OS_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "clouds.yaml"
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return path


def _compute_service(cloud, host):
    (service,) = cloud.connection.compute.services(host=host, binary="nova-compute")
    return service


def test_list_hosts_reports_computes_with_their_vcpus_and_controllers(cloud):
    hosts = {h.name: h for h in cloud.driver.list_hosts()}

    assert sorted(hosts) == ["compute-0", "compute-1", "compute-2", "controller-0"]
    assert [hosts[f"compute-{n}"].kind for n in range(3)] == [HostKind.COMPUTE] * 3
    assert all(hosts[f"compute-{n}"].capacity == 4 for n in range(3))
    assert hosts["compute-0"].details["vcpus_used"] == 4  # web-0, db-0 (2), app-0
    assert hosts["controller-0"].kind == HostKind.CONTROLLER
    assert hosts["controller-0"].details["services"] == ["nova-conductor", "nova-scheduler"]
    assert all(h.enabled for h in hosts.values())


def test_list_instances_covers_every_project_with_flavor_vcpus_as_size(cloud):
    instances = {i.name: i for i in cloud.driver.list_instances()}

    assert sorted(instances) == ["app-0", "db-0", "web-0", "web-1"]
    assert instances["db-0"].size == 2
    assert instances["web-0"].size == 1
    assert instances["app-0"].project_id == "project-b"
    assert instances["web-1"].host == "compute-1"
    assert instances["web-1"].state == "ACTIVE"


def test_list_instances_filters_by_host_and_by_project(cloud):
    on_0 = cloud.driver.list_instances(host="compute-0")
    ours_on_0 = cloud.driver.list_instances(host="compute-0", project_id="project-a")

    assert sorted(i.name for i in on_0) == ["app-0", "db-0", "web-0"]
    assert sorted(i.name for i in ours_on_0) == ["db-0", "web-0"]
    assert cloud.driver.list_instances(host="compute-2") == []


def test_disable_host_puts_the_reason_on_the_nova_compute_service(cloud):
    cloud.driver.disable_host("compute-1", "fenix maintenance session s-1")

    service = _compute_service(cloud, "compute-1")
    assert service.status == "disabled"
    assert service.disabled_reason == "fenix maintenance session s-1"
    host = next(h for h in cloud.driver.list_hosts() if h.name == "compute-1")
    assert host.enabled is False
    assert host.details["disabled_reason"] == "fenix maintenance session s-1"


def test_enable_host_puts_it_back_and_clears_the_reason(cloud):
    cloud.driver.disable_host("compute-1", "maintenance")
    cloud.driver.enable_host("compute-1")

    service = _compute_service(cloud, "compute-1")
    assert service.status == "enabled"
    assert service.disabled_reason is None


def test_disable_host_before_microversion_2_53_uses_disable_log_reason(make_cloud):
    cloud = make_cloud(max_microversion="2.52")

    cloud.driver.disable_host("compute-2", "old nova")

    service = _compute_service(cloud, "compute-2")
    assert isinstance(service.id, int)  # ids became UUIDs in 2.53
    assert (service.status, service.disabled_reason) == ("disabled", "old nova")
    cloud.driver.enable_host("compute-2")
    assert _compute_service(cloud, "compute-2").status == "enabled"


def test_disable_unknown_host_names_the_known_hosts(cloud):
    with pytest.raises(UnknownHostError, match="no service on host compute-9.*compute-0"):
        cloud.driver.disable_host("compute-9", "maintenance")


def test_disabling_a_controller_leaves_its_services_alone(cloud):
    cloud.driver.disable_host("controller-0", "maintenance")

    services = cloud.connection.compute.services(host="controller-0")
    assert {s.status for s in services} == {"enabled"}


def test_older_nova_without_embedded_flavors_still_reports_sizes(make_cloud):
    cloud = make_cloud(max_microversion="2.46")

    instances = {i.name: i for i in cloud.driver.list_instances()}

    assert instances["db-0"].size == 2
    assert instances["db-0"].details["flavor"] == "m1.medium"
    assert {h.capacity for h in cloud.driver.list_hosts() if h.kind == HostKind.COMPUTE} == {4}


def test_capacity_is_read_where_hypervisors_still_show_vcpus(make_cloud):
    cloud = make_cloud(max_microversion="2.95")

    computes = [h for h in cloud.driver.list_hosts() if h.kind == HostKind.COMPUTE]

    assert [h.capacity for h in computes] == [4, 4, 4]


def test_server_groups_lists_groups_of_every_project_with_their_members(cloud):
    (group,) = cloud.driver.server_groups()

    assert group["group_id"] == cloud.group_id
    assert group["name"] == "web"
    assert group["policy"] == "anti-affinity"
    assert group["policies"] == ["anti-affinity"]
    assert group["project_id"] == "project-a"
    assert sorted(group["members"]) == sorted([cloud.servers["web-0"], cloud.servers["web-1"]])


def test_server_groups_before_2_64_come_with_policies(make_cloud):
    cloud = make_cloud(max_microversion="2.63")

    (group,) = cloud.driver.server_groups()

    assert group["policy"] == "anti-affinity"
    assert group["policies"] == ["anti-affinity"]


def test_driver_connects_by_cloud_name_from_clouds_yaml(cloud, clouds_yaml):
    entry = clouds_yaml_entry(cloud.sim, cloud.url)
    clouds_yaml.write_text(yaml.safe_dump({"clouds": {"sim": entry}}))

    driver = OpenStackDriver(cloud="sim", region="RegionOne")
    try:
        assert len(driver.list_instances()) == 4
    finally:
        driver.close()


def test_unknown_cloud_name_says_where_clouds_come_from(clouds_yaml):
    clouds_yaml.write_text("clouds: {}\n")

    with pytest.raises(DriverError, match="clouds.yaml"):
        OpenStackDriver(cloud="nowhere")


def test_wrong_password_is_a_driver_error(cloud):
    connection = connect(cloud.sim, cloud.url, password="wrong")
    driver = OpenStackDriver(connection=connection)
    try:
        with pytest.raises(DriverError):
            driver.list_hosts()
    finally:
        connection.close()


def test_injected_connection_is_left_to_its_owner(cloud):
    cloud.driver.close()

    assert isinstance(cloud.connection, openstack.connection.Connection)
    assert len(list(cloud.connection.compute.servers(all_projects=True))) == 4
