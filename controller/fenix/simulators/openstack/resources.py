"""Nova's records as the simulator keeps them: services, hypervisors, flavors, servers, server
groups, migrations and instance actions (views.py turns them into API bodies)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass
class Service:
    host: str
    binary: str
    zone: str
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    number: int = 0
    status: str = "enabled"
    disabled_reason: str | None = None
    forced_down: bool = False
    up: bool = True
    updated_at: str = field(default_factory=now_iso)


@dataclass
class Aggregate:
    """A host aggregate; one with an availability zone makes its hosts' zone (as nova does)."""

    name: str
    number: int
    availability_zone: str | None = None
    hosts: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now_iso)


@dataclass
class Hypervisor:
    host: str
    vcpus: int
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    number: int = 0


@dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int


@dataclass
class Server:
    id: str
    name: str
    project_id: str
    user_id: str
    flavor: Flavor
    host: str | None
    zone: str
    number: int
    vm_state: str = "active"
    task_state: str | None = None
    fault: dict | None = None
    moving_to: str | None = None
    """Destination holding a claim while a move runs."""
    holding: str | None = None
    """Source still holding a claim until a cold migration is confirmed."""
    group_id: str | None = None
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)


@dataclass
class Migration:
    number: int
    instance_uuid: str
    source: str
    dest: str
    migration_type: str
    status: str
    project_id: str
    user_id: str
    flavor_number: int
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class InstanceAction:
    request_id: str
    instance_uuid: str
    action: str
    project_id: str
    user_id: str
    start_time: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    message: str | None = None
    events: list[dict] = field(default_factory=list)


@dataclass
class ServerGroup:
    id: str
    name: str
    policy: str
    project_id: str
    user_id: str
    members: list[str] = field(default_factory=list)
