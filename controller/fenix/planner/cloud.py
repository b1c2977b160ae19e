"""The cloud as the planner sees it: hosts, instances, and what each host holds and expects.

A Cluster keeps what is used and reserved on each host and where each group's members are, as
instances come, go and are given targets. The executor keeps one up to date with what the cloud
and its own moves say; a snapshot carries a still picture of it (Cloud), from which the planner
thaws a working copy to try its decisions on. Both are copies of dictionaries, so a snapshot of
a cloud of thousands of instances costs little.

Placing: an instance goes to a maintained host first, then a host outside the session; a host
still due for maintenance only when the caller allows it, the one due last first. Within a
rank the best fit wins, so that whole hosts stay free for the next host's instances.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from fenix.planner.rules import Rules
from fenix.states import HostState

RANK_MAINTAINED, RANK_OUTSIDE, RANK_DUE = 0, 1, 2
IN_PROGRESS = (HostState.PREPARING, HostState.IN_MAINTENANCE)


def target_rank(state: str | None, *, allow_due: bool) -> int | None:
    """How good a host in this state is as a target, lowest first: maintained, outside the
    session, still due (only when allowed); None: no target (being emptied or maintained)."""
    if state == HostState.MAINTENANCE_COMPLETE:
        return RANK_MAINTAINED
    if state is None:
        return RANK_OUTSIDE
    if state == HostState.PENDING and allow_due:
        return RANK_DUE
    return None


@dataclass(frozen=True)
class Host:
    name: str
    capacity: int
    compute: bool = True
    enabled: bool = True
    state: str | None = None
    """The session's state of the host; None for a host outside the session."""
    position: int = 0
    zone: str | None = None
    """Its failure domain (availability zone, topology.kubernetes.io/zone); None: none."""


@dataclass(frozen=True)
class Instance:
    instance_id: str
    project_id: str
    host: str | None
    size: int = 1
    target: str | None = None
    """Where a planned or running move takes it: its room there is reserved."""


@dataclass(frozen=True)
class Cloud:
    """A still picture of a Cluster (see Cluster.freeze); nobody changes it."""

    hosts: Mapping[str, Host]
    instances: Mapping[str, Instance]
    used: Mapping[str, int]
    reserved: Mapping[str, int]
    members: Mapping[tuple[str, str], int]
    on: Mapping[str, frozenset[str]]
    version: int


