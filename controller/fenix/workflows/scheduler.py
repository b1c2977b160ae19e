"""Where each instance goes and which host goes next: the vnf workflow's plan, without I/O.

The workflow (fenix.workflows.vnf) tells it what the cloud and the database say and carries
out its choices. Three rules shape the plan:

- Capacity: a host is taken out of service only when every instance on it has a place to go
  (room, anti-affinity, max_instances_per_host, counting the moves already planned). Places are
  chosen among maintained hosts first, then hosts outside the session; a host still due for
  maintenance is used only while no maintained host can come (at the start of the session, or
  when nothing else is in progress), the one due last first. So an instance moves once, and
  only those moved before the first host came back move twice.
- Impact: a group never has more than max_impacted_members members impacted. A member is
  impacted from the start of its move (or from its notice, when its manager may act on the
  notice itself) until recovery_time after it is back.
- Order: of the hosts that could go next, the one whose instances can all be moved soonest;
  among those, the one with members of the groups that have the longest chain of moves still
  ahead, so that slow groups are never left for the end.

Times are wall-clock seconds (time.time()); durations are seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fenix.engine.states import HostState
from fenix.workflows.constraints import GroupRule, Rules

RANK_MAINTAINED, RANK_OUTSIDE, RANK_DUE = 0, 1, 2


@dataclass
class Host:
    name: str
    capacity: int
    compute: bool = True
    enabled: bool = True
    state: str | None = None
    """The session's state of the host; None for a host outside the session."""
    position: int = 0


@dataclass
class Instance:
    instance_id: str
    project_id: str
    host: str | None
    size: int = 1
    target: str | None = None
    """Where a planned or running move takes it: its room there is reserved."""


