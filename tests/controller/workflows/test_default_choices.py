"""The default workflow's choice of the host to empty first: the cheapest, from one listing."""

from __future__ import annotations

from types import SimpleNamespace

from fenix.drivers.base import InstanceInfo
from fenix.workflows.default import DefaultWorkflow


class CountingCloud:
    """Just enough of a driver: instances on hosts, and how often it was asked for them."""

    def __init__(self, placement: dict[str, list[int]]) -> None:
        self.instances = [
            InstanceInfo(
                instance_id=f"{host}-vm-{n}",
                name=f"{host}-vm-{n}",
                project_id="project-1",
                host=host,
                size=size,
            )
            for host, sizes in placement.items()
            for n, size in enumerate(sizes)
        ]
        self.listings = 0

    def list_instances(self, host=None, project_id=None):
        self.listings += 1
        return [i for i in self.instances if host is None or i.host == host]


def _workflow(cloud: CountingCloud, unmaintained: list[str]) -> DefaultWorkflow:
    workflow = DefaultWorkflow.__new__(DefaultWorkflow)  # no session: only the choice is tested
    workflow.ctx = SimpleNamespace(driver=cloud)
    workflow.unmaintained_hosts = lambda: list(unmaintained)
    return workflow


def test_the_host_to_empty_is_chosen_from_one_listing_of_the_cloud_whatever_the_hosts():
    hosts = [f"compute-{n}" for n in range(1, 201)]
    cloud = CountingCloud({host: [1, 1, 1] for host in hosts} | {"compute-150": [2]})

    assert _workflow(cloud, hosts)._cheapest_host_to_empty() == "compute-150"
    assert cloud.listings == 1


def test_on_a_tie_the_first_host_in_session_order_is_emptied_and_an_empty_one_wins():
    cloud = CountingCloud({"compute-1": [2], "compute-2": [1, 1], "compute-3": [2]})
    assert _workflow(cloud, ["compute-3", "compute-1", "compute-2"])._cheapest_host_to_empty() == (
        "compute-3"
    )
    assert _workflow(cloud, ["compute-1", "compute-4"])._cheapest_host_to_empty() == "compute-4"


class CountingReads:
    """The session's instance rows as `instances()` gives them, and how often it was called."""

    def __init__(self, hosts_of_instances: list[str]) -> None:
        self.rows = [SimpleNamespace(host=host) for host in hosts_of_instances]
        self.reads = 0

    def __call__(self, host=None):
        self.reads += 1
        return [row for row in self.rows if host is None or row.host == host]


def test_an_empty_host_is_found_from_one_read_of_the_instances_whatever_the_hosts():
    hosts = [f"compute-{n}" for n in range(1, 201)]
    workflow = _workflow(CountingCloud({}), hosts)
    workflow.instances = reads = CountingReads([h for h in hosts if h != "compute-200"] * 3)

    assert workflow._next_for_capacity(scaled_in=False) == "START_MAINTENANCE"
    assert reads.reads == 1


def test_start_maintenance_maintains_every_empty_host_and_only_those_from_one_read():
    hosts = [f"compute-{n}" for n in range(1, 201)]
    empty = {"compute-7", "compute-150"}
    workflow = _workflow(CountingCloud({}), hosts)
    workflow.instances = reads = CountingReads([h for h in hosts if h not in empty])
    workflow.cursor = lambda: {"pre_done": True}
    workflow.sync_instances = lambda: None
    workflow.check_deleted = lambda: None  # a safe point per host; nobody deletes it here
    maintained: list[str] = []
    workflow.maintain = maintained.append
    workflow.transition = lambda state: None
    workflow._may_start = workflow._healthy_after = lambda host: True  # no hold, no gate

    workflow.on_start_maintenance()

    assert maintained == ["compute-7", "compute-150"]
    assert reads.reads == 1
