"""The cloud driver interface: everything the engine needs from a cloud, and nothing more.

Workflows speak only to this interface, so the same workflow runs on the simulated cloud, on
OpenStack (openstacksdk) and on Kubernetes (the kubernetes client). Every call is synchronous
except the moves, which return an action id to wait on, so a workflow can start many moves and
then wait for them together.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field


class HostKind(enum.StrEnum):
    COMPUTE = "compute"
    CONTROLLER = "controller"


class ActionStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


@dataclass(frozen=True)
class HostInfo:
    name: str
    kind: HostKind
    enabled: bool
    capacity: int
    """How many instance units (vCPUs, pods) the host can hold."""
    details: dict = field(default_factory=dict)
    zone: str | None = None
    """The failure domain the host is in (an OpenStack availability zone, a Kubernetes
    node's topology.kubernetes.io/zone); None when the cloud names none. A session's
    max_hosts_per_zone counts hosts out of service per zone."""


@dataclass(frozen=True)
class InstanceInfo:
    instance_id: str
    name: str
    project_id: str
    host: str
    size: int = 1
    """Units of host capacity the instance takes (vCPUs, pods)."""
    state: str = "ACTIVE"
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ActionResult:
    action_id: str
    status: ActionStatus
    instance_id: str
    host: str | None = None
    """Where the instance ended up (for a move)."""
    error: str | None = None
    target_refused: bool = False
    """The move failed because its target could not take the instance (no room, out of
    service): it did not move, and another target may do (Nova's NoValidHost)."""


class DriverError(Exception):
    """A cloud call failed; the message is the cloud's own where it gave one."""


class UnknownHostError(DriverError):
    pass


class UnknownInstanceError(DriverError):
    pass


class CloudDriver(abc.ABC):
    """What a workflow may ask of a cloud."""

    name: str = "abstract"

    @abc.abstractmethod
    def list_hosts(self) -> list[HostInfo]:
        """Every host the cloud has, enabled or not."""

    def get_host(self, host: str) -> HostInfo:
        """One host as list_hosts shows it; drivers whose cloud can read one host alone do."""
        for info in self.list_hosts():
            if info.name == host:
                return info
        raise UnknownHostError(f"the cloud has no host {host!r}")

    @abc.abstractmethod
    def disable_host(self, host: str, reason: str) -> None:
        """Stop scheduling new instances onto the host (nova service disable, k8s cordon)."""

    @abc.abstractmethod
    def enable_host(self, host: str) -> None:
        """Put the host back into service."""

    @abc.abstractmethod
    def list_instances(
        self, host: str | None = None, project_id: str | None = None
    ) -> list[InstanceInfo]:
        """Instances, optionally only those on one host and/or of one project."""

    @abc.abstractmethod
    def migrate(self, instance_id: str, target_host: str | None = None) -> str:
        """Start a cold migration; returns an action id for wait_action."""

    @abc.abstractmethod
    def live_migrate(self, instance_id: str, target_host: str | None = None) -> str:
        """Start a live migration; returns an action id for wait_action."""

    @abc.abstractmethod
    def evict(self, instance_id: str) -> str:
        """Remove the instance from its host for good (its manager re-creates it elsewhere)."""

    @abc.abstractmethod
    def wait_action(self, action_id: str, timeout: float) -> ActionResult:
        """Block until the action ends or the timeout passes (then status is RUNNING)."""

    def maintain_host(self, host: str) -> None:  # noqa: B027 - optional hook
        """The cloud's own part of maintaining a host, for clouds that simulate it.

        Real clouds leave this to the action plug-ins (playbooks), so the default does nothing.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