class Cluster:
    """Hosts and instances with what is used, reserved and where each group's members are.

    `version` changes with every change, so a caller can tell that nothing changed since it
    last found no host to start.
    """

    def __init__(self, hosts: Iterable[Host], instances: Iterable[Instance], rules: Rules):
        self.hosts = {h.name: h for h in hosts}
        self.instances = {i.instance_id: i for i in instances}
        self.rules = rules
        self.version = 0
        self._rebuild()

    @classmethod
    def thaw(cls, cloud: Cloud, rules: Rules) -> Cluster:
        """A working copy of a still picture, to try changes on."""
        cluster = cls.__new__(cls)
        cluster.hosts = dict(cloud.hosts)
        cluster.instances = dict(cloud.instances)
        cluster.rules = rules
        cluster.version = cloud.version
        cluster._used = Counter(cloud.used)
        cluster._reserved = Counter(cloud.reserved)
        cluster._members = Counter(cloud.members)
        cluster._on = dict(cloud.on)
        return cluster

    def freeze(self) -> Cloud:
        return Cloud(
            hosts=dict(self.hosts),
            instances=dict(self.instances),
            used=dict(self._used),
            reserved=dict(self._reserved),
            members=dict(self._members),
            on=dict(self._on),
            version=self.version,
        )

    # -- bookkeeping ---------------------------------------------------------------------
    def _rebuild(self) -> None:
        self.version += 1
        self._used: Counter[str] = Counter()
        self._reserved: Counter[str] = Counter()
        self._members: Counter[tuple[str, str]] = Counter()
        self._on: dict[str, frozenset[str]] = {}
        for instance in self.instances.values():
            self._count(instance, 1)

    def _count(self, instance: Instance, sign: int) -> None:
        self.version += 1
        group = self.rules.of(instance.instance_id).group_id
        if instance.host is not None:
            self._used[instance.host] += sign * instance.size
            self._members[(instance.host, group)] += sign
            on = self._on.get(instance.host, frozenset())
            if sign > 0:
                self._on[instance.host] = on | {instance.instance_id}
            else:
                self._on[instance.host] = on - {instance.instance_id}
        if instance.target is not None:
            self._reserved[instance.target] += sign * instance.size
            self._members[(instance.target, group)] += sign

    def set_rules(self, rules: Rules) -> None:
        self.rules = rules
        self._rebuild()

    def put(self, instance: Instance) -> None:
        """Add an instance, or replace what is known of it."""
        old = self.instances.get(instance.instance_id)
        if old is not None:
            self._count(old, -1)
        self.instances[instance.instance_id] = instance
        self._count(instance, 1)

    def update(self, instance_id: str, **fields) -> None:
        """Change an instance's host or target (None to clear)."""
        old = self.instances[instance_id]
        self._count(old, -1)
        new = self.instances[instance_id] = replace(old, **fields)
        self._count(new, 1)

    def remove(self, instance_id: str) -> None:
        instance = self.instances.pop(instance_id, None)
        if instance is not None:
            self._count(instance, -1)

    def set_host_state(self, host: str, state: str | None) -> None:
        """This session's state of one of its hosts (out of service while in progress)."""
        known = self.hosts[host]
        enabled = known.enabled
        if state in IN_PROGRESS:
            enabled = False
        elif state == HostState.MAINTENANCE_COMPLETE:
            enabled = True
        self.hosts[host] = replace(known, state=state, enabled=enabled)
        self.version += 1

    def set_host_service(self, host: str, enabled: bool, capacity: int) -> None:
        """What the cloud says of a host (another session may have taken it)."""
        known = self.hosts[host]
        if (known.enabled, known.capacity) != (enabled, capacity):
            self.hosts[host] = replace(known, enabled=enabled, capacity=capacity)
            self.version += 1

    # -- reading -------------------------------------------------------------------------
    def on(self, host: str) -> list[Instance]:
        return [self.instances[i] for i in sorted(self._on.get(host, ()))]

    def members(self, host: str) -> frozenset[str]:
        """The ids of the instances on the host (a new set whenever they change)."""
        return self._on.get(host, frozenset())

    def used(self, host: str) -> int:
        """Units the instances on the host take."""
        return self._used[host]

    def free(self, host: str) -> int:
        return self.hosts[host].capacity - self._used[host] - self._reserved[host]

    def reserved(self, host: str) -> int:
        """Room held on the host for instances on their way to it."""
        return self._reserved[host]

    def members_on(self, host: str, group_id: str) -> int:
        """Members of the group on the host, or on their way to it."""
        return self._members[(host, group_id)]

    def started(self, host: str) -> bool:
        """Out of service for this session: being emptied or maintained."""
        return self.hosts[host].state in IN_PROGRESS

    def in_progress(self) -> set[str]:
        return {h.name for h in self.hosts.values() if h.state in IN_PROGRESS}

    def zone_has_room(self, host: str, limit: int | None) -> bool:
        """Whether one more of the session's hosts may go out of service in `host`'s zone:
        fewer than `limit` of its hosts there are in progress (no limit, or no zone: yes)."""
        zone = self.hosts[host].zone
        if limit is None or zone is None:
            return True
        out = sum(1 for h in self.hosts.values() if h.zone == zone and h.state in IN_PROGRESS)
        return out < limit

    def room(self, *, allow_due: bool) -> int:
        """Free room on the hosts that may take instances (see place())."""
        return sum(
            max(self.free(host.name), 0)
            for host in self.hosts.values()
            if host.compute
            and host.enabled
            and target_rank(host.state, allow_due=allow_due) is not None
        )

    # -- placing -------------------------------------------------------------------------
    def place(
        self,
        instance_ids: list[str],
        *,
        exclude: set[str],
        allow_due: bool,
        due_order: dict[str, int] | None = None,
    ) -> dict[str, str] | None:
        """A target for each instance, or None if one of them has nowhere to go.

        `due_order` ranks the hosts still due (0: next); of those, the one due last is used
        first, so an instance put there stays as long as possible.
        """
        due_order = due_order or {}
        targets: list[tuple[int, int, int, str]] = []
        for host in self.hosts.values():
            if not (host.compute and host.enabled) or host.name in exclude:
                continue
            rank = target_rank(host.state, allow_due=allow_due)
            if rank is None:
                continue
            later = -due_order.get(host.name, len(due_order)) if rank == RANK_DUE else 0
            targets.append((rank, later, host.position, host.name))
        targets.sort()
        room = {name: self.free(name) for *_, name in targets}
        arriving: Counter[tuple[str, str]] = Counter()
        plan: dict[str, str] = {}

        def most_constrained_first(instance_id: str) -> tuple[bool, int]:
            limit = self.rules.group_of(instance_id).per_host_limit
            return (limit is None, -self.instances[instance_id].size)

        for instance_id in sorted(instance_ids, key=most_constrained_first):
            instance = self.instances[instance_id]
            group = self.rules.group_of(instance_id)
            limit = group.per_host_limit
            best: tuple[tuple, str] | None = None
            for rank, later, position, name in targets:
                left = room[name] - instance.size
                if left < 0:
                    continue
                if limit is not None:
                    present = self.members_on(name, group.group_id)
                    if present + arriving[(name, group.group_id)] >= limit:
                        continue
                # Best fit within a rank keeps whole hosts free for the next host's instances.
                key = (rank, later, left, position)
                if best is None or key < best[0]:
                    best = (key, name)
            if best is None:
                return None
            target = best[1]
            plan[instance_id] = target
            room[target] -= instance.size
            arriving[(target, group.group_id)] += 1
        return plan
