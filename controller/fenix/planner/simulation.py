"""The planner driven by its own decisions, on a cloud and a clock of its own.

A Simulation carries out each decision as the executor (fenix.workflows.parallel) would, with
moves and maintenance that take fixed simulated seconds and managers that answer after a fixed
delay, and jumps the clock to the next thing that happens when the plan says to wait. It runs
PREPARE_MAINTENANCE (unless a host is empty already) and PLANNED_MAINTENANCE as the vnf
workflow does, and its makespan is the planner's own, without any engine's delays. Its Record
is the timeline: when each host went out of service and was maintained, each move.

It is also the judge: it keeps its own record of where every instance is and is headed, of each
group's impacted members and of what each host holds when it is maintained, apart from the
planner's bookkeeping, and raises Breach the moment a decision would break capacity,
anti-affinity, max_instances_per_host, max_impacted_members or the session's
max_hosts_per_zone. The property tests rely on it; a preview (fenix.planner.preview) shows a
plan the judge let through.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from fenix.planner.cloud import IN_PROGRESS, Cluster, Host, Instance
from fenix.planner.decisions import (
    Blocked,
    ChooseAction,
    Decision,
    Fail,
    Finished,
    MaintainHost,
    MoveInstance,
    NoHostFits,
    Notice,
    OpenJob,
    StartHost,
    Tell,
    ToldAhead,
    WaitUntil,
)
from fenix.planner.impact import ImpactLedger
from fenix.planner.planner import PROGRESS, hosts_to_maintain, plan
from fenix.planner.rules import Rules
from fenix.planner.snapshot import (
    DONE,
    MOVING,
    TARGETED,
    TOLD,
    Ask,
    Estimates,
    Policy,
    Snapshot,
    ask_key,
)
from fenix.states import HostState, InstanceAction, ProjectStep

MOVE_SECONDS = {
    InstanceAction.LIVE_MIGRATE: 3.0,
    InstanceAction.MIGRATE: 6.0,
    InstanceAction.EVICTION: 1.0,
    InstanceAction.OWN_ACTION: 4.0,
}
"""The bench's durations (bench/vnf_makespan.py), and an own action of its manager's."""


class Breach(AssertionError):
    """A decision broke a constraint, or the cloud (what the judge saw says which)."""


class Stuck(AssertionError):
    """The plan can go no further: Blocked, or nothing to wait for."""


def first_allowed(notice: Notice) -> str:
    """A manager that takes the action it is offered first (the instance's migration_type)."""
    return notice.allowed_actions[0]


@dataclass(frozen=True)
class Move:
    """One move as the simulation carried it out (seconds from the start)."""

    instance_id: str
    project_id: str
    action: str
    source: str
    target: str | None
    """Where it went (MIGRATE, LIVE_MIGRATE); None: it left the cloud or its manager took it."""
    step: str
    start: float
    end: float


@dataclass
class Record:
    """What the judge saw: the timeline, for the tests and the preview to read."""

    maintained: dict[str, float]
    """Host -> when its maintenance ended."""
    moves: int = 0
    decisions: int = 0
    started: dict[str, float] = field(default_factory=dict)
    """Host -> when it went out of service."""
    maintaining_from: dict[str, float] = field(default_factory=dict)
    """Host -> when its maintenance started."""
    step_of: dict[str, str] = field(default_factory=dict)
    """Host -> the step in which it went out of service."""
    timeline: list[Move] = field(default_factory=list)
    most_out: int = 0
    """The most session hosts out of service (being emptied or maintained) at once."""


class Simulation:
    def __init__(
        self,
        hosts: list[Host],
        instances: list[Instance],
        rules: Rules,
        *,
        managers: dict[str, bool],
        maintain_seconds: float = 60.0,
        move_seconds: dict[str, float] = MOVE_SECONDS,
        answer: Callable[[Notice], str] = first_allowed,
        answer_after: float = 2.0,
        reply_window: float = 30.0,
        default_action: str = InstanceAction.LIVE_MIGRATE,
    ) -> None:
        self.now = 0.0
        self.rules = rules
        self.cluster = Cluster(hosts, instances, rules)
        self.ledger = ImpactLedger()
        self.jobs: dict = {}
        self.maintaining: set[str] = set()
        self.starts = 0
        self.estimates = Estimates()
        self.memo: dict[str, tuple | None] = {"no_host_fits": None, "told_ahead_at": None}
        self.managers = managers
        self.policy = Policy(default_action, on_nack="continue", on_no_manager="default")
        self.maintain_seconds = maintain_seconds
        self.move_seconds = move_seconds
        self.answer, self.answer_after, self.reply_window = answer, answer_after, reply_window
        self._events: list[tuple[float, int, str, str]] = []
        self._order = itertools.count()
        self._answers: dict[str, str] = {}
        # The judge's own record, apart from the planner's bookkeeping.
        self.capacity = {h.name: h.capacity for h in hosts}
        self.compute = {h.name for h in hosts if h.compute}
        self.state = {h.name: h.state for h in hosts}
        self.zone = {h.name: h.zone for h in hosts}
        self.size = {i.instance_id: i.size for i in instances}
        self.where = {i.instance_id: i.host for i in instances}
        self.heading: dict[str, str] = {}
        self.impacts: dict[str, dict[str, tuple[float, float | None]]] = {}
        self.record = Record(maintained={})
        for name in self.capacity:
            self._check_host(name, "at the start")

    # -- running ---------------------------------------------------------------------------
    def run(self, *, limit: int = 200_000) -> float:
        """PREPARE_MAINTENANCE (when no session host is empty), then PLANNED_MAINTENANCE, as
        the vnf workflow runs them; the makespan."""
        ours = [h for h, state in self.state.items() if state == HostState.PENDING]
        occupied = set(self.where.values())
        if all(host in occupied for host in ours):
            self.run_step(ProjectStep.PREPARE_MAINTENANCE, maintain=False, limit=limit)
        self.run_step(ProjectStep.PLANNED_MAINTENANCE, maintain=True, limit=limit)
        return self.now

    def run_step(self, step: ProjectStep, *, maintain: bool, limit: int) -> None:
        new_hosts = True
        for _ in range(limit):
            self._happen()
            decisions = plan(self._snapshot(step, maintain, new_hosts))
            self.record.decisions += len(decisions)
            started = False
            for decision in decisions:
                started |= isinstance(decision, StartHost)
                self._apply(decision, step)
            if started:
                new_hosts = maintain
            outcome = decisions[-1] if decisions else None
            if isinstance(outcome, Finished):
                return
            if isinstance(outcome, Blocked):
                raise Stuck(f"at {self.now:.0f} s: {outcome.reason}")
            if any(isinstance(d, PROGRESS) for d in decisions):
                continue
            assert isinstance(outcome, WaitUntil), decisions
            moments = [t for t in (outcome.at, self._next_event()) if t is not None]
            if not moments:
                raise Stuck(f"at {self.now:.0f} s: nothing to wait for")
            self.now = max(self.now, min(moments))
        raise Stuck(f"{limit} rounds without the end of {step}")

    def _snapshot(self, step: str, maintain: bool, new_hosts: bool) -> Snapshot:
        return Snapshot(
            now=self.now,
            step=step,
            maintain=maintain,
            new_hosts=new_hosts,
            cloud=self.cluster.freeze(),
            rules=self.rules,
            raw_rules=self.rules,
            jobs=dict(self.jobs),
            impacts=self.ledger.freeze(self.now),
            managers=self.managers,
            maintaining=frozenset(self.maintaining),
            starts=self.starts,
            estimates=self.estimates,
            policy=self.policy,
            no_host_fits=self.memo["no_host_fits"],
            told_ahead_at=self.memo["told_ahead_at"],
        )

    # -- carrying out ----------------------------------------------------------------------
    def _apply(self, decision: Decision, step: str) -> None:
        match decision:
            case MaintainHost(host):
                self._maintain(host)
            case StartHost(host, targets):
                if self.state[host] != HostState.PENDING:
                    raise Breach(f"{host} started while {self.state[host]}")
                self.state[host] = HostState.PREPARING
                self.record.started[host] = self.now
                self.record.step_of[host] = step
                self._check_zone(host)
                for instance_id, target in targets.items():
                    self._head(instance_id, target)
                    self.cluster.update(instance_id, target=target)
                self.cluster.set_host_state(host, HostState.PREPARING)
                self.starts += 1
            case OpenJob(job):
                self.jobs[job.instance_id] = job
            case Tell(notice, admit_at):
                self._tell(notice, admit_at, step)
            case ChooseAction(instance_id, action):
                self.jobs[instance_id] = replace(self.jobs[instance_id], action=action)
            case MoveInstance():
                self._move(decision, step)
            case NoHostFits(version, allow_due):
                self.memo["no_host_fits"] = (version, allow_due)
            case ToldAhead(mark):
                self.memo["told_ahead_at"] = mark
            case Fail(reason):
                raise AssertionError(f"the plan failed the session: {reason}")

    def _tell(self, notice: Notice, admit_at: float | None, step: str) -> None:
        instance_id = notice.instance_id
        if admit_at is not None:
            self._admit(instance_id)
        managed = self.managers[notice.project_id]
        ask = Ask(
            key=ask_key(step, notice.host, instance_id),
            instance_id=instance_id,
            project_id=notice.project_id,
            notified_at=self.now,
            actions_at=self.now + notice.lead,
            reply_at=max(self.now + self.reply_window, self.now + notice.lead),
            has_manager=managed,
            reply=None if managed else "NO_MANAGER",
            action=None,
            allowed_actions=tuple(notice.allowed_actions),
        )
        self.jobs[instance_id] = replace(self.jobs[instance_id], ask=ask, state=TOLD)
        if managed:
            self._answers[instance_id] = self.answer(notice)
            self._at(self.now + self.answer_after, "answer", f"{step}|{instance_id}")

    def _move(self, move: MoveInstance, step: str) -> None:
        instance_id = move.instance_id
        job = self.jobs[instance_id]
        if job.state != TOLD or not job.ready(self.now):
            raise Breach(f"{instance_id} moved while {job.state}, before its notice allows")
        if move.admit_at is not None:
            self._admit(instance_id)
        if move.target is not None:
            if self.heading.get(instance_id) != move.target:
                self._head(instance_id, move.target)
            self.cluster.update(instance_id, target=move.target)
        elif move.action in TARGETED:
            raise Breach(f"{instance_id}: {move.action} without a target")
        if move.action == InstanceAction.EVICTION:
            self.heading.pop(instance_id, None)
            self.cluster.update(instance_id, target=None)
        self.jobs[instance_id] = replace(
            job, state=MOVING, started_at=self.now, action=move.action, ahead=move.ahead
        )
        end = self.now + self.move_seconds[move.action]
        target = move.target if move.action in TARGETED else None
        self.record.timeline.append(
            Move(instance_id, job.project_id, move.action, job.host, target, step, self.now, end)
        )
        self._at(end, "moved", instance_id)

    def _maintain(self, host: str) -> None:
        held = sorted(i for i, h in self.where.items() if h == host)
        if held or host in self.heading.values():
            raise Breach(f"{host} maintained with {held or 'instances on their way'}")
        if self.state[host] not in (HostState.PREPARING,):
            raise Breach(f"{host} maintained while {self.state[host]}")
        self.state[host] = HostState.IN_MAINTENANCE
        self.maintaining.add(host)
        self.record.maintaining_from[host] = self.now
        self.cluster.set_host_state(host, HostState.IN_MAINTENANCE)
        self._at(self.now + self.maintain_seconds, "maintained", host)

    # -- what happens by itself ------------------------------------------------------------
    def _at(self, when: float, kind: str, subject: str) -> None:
        heapq.heappush(self._events, (when, next(self._order), kind, subject))

    def _next_event(self) -> float | None:
        return self._events[0][0] if self._events else None

    def _happen(self) -> None:
        moved = False
        while self._events and self._events[0][0] <= self.now:
            _when, _n, kind, subject = heapq.heappop(self._events)
            if kind == "moved":
                self._moved(subject)
                moved = True
            elif kind == "maintained":
                self.maintaining.discard(subject)
                self.state[subject] = HostState.MAINTENANCE_COMPLETE
                self.cluster.set_host_state(subject, HostState.MAINTENANCE_COMPLETE)
                if subject in self.record.maintained:
                    raise Breach(f"{subject} maintained twice")
                self.record.maintained[subject] = self.now
            elif kind == "answer":
                step, instance_id = subject.split("|")
                job = self.jobs[instance_id]
                if job.ask is not None and job.ask.key == ask_key(step, job.host, instance_id):
                    action = self._answers[instance_id]
                    ask = replace(job.ask, reply=f"ACK_{step}", action=action)
                    self.jobs[instance_id] = replace(job, ask=ask)
        if moved:
            # As the executor does when moves end: a host left empty is maintained at once.
            snapshot = self._snapshot(ProjectStep.PLANNED_MAINTENANCE, True, False)
            for decision in hosts_to_maintain(snapshot):
                self._apply(decision, ProjectStep.PLANNED_MAINTENANCE)

    def _moved(self, instance_id: str) -> None:
        job = self.jobs[instance_id]
        to = self.heading.pop(instance_id, None)
        if job.action not in TARGETED:
            to = None  # evicted, or its manager took it away: gone from this cloud
        self.record.moves += 1
        if to is None:
            del self.where[instance_id]
            self.cluster.remove(instance_id)
        else:
            self.where[instance_id] = to
            self.cluster.update(instance_id, host=to, target=None)
        group = self.rules.of(instance_id).group_id
        start, _end = self.impacts[group][instance_id]
        self.impacts[group][instance_id] = (start, self.now)
        self.ledger.end(job.group_id, instance_id, self.now)
        if job.action in TARGETED:
            self.estimates = self.estimates.after(job.action, self.now - job.started_at)
        self.jobs[instance_id] = replace(job, state=DONE)

    # -- the judge -------------------------------------------------------------------------
    def _head(self, instance_id: str, target: str) -> None:
        if target not in self.compute or self.state[target] in (
            HostState.PREPARING,
            HostState.IN_MAINTENANCE,
        ):
            raise Breach(f"{instance_id} sent to {target}, {self.state[target]}")
        if target == self.where.get(instance_id):
            raise Breach(f"{instance_id} sent to the host it is on")
        self.heading[instance_id] = target
        self._check_host(target, f"when {instance_id} was sent there")

    def _check_zone(self, host: str) -> None:
        out = [h for h, state in self.state.items() if state in IN_PROGRESS]
        self.record.most_out = max(self.record.most_out, len(out))
        limit, zone = self.rules.max_hosts_per_zone, self.zone[host]
        together = sorted(h for h in out if zone is not None and self.zone[h] == zone)
        if limit is not None and len(together) > limit:
            raise Breach(f"{together} of {zone} out at once (max_hosts_per_zone {limit})")

    def _check_host(self, host: str, when: str) -> None:
        there = [i for i, h in self.where.items() if h == host]
        coming = [i for i, h in self.heading.items() if h == host]
        used = sum(self.size[i] for i in there + coming)
        if used > self.capacity[host]:
            raise Breach(f"{host} holds {used} > {self.capacity[host]} {when}")
        groups: dict[str, int] = {}
        for instance_id in there + coming:
            group = self.rules.group_of(instance_id)
            if group.per_host_limit is not None:
                groups[group.group_id] = groups.get(group.group_id, 0) + 1
                if groups[group.group_id] > group.per_host_limit:
                    raise Breach(f"{host}: {group} over its per-host limit {when}")

    def _admit(self, instance_id: str) -> None:
        group = self.rules.group_of(instance_id)
        impacts = self.impacts.setdefault(group.group_id, {})
        active = [
            i
            for i, (_start, end) in impacts.items()
            if end is None or self.now < end + group.recovery_time
        ]
        if group.max_impacted is not None and len(active) >= group.max_impacted:
            raise Breach(
                f"{instance_id} impacted at {self.now:.1f} s while {active} of "
                f"{group.group_id} are (max {group.max_impacted})"
            )
        impacts[instance_id] = (self.now, None)
        job = self.jobs[instance_id]
        self.jobs[instance_id] = replace(job, admitted_at=self.now)
        self.ledger.begin(group.group_id, instance_id, self.now, group.recovery_time)
