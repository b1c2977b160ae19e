"""Each host's availability zone, as nova derives it from the aggregates, through the driver
(the real openstacksdk over HTTP against the simulated Nova)."""

from __future__ import annotations

from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS

pytestmark = OPENSTACKSDK_MARKS


def test_a_host_in_an_availability_zones_aggregate_is_in_that_zone(cloud):
    cloud.sim.add_aggregate("rack-a", ["compute-0", "compute-1"], availability_zone="az-a")
    cloud.sim.add_aggregate("ssd", ["compute-1"], metadata={"disk": "ssd"})  # no zone of its own

    hosts = {h.name: h for h in cloud.driver.list_hosts()}

    assert hosts["compute-0"].zone == "az-a"
    assert hosts["compute-1"].zone == "az-a"
    assert hosts["compute-2"].zone == "nova"  # nova's default zone, as nova reports it
    assert hosts["controller-0"].zone is None


def test_the_aggregates_are_served_as_nova_serves_them(cloud):
    cloud.sim.add_aggregate("rack-a", ["compute-0"], availability_zone="az-a")
    cloud.sim.add_aggregate("ssd", ["compute-1"], metadata={"disk": "ssd"})

    aggregates = {a.name: a for a in cloud.connection.compute.aggregates()}

    assert aggregates["rack-a"].availability_zone == "az-a"
    assert aggregates["rack-a"].hosts == ["compute-0"]
    assert aggregates["rack-a"].metadata == {"availability_zone": "az-a"}
    assert aggregates["ssd"].availability_zone is None
    assert aggregates["ssd"].metadata == {"disk": "ssd"}
    services = cloud.connection.compute.services(binary="nova-compute")
    zones = {s.host: s.availability_zone for s in services}
    assert zones == {"compute-0": "az-a", "compute-1": "nova", "compute-2": "nova"}