class Cluster:
    """Hosts and instances with what is used, reserved and where each group's members are.

    `version` changes with every change, so a caller can tell that nothing changed since it
    last found no host to start.
    """

    def __init__(self, hosts: Iterable[Host], instances: Iterable[Instance], rules: Rules):
        self.hosts = {h.name: h for h in hosts}
        self.instances = {i.instance_id: i for i in instances}
        self.rules = rules
        self._rebuild()

    # -- bookkeeping ---------------------------------------------------------------------
    def _rebuild(self) -> None:
        self.version = getattr(self, "version", 0) + 1
        self._used: Counter[str] = Counter()
        self._reserved: Counter[str] = Counter()
        self._members: Counter[tuple[str, str]] = Counter()
        self._on: dict[str, set[str]] = {}
        for instance in self.instances.values():
            self._count(instance, 1)

    def _count(self, instance: Instance, sign: int) -> None:
        self.version += 1
        group = self.rules.of(instance.instance_id).group_id
        if instance.host is not None:
            self._used[instance.host] += sign * instance.size
            self._members[(instance.host, group)] += sign
            on = self._on.setdefault(instance.host, set())
            if sign > 0:
                on.add(instance.instance_id)
            else:
                on.discard(instance.instance_id)
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
        instance = self.instances[instance_id]
        self._count(instance, -1)
        for name, value in fields.items():
            setattr(instance, name, value)
        self._count(instance, 1)

    def remove(self, instance_id: str) -> None:
        instance = self.instances.pop(instance_id, None)
        if instance is not None:
            self._count(instance, -1)

    def set_host_state(self, host: str, state: str | None) -> None:
        """This session's state of one of its hosts (out of service while in progress)."""
        self.hosts[host].state = state
        if state in (HostState.PREPARING, HostState.IN_MAINTENANCE):
            self.hosts[host].enabled = False
        elif state == HostState.MAINTENANCE_COMPLETE:
            self.hosts[host].enabled = True
        self.version += 1

    def set_host_service(self, host: str, enabled: bool, capacity: int) -> None:
        """What the cloud says of a host (another session may have taken it)."""
        known = self.hosts[host]
        if (known.enabled, known.capacity) != (enabled, capacity):
            known.enabled, known.capacity = enabled, capacity
            self.version += 1

    # -- reading -------------------------------------------------------------------------
    def on(self, host: str) -> list[Instance]:
        return [self.instances[i] for i in sorted(self._on.get(host, ()))]

    def free(self, host: str) -> int:
        return self.hosts[host].capacity - self._used[host] - self._reserved[host]

    def reserved(self, host: str) -> int:
        """Room held on the host for instances on their way to it."""
        return self._reserved[host]

    def members_on(self, host: str, group_id: str) -> int:
        """Members of the group on the host, or on their way to it."""
        return self._members[(host, group_id)]

    def room(self, *, allow_due: bool) -> int:
        """Free room on the hosts that may take instances (see place())."""
        return sum(
            max(self.free(host.name), 0)
            for host in self.hosts.values()
            if host.compute
            and host.enabled
            and (
                host.state in (None, HostState.MAINTENANCE_COMPLETE)
                or (allow_due and host.state == HostState.PENDING)
            )
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
            if host.state == HostState.MAINTENANCE_COMPLETE:
                rank = RANK_MAINTAINED
            elif host.state is None:
                rank = RANK_OUTSIDE
            elif host.state == HostState.PENDING and allow_due:
                rank = RANK_DUE
            else:
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


@dataclass
class Impact:
    instance_id: str
    start: float
    recovery: float
    end: float | None = None
    """When the instance was back; it stays impacted for `recovery` seconds more."""

    def active(self, now: float) -> bool:
        return self.end is None or now < self.end + self.recovery


@dataclass
class ImpactLedger:
    """Which members of each group are impacted now, and until when."""

    _groups: dict[str, dict[str, Impact]] = field(default_factory=dict)

    def begin(self, group_id: str, instance_id: str, start: float, recovery: float) -> None:
        self._groups.setdefault(group_id, {})[instance_id] = Impact(instance_id, start, recovery)

    def end(self, group_id: str, instance_id: str, at: float) -> None:
        impact = self._groups.get(group_id, {}).get(instance_id)
        if impact is not None and impact.end is None:
            impact.end = at

    def impacted(self, group_id: str, now: float) -> int:
        impacts = self._groups.get(group_id, {})
        for instance_id in [i for i, imp in impacts.items() if not imp.active(now)]:
            del impacts[instance_id]
        return len(impacts)

    def admits(self, group: GroupRule, now: float) -> bool:
        if group.max_impacted is None:
            return True
        return self.impacted(group.group_id, now) < group.max_impacted

    def next_release(self, now: float) -> float | None:
        """The next moment a recovering member stops counting, for the workflow's timer."""
        ends = [
            imp.end + imp.recovery
            for impacts in self._groups.values()
            for imp in impacts.values()
            if imp.end is not None and imp.end + imp.recovery > now
        ]
        return min(ends, default=None)

    def free_at(self, group: GroupRule, now: float, ahead: int, move_seconds: float) -> float:
        """When one more member could be impacted, with `ahead` members waiting before it."""
        if group.max_impacted is None:
            return now
        limit = group.max_impacted
        busy = group.recovery_time
        ends = sorted(
            (max(now, imp.start + move_seconds) if imp.end is None else imp.end) + imp.recovery
            for imp in self._groups.get(group.group_id, {}).values()
            if imp.active(now)
        )
        at = now
        for _ in range(ahead + 1):
            at = ends[len(ends) - limit] if len(ends) >= limit else at
            ends = sorted([e for e in ends if e > at] + [at + move_seconds + busy])
        return at


@dataclass(frozen=True)
class HostOutlook:
    host: str
    delay: float
    """Seconds until every instance on it could be moved (notices, group limits)."""
    chain: float
    """Seconds of moves still ahead of its slowest group."""
    position: int


def rank_hosts(
    cluster: Cluster,
    ledger: ImpactLedger,
    candidates: Iterable[str],
    *,
    now: float,
    pending: set[str],
    waiting: Counter[str],
    notice_ready: Callable[[str], float],
    move_seconds: float,
    quantum: float = 1.0,
) -> list[HostOutlook]:
    """The candidates, best first (see the module's docstring).

    `pending` are the hosts not yet started (whose members count in a group's chain),
    `waiting` the members per group already on started hosts and not yet admitted,
    `notice_ready(instance_id)` the earliest moment the instance's notice allows acting on it.
    Delays closer than `quantum` seconds count as equal.
    """
    rules = cluster.rules
    remaining: Counter[str] = Counter()
    for host in pending:
        for instance in cluster.on(host):
            remaining[rules.of(instance.instance_id).group_id] += 1
    outlooks = []
    for name in candidates:
        delay = 0.0
        chain = 0.0
        ahead: Counter[str] = Counter()
        for instance in cluster.on(name):
            group = rules.group(rules.of(instance.instance_id).group_id)
            delay = max(delay, notice_ready(instance.instance_id) - now)
            if group.max_impacted is None:
                continue
            at = ledger.free_at(
                group, now, waiting[group.group_id] + ahead[group.group_id], move_seconds
            )
            ahead[group.group_id] += 1
            delay = max(delay, at - now)
            per_member = move_seconds + group.recovery_time
            chain = max(chain, remaining[group.group_id] * per_member / group.max_impacted)
        outlooks.append(
            HostOutlook(name, round(delay / quantum) * quantum, chain, cluster.hosts[name].position)
        )
    outlooks.sort(key=lambda o: (o.delay, -o.chain, o.position))
    return outlooks
