"""What the planner is given of the cloud, read through the driver's read-only calls.

The vnf workflow (fenix.workflows.parallel) builds its snapshots on these hosts and instances;
a plan preview (fenix.workflows.preview) reads them the same way, before any session exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fenix.db.repository import Repository
from fenix.drivers.base import CloudDriver, HostKind, InstanceInfo
from fenix.notify import notifier
from fenix.planner.cloud import Host, Instance


def read_hosts(driver: CloudDriver, ours: Mapping[str, tuple[str | None, int]]) -> list[Host]:
    """Every host of the cloud; `ours`: the session's hosts, name -> (state, position). Hosts
    outside the session have no state and come after its hosts."""
    hosts = []
    for info in driver.list_hosts():
        state, position = ours.get(info.name, (None, len(ours)))
        hosts.append(
            Host(
                name=info.name,
                capacity=info.capacity,
                compute=info.kind == HostKind.COMPUTE,
                enabled=info.enabled,
                state=state,
                position=position,
                zone=info.zone,
            )
        )
    return hosts


def planner_instance(info: InstanceInfo) -> Instance:
    return Instance(info.instance_id, info.project_id, info.host, info.size)


def read_instances(driver: CloudDriver) -> list[Instance]:
    return [planner_instance(info) for info in driver.list_instances()]


def read_managers(repo: Repository, project_ids: Iterable[str]) -> dict[str, bool]:
    """Whether each project has a manager that will answer (fenix.notify.notifier)."""
    return {project_id: notifier.has_manager(repo, project_id) for project_id in project_ids}
