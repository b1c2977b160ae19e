"""The vnf workflow's plan, without I/O: which host next, where each instance goes and how,
when to tell a manager, when to wait. It reads a Snapshot and returns Decisions; the executor
(fenix.workflows.parallel) carries them out and builds the next snapshot.

Capacity: a host is taken out of service only when every instance on it has a place to go
(room, anti-affinity, max_instances_per_host, counting the moves already planned). Places are
chosen among maintained hosts first, then hosts outside the session; a host still due for
maintenance is used only while no maintained host can come (at the start of the session, or
when nothing else is in progress), the one due last first. So an instance moves once, and only
those moved before the first host came back move twice.

Impact: a group never has more than max_impacted_members members impacted. A member is
impacted from the start of its move (or from its notice, when its manager may act on the notice
itself) until recovery_time after it is back.

Order: of the hosts that could go next, the one whose instances can all be moved soonest; among
those, the one with members of the groups that have the longest chain of moves still ahead (see
fenix.planner.ranking).

Telling: an instance whose manager may act on the notice itself (OWN_ACTION) is told only when
it may be impacted: the notice starts its impact. The others are told ahead of their host
(those with a lead time on the hosts expected next; those of projects without a manager at
once, there being nobody to wait for), so that lead times and answers are over when their
host's turn comes.

Moving: instances on hosts being emptied go first come first go, as their groups admit them.
Members of groups that allow few impacted at once may move ahead of their host, to a
maintained host with room, while their group is idle: their chain of moves and recoveries then
does not hold their host up.

Times are epoch seconds from the snapshot's clock; durations are seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from fenix.planner.cloud import Cluster
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
from fenix.planner.ranking import HostOutlook, best_first, constrained_groups, host_outlook
from fenix.planner.rules import allowed_actions
from fenix.planner.snapshot import (
    DONE,
    HOLD_PAUSED,
    MOVING,
    TARGETED,
    TOLD,
    WAITING,
    Ask,
    Job,
    Snapshot,
    is_early,
    jobs_for_host,
    new_job,
)
from fenix.states import NO_MANAGER, HostState, InstanceAction

PROGRESS = (MaintainHost, StartHost, Tell, MoveInstance)
"""Decisions that change the world: after them the executor looks again at once."""


def plan(snapshot: Snapshot) -> list[Decision]:
    """Everything that may be done now, in the order to do it; then, if none of it changes the
    world, what to wait for (WaitUntil), why nothing can go on (Blocked), or Finished."""
    work = _Work(snapshot)
    try:
        if snapshot.maintain:
            work.maintain_empty_hosts()
        if work.new_hosts and snapshot.hold is None:
            work.start_hosts()
        if snapshot.hold != HOLD_PAUSED:
            if snapshot.hold is None:
                work.tell_ahead()
            work.tell()
            work.move()
    except _Failed as failed:
        return [*work.decisions, Fail(failed.reason)]
    outcome = work.outcome()
    return work.decisions if outcome is None else [*work.decisions, outcome]


def hosts_to_maintain(snapshot: Snapshot) -> list[Decision]:
    """The hosts being emptied that have nothing left to move: as soon as a move ends."""
    work = _Work(snapshot)
    work.maintain_empty_hosts()
    return work.decisions


def hosts_at_once(snapshot: Snapshot, enough: int = 2) -> int:
    """How many due hosts could be emptied together now (counting up to `enough`), putting
    instances on hosts still due as the session's first hosts do. Capacity's answer: the
    session's max_hosts_per_zone is left aside, as managers scaling in would not change it."""
    cluster = Cluster.thaw(snapshot.cloud, snapshot.rules)
    started = 0
    for host in candidates(cluster):
        if cluster.reserved(host):
            continue  # a target of one tried before it
        instance_ids = [i.instance_id for i in cluster.on(host)]
        targets = cluster.place(
            instance_ids, exclude=cluster.in_progress() | {host}, allow_due=True
        )
        if targets is None:
            continue
        for instance_id, target in targets.items():
            cluster.update(instance_id, target=target)
        cluster.set_host_state(host, HostState.PREPARING)
        started += 1
        if started >= enough:
            break
    return started


