"""The plan of a session before it starts: which hosts go in which order and waves, which
instance goes where and how, the lower bound and an estimate of the makespan.

Nothing here touches anything: the vnf workflow's plan is the planner's own, played out by
fenix.planner.simulation on a copy of the cloud with assumed durations; the default and k8s
workflows' by the choices of fenix.planner.one_at_a_time, in their order. Managers are assumed
to answer what their standing constraints say (the instance's migration_type) and projects
without constraints get the workflow's default. The estimate is only as good as the durations
assumed (Durations, which the answer shows) and those assumptions: managers may answer
otherwise, scale in, or move instances themselves meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace

from fenix.planner.bounds import Bound, lower_bound
from fenix.planner.cloud import Host, Instance
from fenix.planner.decisions import Notice
from fenix.planner.one_at_a_time import first_fit, first_host, order_of_work, room_by_preference
from fenix.planner.rules import Rules
from fenix.planner.simulation import Breach, Move, Simulation, Stuck
from fenix.planner.snapshot import TARGETED
from fenix.states import HostState, InstanceAction, ProjectStep, SessionState

HOW = {
    InstanceAction.LIVE_MIGRATE: "live-migrated by the cloud to the host named",
    InstanceAction.MIGRATE: "cold-migrated by the cloud to the host named",
    InstanceAction.EVICTION: "evicted (scaled in): it leaves the host and is not moved",
    InstanceAction.OWN_ACTION: "its manager moves it itself",
}
"""What each action means for the instance, for people reading a plan."""


@dataclass(frozen=True)
class Durations:
    """The seconds an estimate assumes; the defaults are round figures for a real cloud."""

    live_migrate: float = 30.0
    migrate: float = 60.0
    evict: float = 10.0
    own_action: float = 60.0
    maintain: float = 600.0
    """One host's maintenance: the action plug-ins and the cloud's part."""
    answer: float = 5.0
    """How soon a manager answers a notice."""

    def move_seconds(self) -> dict[str, float]:
        return {
            InstanceAction.LIVE_MIGRATE: self.live_migrate,
            InstanceAction.MIGRATE: self.migrate,
            InstanceAction.EVICTION: self.evict,
            InstanceAction.OWN_ACTION: self.own_action,
        }


@dataclass(frozen=True)
class HostPlan:
    host: str
    order: int
    """1 for the first host taken out of service."""
    wave: int
    """Hosts taken out of service at the same moment share a wave."""
    step: str
    """PREPARE_MAINTENANCE (emptied to make room first), START_MAINTENANCE (empty already,
    maintained first: one host at a time) or PLANNED_MAINTENANCE."""
    out_of_service_at: float
    maintenance_from: float
    maintenance_until: float
    instances: int
    """Instances moved off it."""


@dataclass(frozen=True)
class Preview:
    planner: str
    """"parallel" (the vnf workflow's planner) or "one_at_a_time"."""
    hosts: list[HostPlan]
    moves: list[Move]
    lower_bound: Bound
    estimate: float | None
    """Seconds from the start to the last host's maintenance; None when the plan is blocked."""
    durations: Durations
    blocked: str | None = None
    """Why the plan cannot go to the end (the hosts and moves before it are shown)."""
    assumptions: list[str] = field(default_factory=list)

    @property
    def waves(self) -> list[list[str]]:
        waves: dict[int, list[str]] = {}
        for host in self.hosts:
            waves.setdefault(host.wave, []).append(host.host)
        return [waves[wave] for wave in sorted(waves)]

    def as_dict(self) -> dict[str, object]:
        """The plan as plain values, for JSON."""
        return {
            "planner": self.planner,
            "hosts": [asdict(host) | {"step": str(host.step)} for host in self.hosts],
            "waves": self.waves,
            "moves": [
                asdict(move)
                | {"action": str(move.action), "step": str(move.step), "how": HOW[move.action]}
                for move in self.moves
            ],
            "lower_bound": asdict(self.lower_bound),
            "estimate": self.estimate,
            "durations": asdict(self.durations),
            "blocked": self.blocked,
            "assumptions": list(self.assumptions),
        }


ASSUMED = [
    "every manager answers what its instance's standing constraints say (migration_type); an "
    "instance without one gets the workflow's default action",
    "moves, answers and maintenance take the seconds in `durations`; the engine's own delays "
    "are not counted",
    "nobody else changes the cloud meanwhile (no scale-in, no other session's hosts)",
]


def standing_action(rules: Rules, instance_id: str, default: str, allowed: Iterable[str]) -> str:
    """The action a manager's standing constraints name, when allowed; else the default."""
    allowed = list(allowed)
    wanted = rules.of(instance_id).migration_type
    if wanted in allowed:
        return str(wanted)
    return default if default in allowed else allowed[0]


def standing_answer(rules: Rules, default: str) -> Callable[[Notice], str]:
    """A manager that answers each notice with its standing constraints."""

    def answer(notice: Notice) -> str:
        return standing_action(rules, notice.instance_id, default, notice.allowed_actions)

    return answer


def preview_parallel(
    hosts: list[Host],
    instances: list[Instance],
    rules: Rules,
    managers: Mapping[str, bool],
    durations: Durations,
    *,
    default_action: str = InstanceAction.LIVE_MIGRATE,
    reply_window: float = 20.0,
) -> Preview:
    """The vnf workflow's plan: the planner's decisions played out on a copy of the cloud."""
    simulation = Simulation(
        hosts,
        instances,
        rules,
        managers=dict(managers),
        maintain_seconds=durations.maintain,
        move_seconds=durations.move_seconds(),
        answer=standing_answer(rules, default_action),
        answer_after=durations.answer,
        reply_window=reply_window,
        default_action=default_action,
    )
    blocked = None
    try:
        simulation.run()
    except (Stuck, Breach) as exc:
        blocked = str(exc)
    record = simulation.record
    moved: dict[str, int] = {}
    for move in record.timeline:
        moved[move.source] = moved.get(move.source, 0) + 1
    starts = sorted(set(record.started.values()))
    plans = []
    for order, host in enumerate(sorted(record.started, key=record.started.get), 1):
        if host not in record.maintained:
            continue
        plans.append(
            HostPlan(
                host=host,
                order=order,
                wave=starts.index(record.started[host]) + 1,
                step=record.step_of[host],
                out_of_service_at=record.started[host],
                maintenance_from=record.maintaining_from[host],
                maintenance_until=record.maintained[host],
                instances=moved.get(host, 0),
            )
        )
    actions = {
        i.instance_id: standing_action(
            rules,
            i.instance_id,
            default_action,
            TARGETED_FIRST if managers.get(i.project_id) else NOBODY_TO_ACT,
        )
        for i in instances
    }
    bound = lower_bound(
        hosts,
        instances,
        rules,
        action_of=actions,
        move_seconds=durations.move_seconds(),
        maintain=durations.maintain,
        leaving=frozenset(i for i, a in actions.items() if a not in TARGETED),
    )
    estimate = max(record.maintained.values(), default=0.0) if blocked is None else None
    return Preview(
        "parallel",
        _renumbered(plans),
        list(record.timeline),
        bound,
        estimate,
        durations,
        blocked,
        [*ASSUMED, "hosts start as soon as the constraints and the room allow (vnf workflow)"],
    )


TARGETED_FIRST = (
    InstanceAction.LIVE_MIGRATE,
    InstanceAction.MIGRATE,
    InstanceAction.OWN_ACTION,
    InstanceAction.EVICTION,
)
"""Every action, for reading an instance's standing one."""
NOBODY_TO_ACT = tuple(a for a in TARGETED_FIRST if a != InstanceAction.OWN_ACTION)
"""What a project without a manager can get: nobody would move an instance itself."""


def preview_one_at_a_time(
    hosts: list[Host],
    instances: list[Instance],
    rules: Rules,
    managers: Mapping[str, bool],
    durations: Durations,
    *,
    default_action: str = InstanceAction.LIVE_MIGRATE,
    allowed: tuple[str, ...] = TARGETED_FIRST,
    replaced: bool = False,
) -> Preview:
    """The default workflow's plan (and k8s's: `allowed` only EVICTION and OWN_ACTION,
    `replaced`: an evicted pod's controller starts it again elsewhere): one host at a time,
    the least used emptied first when none is empty, then the empty ones maintained, then
    the rest in the session's order; each instance to the first host with room."""
    state = {h.name: h.state for h in hosts}
    known = {h.name: h for h in hosts}
    where = {i.instance_id: i for i in instances}
    actions = {
        i.instance_id: standing_action(rules, i.instance_id, default_action, allowed)
        for i in instances
    }
    ours = [h.name for h in sorted(hosts, key=lambda h: h.position) if h.state is not None]
    now, moves, plans, blocked = 0.0, [], [], None

    def used() -> dict[str, int]:
        totals: dict[str, int] = {}
        for instance in where.values():
            totals[instance.host] = totals.get(instance.host, 0) + instance.size
        return totals

    def empty_and_maintain(host: str, step: str) -> bool:
        nonlocal now, blocked
        out_at = now
        state[host] = HostState.PREPARING
        on_host = [i for i in where.values() if i.host == host]
        if any(managers.get(i.project_id) for i in on_host):
            now += durations.answer
        current = [replace(known[name], state=state[name]) for name in known]
        room = room_by_preference(current, used(), {}, exclude=host)
        took = 0.0
        for instance in sorted(on_host, key=lambda i: i.instance_id):
            action = actions[instance.instance_id]
            target = None
            if action in TARGETED:
                target = first_fit(room, instance.size)
                if target is None:
                    blocked = f"no host has room for {instance.instance_id} (off {host})"
                    return False
                room[target] -= instance.size
            seconds = durations.move_seconds()[action]
            moves.append(
                Move(
                    instance.instance_id,
                    instance.project_id,
                    action,
                    host,
                    target,
                    step,
                    now,
                    now + seconds,
                )
            )
            took = max(took, seconds)
            if target is not None:
                where[instance.instance_id] = replace(instance, host=target)
            elif not replaced:
                del where[instance.instance_id]
            else:
                where[instance.instance_id] = replace(instance, host=None)
        now += took
        state[host] = HostState.IN_MAINTENANCE
        plans.append(
            HostPlan(host, 0, 0, step, out_at, now, now + durations.maintain, len(on_host))
        )
        now += durations.maintain
        state[host] = HostState.MAINTENANCE_COMPLETE
        return True

    occupied = {i.host for i in where.values()}
    if ours and all(h in occupied for h in ours):
        first = first_host(ours, used())
        empty_and_maintain(first, ProjectStep.PREPARE_MAINTENANCE)
    if blocked is None:
        # START_MAINTENANCE maintains the hosts left empty, then the rest go in order.
        occupied = {i.host for i in where.values()}
        for host in order_of_work({h: state[h] for h in ours}):
            if host not in occupied:
                empty_and_maintain(host, SessionState.START_MAINTENANCE)
        for host in order_of_work({h: state[h] for h in ours}):
            if not empty_and_maintain(host, ProjectStep.PLANNED_MAINTENANCE):
                break
    leaving = frozenset(i for i, a in actions.items() if a not in TARGETED and not replaced)
    bound = lower_bound(
        hosts,
        instances,
        rules,
        action_of=actions,
        move_seconds=durations.move_seconds(),
        maintain=durations.maintain,
        leaving=leaving,
        constraints=False,
    )
    return Preview(
        "one_at_a_time",
        _renumbered(plans),
        moves,
        bound,
        None if blocked else now,
        durations,
        blocked,
        [
            *ASSUMED,
            "one host at a time; the workflow keeps no constraint but the action, so the lower "
            "bound counts capacity only",
        ],
    )


def _renumbered(plans: list[HostPlan]) -> list[HostPlan]:
    """Order and waves counted from 1 over the hosts shown."""
    plans = sorted(plans, key=lambda p: (p.out_of_service_at, p.order))
    starts = sorted({p.out_of_service_at for p in plans})
    return [
        replace(p, order=n, wave=starts.index(p.out_of_service_at) + 1)
        for n, p in enumerate(plans, 1)
    ]