def candidates(cluster: Cluster) -> list[str]:
    """Hosts that may start: due, in service, and no instance on its way to them."""
    return [
        h.name
        for h in cluster.hosts.values()
        if h.state == HostState.PENDING and h.enabled and not cluster.reserved(h.name)
    ]


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Work:
    """The snapshot thawed: each decision is tried on it, so the next sees its effect."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.s = snapshot
        self.now = snapshot.now
        self.rules = snapshot.rules
        self.cluster = Cluster.thaw(snapshot.cloud, snapshot.rules)
        self.ledger = ImpactLedger(snapshot.impacts)
        self.jobs = dict(snapshot.jobs)
        self.maintaining = set(snapshot.maintaining)
        self.starts = snapshot.starts
        self.new_hosts = snapshot.new_hosts
        self.decisions: list[Decision] = []
        self._outlooks: dict[str, tuple[tuple, HostOutlook]] = {}
        """Each host's rank as last worked out, with what it was worked out from (see outlook)."""
        self._constrained: dict[str, tuple[frozenset[str], Counter[str]]] = {}

    def decide(self, decision: Decision) -> None:
        self.decisions.append(decision)

    def keep(self, job: Job) -> Job:
        self.jobs[job.instance_id] = job
        self._outlooks.pop(job.host, None)  # its notices may have changed
        return job

    # -- hosts ---------------------------------------------------------------------------
    def maintain_empty_hosts(self) -> None:
        busy = {j.host for j in self.jobs.values() if j.state != DONE}
        for host in list(self.cluster.hosts.values()):
            if host.state != HostState.PREPARING or host.name in self.maintaining:
                continue
            if host.name in busy:
                continue
            self.maintaining.add(host.name)
            self.cluster.set_host_state(host.name, HostState.IN_MAINTENANCE)
            self.decide(MaintainHost(host.name))

    def may_use_due_hosts(self) -> bool:
        """Put instances on hosts still due only to get the first hosts going, or if nothing
        else is in progress: otherwise wait for a maintained host."""
        states = [h.state for h in self.cluster.hosts.values() if h.state is not None]
        return HostState.MAINTENANCE_COMPLETE not in states or not self.cluster.in_progress()

    def start_hosts(self) -> None:
        """Take hosts out of service, best first, while the instances of one have a place.

        After each start the others are ranked again: the members it holds now wait their
        turn in their groups, which may make another host a better choice than the runner-up.
        In PREPARE_MAINTENANCE only the first hosts that fit together start.
        """
        allow_due = self.may_use_due_hosts()
        if self.s.no_host_fits == (self.cluster.version, allow_due):
            return
        started = False
        unplaceable: set[str] = set()
        while hosts := [c for c in self.startable() if c not in unplaceable]:
            room = self.cluster.room(allow_due=allow_due)
            if min(self.cluster.used(h) for h in hosts) > room:
                break  # not even the lightest host fits: no need to try each
            outlook = self.outlook(hosts)
            due_order = {o.host: n for n, o in enumerate(outlook)}
            for option in outlook:
                targets = self.targets_off(option.host, allow_due, due_order)
                if targets is not None:
                    self.start_host(option, targets)
                    started = True
                    break
                unplaceable.add(option.host)
            else:
                break
        if started:
            self.new_hosts = self.s.maintain
        else:
            self.decide(NoHostFits(self.cluster.version, allow_due))

    def startable(self) -> list[str]:
        """Candidates whose zone may have one more host out (max_hosts_per_zone)."""
        limit = self.rules.max_hosts_per_zone
        return [h for h in candidates(self.cluster) if self.cluster.zone_has_room(h, limit)]

    def targets_off(
        self, host: str, allow_due: bool, due_order: dict[str, int]
    ) -> dict[str, str] | None:
        """Targets for the instances on a host (but those already on their way elsewhere);
        of the hosts still due, those expected last first."""
        instance_ids = [
            i.instance_id
            for i in self.cluster.on(host)
            if i.instance_id not in self.jobs or self.jobs[i.instance_id].state != MOVING
        ]
        return self.cluster.place(
            instance_ids, exclude={host}, allow_due=allow_due, due_order=due_order
        )

    def start_host(self, option: HostOutlook, targets: dict[str, str]) -> None:
        host = option.host
        for instance_id, target in targets.items():
            self.cluster.update(instance_id, target=target)
        self.cluster.set_host_state(host, HostState.PREPARING)
        self.starts += 1
        self.decide(StartHost(host, targets, option.delay, option.chain))
        for job in jobs_for_host(
            self.cluster.on(host), host, self.starts, self.jobs, self.rules, self.s.managers
        ):
            self.decide(OpenJob(self.keep(job)))

    def outlook(self, hosts: list[str]) -> list[HostOutlook]:
        """The hosts ranked (fenix.planner.ranking.rank_hosts), each worked out again only when
        what its rank depends on changed: its instances, their jobs (keep), the impacts
        (admit), and the turn and chain of its groups with a limit. Starting a host changes
        those of few others, so ranking after each start costs the hosts, not the instances
        (it was quadratic in the cloud's size)."""
        waiting: Counter[str] = Counter(
            job.group_id
            for job in self.jobs.values()
            if job.admitted_at is None and self.cluster.started(job.host) and job.state != DONE
        )
        remaining: Counter[str] = Counter()
        for host in hosts:
            remaining.update(self.constrained_on(host))
        outlooks = []
        for host in hosts:
            groups = self.constrained_on(host)
            basis = (
                self.cluster.members(host),
                tuple((g, waiting[g], remaining[g]) for g in sorted(groups)),
            )
            held = self._outlooks.get(host)
            if held is None or held[0] != basis:
                ranked = host_outlook(
                    self.cluster,
                    self.ledger,
                    host,
                    now=self.now,
                    remaining=remaining,
                    waiting=waiting,
                    notice_ready=self.notice_ready,
                    move_seconds=self.s.estimates.move_seconds,
                    quantum=self.s.policy.quantum,
                )
                held = self._outlooks[host] = (basis, ranked)
            outlooks.append(held[1])
        return best_first(outlooks)

    def constrained_on(self, host: str) -> Counter[str]:
        members = self.cluster.members(host)
        held = self._constrained.get(host)
        if held is None or held[0] is not members:
            held = self._constrained[host] = (members, constrained_groups(self.cluster, host))
        return held[1]

    def notice_ready(self, instance_id: str) -> float:
        job = self.jobs.get(instance_id)
        if job is not None and job.ask is not None:
            return job.ask.actions_at
        rule = self.rules.of(instance_id)
        early = rule.lead_time > 0 and not rule.own_action
        return self.now + (rule.lead_time if early else 0.0)

    def planned_hosts(self, outlook: list[HostOutlook]) -> set[str]:
        """The hosts expected next: two per host in progress (the plan shifts as hosts come
        back), whose instances with a manager and a lead time are told early."""
        slots = len(self.cluster.in_progress())
        return {o.host for o in outlook[: 2 * max(slots, 1)]}

    # -- telling ---------------------------------------------------------------------------
    def tell_ahead(self) -> None:
        """Open jobs ahead of their host, so that their lead time runs while the hosts in
        progress are maintained: those of projects without a manager on every host due (there
        is nobody to tell: their asks are only recorded), those whose manager is to be told on
        the hosts expected next (PLANNED_MAINTENANCE only). Looked at again whenever a host
        starts or comes back, as the hosts expected next change."""
        mark = (self.starts, len(self.maintaining))
        if self.s.told_ahead_at == mark:
            return
        self.decide(ToldAhead(mark))
        managers = self.s.managers
        hosts = candidates(self.cluster)
        waiting = [
            (host, instance)
            for host in hosts
            for instance in self.cluster.on(host)
            if instance.instance_id not in self.jobs
            and is_early(self.rules.of(instance.instance_id), managers[instance.project_id])
        ]
        managed = [w for w in waiting if managers[w[1].project_id]]
        planned = self.planned_hosts(self.outlook(hosts)) if self.s.maintain and managed else set()
        for host, instance in waiting:
            if host in planned or not managers[instance.project_id]:
                job = new_job(instance, host, float("inf"), self.rules, managers)
                self.decide(OpenJob(self.keep(job)))

    def tell(self) -> None:
        for job in sorted(self.jobs.values(), key=lambda j: (j.seq, j.instance_id)):
            if job.state != WAITING:
                continue
            if self.s.hold is not None and not self.cluster.started(job.host):
                continue  # nothing ahead of its host while held
            admit_at = None
            if not job.early:
                # Its manager may act as soon as it is told: that is its impact's start.
                group = self.rules.group(job.group_id)
                if not self.cluster.started(job.host) or not self.ledger.admits(group, self.now):
                    continue
                admit_at = self.now
                job = self.admit(job)
            notice = Notice(
                self.s.step,
                job.host,
                job.instance_id,
                job.project_id,
                self.rules.of(job.instance_id).lead_time,
                allowed_actions(self.s.raw_rules.of(job.instance_id), own_action=not job.early),
            )
            self.keep(replace(job, state=TOLD, ask=self.unasked(notice)))
            self.decide(Tell(notice, admit_at))

    def unasked(self, notice: Notice) -> Ask | None:
        """The ask of a project without a manager, settled as it is told (the executor records
        the same): its instance may move in this plan, not a round later. None when a manager
        is asked: its ask is what the executor sends."""
        if self.s.managers[notice.project_id]:
            return None
        actions_at = self.now + notice.lead
        return Ask(
            key=notice.key,
            instance_id=notice.instance_id,
            project_id=notice.project_id,
            notified_at=self.now,
            actions_at=actions_at,
            reply_at=actions_at,
            has_manager=False,
            reply=NO_MANAGER,
            action=None,
            allowed_actions=tuple(notice.allowed_actions),
        )

    def admit(self, job: Job) -> Job:
        group = self.rules.group(job.group_id)
        self.ledger.begin(job.group_id, job.instance_id, self.now, group.recovery_time)
        self._outlooks.clear()  # a group's turn moved
        return self.keep(replace(job, admitted_at=self.now))

    # -- moving ----------------------------------------------------------------------------
    def move(self) -> None:
        """Every move that may start: instances on hosts being emptied, first come first go,
        as their groups admit them; and, ahead of their host, members of groups that allow few
        impacted at once, when their group is idle and a maintained host has room."""
        starting: list[tuple[Job, float | None]] = []
        ahead = sum(1 for j in self.jobs.values() if j.state == MOVING and j.ahead)
        room_ahead = max(1, len(self.cluster.in_progress()))
        for job in sorted(self.jobs.values(), key=lambda j: (j.seq, j.instance_id)):
            if not job.ready(self.now):
                continue
            group = self.rules.group(job.group_id)
            if job.admitted_at is None and not self.ledger.admits(group, self.now):
                continue
            if self.cluster.started(job.host):
                job = self.choose_action(job)
                placed = job.action not in TARGETED or self.target(job) or self.place(job)
            elif (
                self.s.maintain
                and self.s.hold is None
                and group.max_impacted is not None
                and ahead < room_ahead
            ):
                job = self.choose_action(job)
                placed = job.action in TARGETED and self.place(job, ahead=True)
                job = self.keep(replace(job, ahead=bool(placed)))
                ahead += bool(placed)
            else:
                continue
            if not placed:
                continue
            admit_at = None
            if job.admitted_at is None:
                admit_at = self.now
                job = self.admit(job)
            starting.append((job, admit_at))
        for job, admit_at in starting:
            target = self.target(job) if job.action in TARGETED else None
            assert job.action is not None
            self.decide(MoveInstance(job.instance_id, job.action, target, job.ahead, admit_at))
            self.keep(replace(job, state=MOVING, started_at=self.now))
            if job.action == InstanceAction.EVICTION:
                self.cluster.update(job.instance_id, target=None)

    def choose_action(self, job: Job) -> Job:
        if job.action is not None:
            return job
        action, refused = self.action_for(job)
        self.decide(ChooseAction(job.instance_id, action, refused))
        return self.keep(replace(job, action=action))

    def action_for(self, job: Job) -> tuple[str, str | None]:
        """The manager's answer where it is one of the allowed actions, else the default; and
        the answer, when it named an action it was not offered."""
        ask = job.ask
        assert ask is not None
        policy = self.s.policy
        if ask.nacked and policy.on_nack == "fail":
            raise _Failed(f"{job.project_id} answered {ask.reply} for {job.instance_id}")
        if not ask.answered and policy.on_no_manager == "fail":
            raise _Failed(f"no answer about {job.instance_id} from {job.project_id}")
        if ask.answered and not ask.nacked and ask.action in ask.allowed_actions:
            return ask.action, None
        refused = None
        if ask.answered and ask.action and ask.action not in ask.allowed_actions:
            refused = ask.action
        action = self.s.raw_rules.of(job.instance_id).migration_type or policy.default_action
        if action == InstanceAction.OWN_ACTION and not (ask.answered and not ask.nacked):
            return policy.default_action, refused  # nobody to carry it out
        return action, refused

    def target(self, job: Job) -> str | None:
        instance = self.cluster.instances.get(job.instance_id)
        return instance.target if instance else None

    def place(self, job: Job, *, ahead: bool = False) -> bool:
        """A target for one instance: ahead of its host, only where it will stay."""
        targets = self.cluster.place(
            [job.instance_id],
            exclude=self.cluster.in_progress() | {job.host} | job.refused_by,
            allow_due=not ahead and self.may_use_due_hosts(),
        )
        if targets is None:
            return False
        self.cluster.update(job.instance_id, target=targets[job.instance_id])
        return True

    # -- what is left ------------------------------------------------------------------------
    def outcome(self) -> Decision | None:
        if self.finished():
            return Finished()
        if any(isinstance(d, PROGRESS) for d in self.decisions):
            return None
        now = self.now
        timers = [
            t
            for job in self.jobs.values()
            if job.state == TOLD and job.ask is not None
            for t in (job.ask.actions_at, job.ask.reply_at)
            if t > now
        ]
        release = self.ledger.next_release(now)
        if release is not None:
            timers.append(release)
        busy = bool(self.maintaining) or any(j.state == MOVING for j in self.jobs.values())
        asking = any(j.ask is not None and not j.ask.settled for j in self.jobs.values())
        if self.s.hold is not None:
            # Held: nothing is blocked, the rest waits for the hold to lift.
            if self.s.hold_until is not None:
                timers.append(self.s.hold_until)
            return WaitUntil(min(timers, default=None), busy, asking)
        if not (busy or timers or asking):
            return Blocked(self.why_blocked())
        return WaitUntil(min(timers, default=None), busy, asking)

    def finished(self) -> bool:
        jobs = self.jobs.values()
        if any(job.state != DONE for job in jobs if self.cluster.started(job.host)):
            return False
        hosts = self.cluster.hosts.values()
        if self.s.maintain:
            ours = [h for h in hosts if h.state is not None]
            return not self.maintaining and all(
                h.state == HostState.MAINTENANCE_COMPLETE for h in ours
            )
        preparing = [h for h in hosts if h.state == HostState.PREPARING]
        if not preparing and self.new_hosts:
            return False  # the first hosts are still to be chosen
        return all(not self.cluster.on(h.name) for h in preparing)

    def why_blocked(self) -> str:
        waiting = [j for j in self.jobs.values() if j.state in (WAITING, TOLD)]
        if waiting:
            ids = ", ".join(sorted(j.instance_id for j in waiting)[:5])
            return f"instances that cannot be placed under their constraints: {ids}"
        pending = candidates(self.cluster)
        if pending and self.new_hosts:
            return (
                f"no host can be emptied: the others lack room for the instances on any of "
                f"{', '.join(sorted(pending)[:5])} under their constraints; scale in, relax the "
                f"constraints or add hosts, then resume the session with PUT"
            )
        return "no work can start"
