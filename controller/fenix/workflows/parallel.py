"""Maintaining several hosts at once within the instances' constraints (the vnf workflow):
the executor of fenix.planner's plan.

One loop, on the session's thread, takes in what happened (a move ended, a host came back, a
manager answered), builds a snapshot of what it knows, asks the planner (fenix.planner.plan)
what may be done now and carries it out: hosts taken out of service, instances told of their
move, moves started, empty hosts maintained; then it waits for what the plan waits for (a lead
or recovery time, an answer, a move's end). What to do is the planner's; this module does the
I/O and keeps the record.

- Waiting: the moves off each host are waited for by one watcher thread per host
  (fenix.workflows.move_watch); each host's maintenance (action plug-ins, the cloud's part)
  runs on a thread of its own, through HostMaintenance, which writes the host rows. Only the
  loop writes instance rows and asks.
- Catching up: every few seconds when it has nothing to do, the loop reads the cloud's
  instances and the constraints again (managers scale, move and change their constraints).

Every move is recorded as intent (STARTING) before the driver is called, as in
fenix.workflows.moves, so a resumed workflow finds it: RUNNING moves are waited on again,
asks already sent are not sent again, hosts in maintenance are maintained again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

from fenix.actions.launcher import ActionFailed
from fenix.drivers.base import ActionResult, ActionStatus, DriverError, HostKind
from fenix.engine.context import SessionContext
from fenix.planner import decisions as d
from fenix.planner.cloud import IN_PROGRESS, Cluster
from fenix.planner.impact import ImpactLedger
from fenix.planner.planner import hosts_at_once, hosts_to_maintain, plan
from fenix.planner.rules import Rules, changed
from fenix.planner.snapshot import (
    DONE,
    HOLD_GATE,
    MOVING,
    TARGETED,
    TOLD,
    WAITING,
    Ask,
    Estimates,
    Job,
    Policy,
    Snapshot,
    ask_key,
    jobs_for_host,
    new_job,
)
from fenix.states import ActionState, HostState, InstanceAction, ProjectStep
from fenix.timeutil import parse_timestamp, utcnow
from fenix.workflows.base import WorkflowError
from fenix.workflows.constraints import load_rules
from fenix.workflows.conversation import Conversation
from fenix.workflows.gates import GateKeeper
from fenix.workflows.hold import Hold, HoldGate
from fenix.workflows.hosts import HostMaintenance
from fenix.workflows.instance_talk import InstanceTalk, epoch
from fenix.workflows.move_watch import InFlight, MoveWatchers
from fenix.workflows.moves import ROOM_POLL_SECONDS, START_TRIES, MoveFailed
from fenix.workflows.planner_input import planner_instance, read_hosts, read_instances


class ParallelOwner(Protocol):
    """What the parallel steps use of the workflow they serve (fenix.workflows.vnf), named
    here so that the workflow imports them and not the other way round."""

    TIME_SCALE: ClassVar[float]
    ctx: SessionContext
    talk: Conversation
    hosts: HostMaintenance
    hold: HoldGate
    gates: GateKeeper

    def default_action(self) -> str: ...


LOG = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
"""How often the cloud's instances and the constraints are read again while the loop runs."""


class Stuck(WorkflowError):
    """Nothing can move any more and work is left; the message says what blocks it."""


@dataclass
class _Applied:
    """What carrying out one plan did."""

    progressed: bool = False
    started: bool = False
    """A host was taken out of service."""
    outcome: d.Decision | None = None
    """Finished, WaitUntil or Blocked: what the plan says of the rest."""


class ParallelMaintenance:
    def __init__(self, workflow: ParallelOwner) -> None:
        self.wf = workflow
        self.ctx = workflow.ctx
        self.scale = workflow.TIME_SCALE
        self.talk = InstanceTalk(self.ctx, workflow.talk)
        self.ledger = ImpactLedger()
        self.jobs: dict[str, Job] = {}
        self.asks: dict[str, Ask] = {}
        self.kinds: dict[str, str] = {}
        self.rules: Rules
        self.raw_rules: Rules
        self.cluster: Cluster
        self.estimates = Estimates()
        """How long moves take here, for the plan's estimates and the watchers' guesses."""
        self._starts = 0
        self._results: queue.Queue[tuple] = queue.Queue()
        self._kick = threading.Event()
        self._watchers = MoveWatchers(
            lambda: self.ctx.driver,
            self.ctx.settings.move_timeout,
            lambda: self.estimates.durations,
            self._report,
        )
        self._callers = ThreadPoolExecutor(6, thread_name_prefix="vnf-call")
        self._maintainers = ThreadPoolExecutor(64, thread_name_prefix="vnf-host")
        self._maintaining: set[str] = set()
        self._cancelling = False
        """The session was deleted: moves that end take no host into maintenance."""
        self._zone_limit: int | None = None
        """The session's max_hosts_per_zone, read with the session at load()."""
        self._disabling: dict[str, Future] = {}
        self._resumed_hosts: set[str] = set()
        self._last_refresh = 0.0
        self._last_stop_check = 0.0
        self._hold: Hold | None = None
        self._gate_failure: str | None = None
        """Why a health gate holds new hosts back now (fenix.workflows.gates), or None."""
        self._after_pending: set[str] = set()
        """Hosts back from maintenance whose `after` gates have not passed yet."""
        """What holds the session (a pause, or outside its windows), as last read."""
        self._loaded = False
        self._tried: tuple[int, bool] | None = None
        """The planner's note that no host could start on this version of the cloud."""
        self._rechecked = False
        self._stuck_since: float | None = None
        """When nothing could start for want of room that other sessions hold (see
        _room_may_come_back); None while work goes on."""
        self._planned_at: tuple[int, int] | None = None
        """The planner's note of when instances were last told ahead of their hosts."""
        self.step = ProjectStep.PLANNED_MAINTENANCE
        self._maintain_hosts = False
        self._new_hosts = False

    # -- the loop ------------------------------------------------------------------------
    def run(self, step: ProjectStep, *, maintain: bool, new_hosts: bool, on_start=None) -> bool:
        """Work until every session host is maintained (`maintain`) or every started host is
        empty (not `maintain`: PREPARE_MAINTENANCE); start new hosts only if `new_hosts`
        (in PREPARE_MAINTENANCE only the first that fit together; `on_start` is called when
        they have started).

        False when the session was deleted meanwhile (the caller leaves it to be ended). The
        same object may run PREPARE_MAINTENANCE and then PLANNED_MAINTENANCE: what it knows
        carries over; a fresh one (after a restart) reads it back from the cloud and the
        database. It is closed when a run fails, else by the caller (close()).
        """
        self.step, self._maintain_hosts, self._new_hosts = step, maintain, new_hosts
        try:
            if not self._loaded:
                self.load()
                self._resume(step)
            while True:
                self.ctx.check_stop()
                if self._deleted():
                    self._wind_down()
                    self.close()
                    return False
                self._kick.clear()
                progressed = self._collect()
                progressed |= self._poll_asks()
                progressed |= self._watch_own_actions()
                now = time.time()
                if any(job.ready(now) for job in self.jobs.values()):
                    # Targets are chosen on what the cloud says just now, not on the last
                    # refresh: a host another session took out of service since would refuse.
                    self._sync_host_service()
                self._gate_failure = self._gates_hold()
                applied = self._apply(plan(self._snapshot()))
                if applied.started:
                    if on_start is not None:
                        on_start()
                    self._new_hosts = maintain
                if isinstance(applied.outcome, d.Finished):
                    return True
                self._pause(progressed or applied.progressed, applied.outcome)
        except BaseException:
            self.close()
            raise

    def _wind_down(self) -> None:
        """The session was deleted: start nothing more, but let the cloud's moves under way
        end and be recorded (a cold migration left unwatched would wait for its confirmation
        forever) and the maintenance in progress finish, for move_timeout at most; the hosts
        are given back after (BaseWorkflow.end_deleted)."""
        self._cancelling = True
        deadline = time.monotonic() + self.ctx.settings.move_timeout
        while self._under_way() and time.monotonic() < deadline:
            self.ctx.check_stop()
            self._kick.clear()
            try:
                if not self._collect():
                    self._kick.wait(0.5)
            except (MoveFailed, WorkflowError, DriverError, ActionFailed) as exc:
                LOG.warning("session %s, deleted: %s", self.ctx.session_id, exc)  # recorded
        with self.ctx.db.transaction() as repo:
            repo.add_event(
                self.ctx.session_id,
                "session.wound_down",
                self.ctx.session_id,
                data={"left_moving": sorted(j.instance_id for j in self._moving())},
            )

    def _moving(self) -> list[Job]:
        """Moves the cloud is carrying out (its manager's own actions are its own to end)."""
        return [j for j in self.jobs.values() if j.state == MOVING and j.action_id is not None]

    def _under_way(self) -> bool:
        return bool(self._moving() or self._maintaining)

    def hosts_at_once(self, enough: int = 2) -> int:
        """How many due hosts could be emptied together now (counting up to `enough`),
        putting instances on hosts still due as the session's first hosts do. Only tried:
        nothing is reserved or started."""
        if not self._loaded:
            self.load()
        return hosts_at_once(self._snapshot(), enough)

    def close(self) -> None:
        """Leave no thread behind: waiters stop polling, maintenance in progress is waited for."""
        self._watchers.close()
        self._callers.shutdown(wait=True)
        self._maintainers.shutdown(wait=True)

    def _snapshot(self) -> Snapshot:
        now = time.time()
        settings = self.ctx.settings
        projects = {i.project_id for i in self.cluster.instances.values()}
        return Snapshot(
            now=now,
            step=self.step,
            maintain=self._maintain_hosts,
            new_hosts=self._new_hosts,
            cloud=self.cluster.freeze(),
            rules=self.rules,
            raw_rules=self.raw_rules,
            jobs=dict(self.jobs),
            impacts=self.ledger.freeze(now),
            managers=self.talk.managers(projects),
            maintaining=frozenset(self._maintaining),
            starts=self._starts,
            estimates=self.estimates,
            policy=Policy(
                default_action=self.wf.default_action(),
                on_nack=settings.on_nack,
                on_no_manager=settings.on_no_manager,
                quantum=1.0 / self.scale,
            ),
            no_host_fits=self._tried,
            told_ahead_at=self._planned_at,
            hold=self._hold.why
            if self._hold is not None
            else (HOLD_GATE if self._gate_failure else None),
            hold_until=(
                None if self._hold is None or self._hold.until is None else epoch(self._hold.until)
            ),
        )

    def _gates_hold(self) -> str | None:
        """Why no new host may start for the health gates: those after each host that came
        back, then those before the next wave (checked while hosts are due). None: pass."""
        gates = self.wf.gates
        if self._hold is not None:
            return None  # paused or outside a window: nothing would start anyway
        for host in sorted(self._after_pending):
            reason = gates.look("after", [host])
            if reason is not None:
                return reason
            self._after_pending.discard(host)
        if not self._new_hosts or not gates.any("before"):
            return None
        due = sorted(h.name for h in self.cluster.hosts.values() if h.state == HostState.PENDING)
        return gates.look("before", due) if due else None

    def _pause(self, progressed: bool, outcome: d.Decision | None) -> None:
        if progressed or not self._results.empty():
            self._rechecked = False
            self._stuck_since = None
            return
        if self._refresh():
            return  # the world changed under us: look again before waiting
        if isinstance(outcome, d.Blocked):
            if not self._rechecked:
                # Look at the cloud and the constraints once more before giving up.
                self._rechecked = True
                self._last_refresh = 0.0
                return
            if self._room_may_come_back():
                self._last_refresh = 0.0  # look at the cloud again after this wait
                self._kick.wait(ROOM_POLL_SECONDS)
                return
            raise Stuck(outcome.reason)
        if outcome is None:
            # The plan changed the world but the change did not happen: a host it found empty
            # had instances after all (they have jobs now). Look again shortly.
            self._kick.wait(0.5)
            return
        assert isinstance(outcome, d.WaitUntil)
        self._stuck_since = None
        self._rechecked = False
        wait = self.ctx.settings.poll_interval if outcome.asking else 0.5
        if outcome.at is not None:
            wait = min(wait, outcome.at - time.time())
        self._kick.wait(max(wait, 0.0))

    def _room_may_come_back(self) -> bool:
        """Nothing can start, but other sessions have hosts out of service: the room they hold
        comes back with those hosts. True while that is so, for `room_wait` seconds at most
        (a `session.waiting_for_room` event says so once)."""
        now = time.monotonic()
        if self._stuck_since is not None and now - self._stuck_since > self.ctx.settings.room_wait:
            return False
        with self.ctx.db.transaction() as repo:
            held = repo.hosts_out_for_others(self.ctx.session_id)
            if held and self._stuck_since is None:
                repo.add_event(
                    self.ctx.session_id,
                    "session.waiting_for_room",
                    self.ctx.session_id,
                    data={"held_by_other_sessions": sorted(held)[:20]},
                )
        if not held:
            return False
        if self._stuck_since is None:
            self._stuck_since = now
        return True

    def _deleted(self) -> bool:
        """Whether the session was deleted; what holds it is read in the same look (the
        planner gets it in the snapshot), at most every half second."""
        now = time.monotonic()
        if now - self._last_stop_check < 0.5:
            return False
        self._last_stop_check = now
        self._hold, deleted = self.wf.hold.look()
        return deleted

    # -- carrying out the plan -----------------------------------------------------------
    def _apply(self, decisions: list[d.Decision]) -> _Applied:
        """Carry out the decisions in order; notices and moves that come together go out
        together (one transaction, the cloud's calls at once)."""
        applied = _Applied()
        tells: list[d.Tell] = []
        moves: list[d.MoveInstance] = []
        for decision in [*decisions, None]:
            if tells and not isinstance(decision, d.Tell):
                self._tell(tells)
                tells = []
                applied.progressed = True
            if moves and not isinstance(decision, d.MoveInstance):
                self._move(moves)
                moves = []
                applied.progressed = True
            match decision:
                case d.Tell():
                    tells.append(decision)
                case d.MoveInstance():
                    moves.append(decision)
                case d.MaintainHost(host):
                    applied.progressed |= self._maintain_host(host)
                case d.StartHost():
                    self._start_host(decision)
                    applied.progressed = applied.started = True
                case d.OpenJob(job):
                    self.jobs[job.instance_id] = job
                case d.ChooseAction():
                    self._choose(decision)
                case d.NoHostFits(version, allow_due):
                    self._tried = (version, allow_due)
                case d.ToldAhead(mark):
                    self._planned_at = mark
                case d.Fail(reason):
                    raise WorkflowError(reason)
                case d.Finished() | d.WaitUntil() | d.Blocked():
                    applied.outcome = decision
        return applied

    def _job(self, instance_id: str, **fields) -> Job:
        """Change what is known of one job; the new record."""
        job = self.jobs[instance_id] = replace(self.jobs[instance_id], **fields)
        return job

    def _admit(self, instance_id: str, at: float) -> None:
        job = self._job(instance_id, admitted_at=at)
        group = self.rules.group(job.group_id)
        self.ledger.begin(job.group_id, instance_id, at, group.recovery_time)

    def _open_jobs(self, host: str) -> None:
        """A job for every instance on a host that has started."""
        instances = self.cluster.on(host)
        managers = self.talk.managers({i.project_id for i in instances})
        for job in jobs_for_host(instances, host, self._starts, self.jobs, self.rules, managers):
            self.jobs[job.instance_id] = job

    def _start_host(self, start: d.StartHost) -> None:
        host = start.host
        for instance_id, target in start.targets.items():
            self.cluster.update(instance_id, target=target)
        self._take_out_of_service(host)
        self.cluster.set_host_state(host, HostState.PREPARING)
        self._starts += 1
        LOG.info(
            "session %s: %s out of service, delay %.1f s, chain %.1f s, targets %s",
            self.ctx.session_id,
            host,
            start.delay * self.scale,
            start.chain * self.scale,
            dict(start.targets),
        )

    def _take_out_of_service(self, host: str) -> None:
        """PREPARING, recorded (disabled) before anything moves; the cloud is told at once
        but not waited for: the moves off the host start meanwhile, and its maintenance
        starts only after the cloud has it disabled (HostMaintenance.take_out_of_service
        does the same, waiting)."""
        with self.ctx.db.transaction() as repo:
            row = repo.session_host(self.ctx.session_id, host)  # not the session's every host
            if row.state == HostState.PENDING:
                row.disabled = True
                repo.set_host_state(row, HostState.PREPARING)
        reason = f"fenix maintenance session {self.ctx.session_id}"
        self._disabling[host] = self._callers.submit(self.ctx.driver.disable_host, host, reason)

    def _maintain_host(self, host: str) -> bool:
        """Maintain a host the plan found empty, once the cloud has it disabled and shows
        nothing on it; instances that arrived since it was planned get jobs instead."""
        disabling = self._disabling.pop(host, None)
        if disabling is not None:
            disabling.result()  # a refusal raises here, as the cloud's own error
        there = self.ctx.driver.list_instances(host=host)
        if there:
            # Arrived since it was planned (or not seen): plan them too.
            for info in there:
                if info.instance_id not in self.cluster.instances:
                    self.cluster.put(planner_instance(info))
            self._open_jobs(host)
            return False
        self._submit_maintenance(host)
        return True

    def _tell(self, tells: list[d.Tell]) -> None:
        """The notices of one plan, in one transaction."""
        for tell in tells:
            if tell.admit_at is not None:
                self._admit(tell.notice.instance_id, tell.admit_at)
        sent = self.talk.send([tell.notice for tell in tells])
        for tell in tells:
            self._job(tell.notice.instance_id, ask=sent[tell.notice.key], state=TOLD)

    def _choose(self, choice: d.ChooseAction) -> None:
        job = self._job(choice.instance_id, action=choice.action)
        if choice.refused is None:
            return
        assert job.ask is not None
        with self.ctx.db.transaction() as repo:
            repo.add_event(
                self.ctx.session_id,
                "instance.action.refused",
                job.instance_id,
                None,
                choice.refused,
                {"allowed": list(job.ask.allowed_actions)},
            )

    def _move(self, moves: list[d.MoveInstance]) -> None:
        for move in moves:
            if move.target is not None and self._target(move.instance_id) != move.target:
                self.cluster.update(move.instance_id, target=move.target)
            self._job(move.instance_id, action=move.action, ahead=move.ahead)
            if move.admit_at is not None:
                self._admit(move.instance_id, move.admit_at)
        self._start_moves([move.instance_id for move in moves])

    # -- reading the world ---------------------------------------------------------------
    def load(self) -> None:
        """What the cloud, the session and the constraints say now (the constraints in force
        recorded in the session's event log)."""
        self._loaded = True
        driver = self.ctx.driver
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            ours = {h.name: (h.state, h.position) for h in session.hosts}
            self.kinds = {h.name: h.kind for h in session.hosts}
            self._zone_limit = session.max_hosts_per_zone
        hosts = read_hosts(driver, ours)
        instances = read_instances(driver)
        self._read_rules([i.instance_id for i in instances], initial=True)
        self.cluster = Cluster(hosts, instances, self.rules)
        self.asks = self.talk.load()
        self._last_refresh = time.monotonic()

    def _read_rules(self, instance_ids: list[str], *, initial: bool = False) -> bool:
        """Read the constraints; log the values in force (initial) or what changed."""
        with self.ctx.db.transaction() as repo:
            rules = load_rules(repo, instance_ids).with_zone_limit(self._zone_limit)
            if initial:
                repo.add_event(
                    self.ctx.session_id, "constraints.applied", None, data=rules.snapshot()
                )
            else:
                diff = changed(self.raw_rules, rules)
                if not diff:
                    return False
                repo.add_event(self.ctx.session_id, "constraints.changed", None, data=diff)
        self.raw_rules = rules
        self.rules = rules.scaled(1.0 / self.scale)
        return True

    def _refresh(self) -> bool:
        """Catch up with what others did: managers scale and move, constraints change.

        Done when the loop has nothing else to do, every few seconds; True if it looked."""
        if time.monotonic() - self._last_refresh < REFRESH_SECONDS:
            return False
        self._tried = None
        self._last_refresh = time.monotonic()
        cluster = self.cluster
        self._sync_host_service()
        seen = {i.instance_id: i for i in self.ctx.driver.list_instances()}
        for instance_id, info in seen.items():
            known = cluster.instances.get(instance_id)
            job = self.jobs.get(instance_id)
            if known is None:
                cluster.put(planner_instance(info))
            elif known.host != info.host and not (job and job.state == MOVING):
                cluster.update(instance_id, host=info.host)
                if job is not None and job.state != DONE:
                    self._drop(instance_id, info.host)
        for instance_id in [i for i in cluster.instances if i not in seen]:
            job = self.jobs.get(instance_id)
            if job is not None and job.state == MOVING:
                continue
            cluster.remove(instance_id)
            if job is not None and job.state != DONE:
                self._drop(instance_id, None)
        if self._read_rules(list(seen)):
            cluster.set_rules(self.rules)
        return True

    def _sync_host_service(self) -> None:
        """Which hosts the cloud has in service now (another session takes hosts out); a
        target planned on a host gone out of service since is planned again."""
        cluster = self.cluster
        for info in self.ctx.driver.list_hosts():
            host = cluster.hosts.get(info.name)
            if host is not None and host.state not in IN_PROGRESS:
                cluster.set_host_service(info.name, info.enabled, info.capacity)
        for instance in list(cluster.instances.values()):
            target = cluster.hosts.get(instance.target) if instance.target else None
            job = self.jobs.get(instance.instance_id)
            if target is not None and not target.enabled and not (job and job.state == MOVING):
                cluster.update(instance.instance_id, target=None)

    def _drop(self, instance_id: str, where: str | None) -> None:
        """The instance left its host by other hands (moved to `where`, or deleted: None):
        give back what was reserved for it and record where it is."""
        job = self._job(instance_id, state=DONE)
        if instance_id in self.cluster.instances:
            self.cluster.update(instance_id, target=None)
        with self.ctx.db.transaction() as repo:
            for row in repo.session_instances(self.ctx.session_id, [instance_id]):
                row.state = "ACTIVE" if where else "DELETED"
                row.host = where or row.host
            repo.add_event(
                self.ctx.session_id, "instance.gone", instance_id, job.host, where or "deleted"
            )

    def _resume(self, step: ProjectStep) -> None:
        """Pick up hosts, asks and moves left by an earlier run of this session."""
        with self.ctx.db.transaction() as repo:
            rows = repo.session_instances(self.ctx.session_id)
            details = {r.instance_id: dict(r.details or {}) for r in rows}
            moving = {
                r.instance_id: (r.action, r.action_id, r.action_state, r.action_from)
                for r in rows
                if r.action_state in (ActionState.STARTING, ActionState.RUNNING)
            }
        now = time.time()
        for instance_id, info in details.items():
            start, group = info.get("impact_start"), info.get("group")
            if start is None or group is None:
                continue
            back = info.get("back_at")
            recovery = float(info.get("recovery") or 0.0)
            if back is None or back + recovery > now:
                self.ledger.begin(group, instance_id, start, recovery)
                if back is not None:
                    self.ledger.end(group, instance_id, back)
        for host in list(self.cluster.hosts.values()):
            if host.state in IN_PROGRESS:
                self._resumed_hosts.add(host.name)  # disable them again: the cloud may not know
                self._open_jobs(host.name)
        for instance_id, (_action, _id, _state, source) in moving.items():
            instance = self.cluster.instances.get(instance_id)
            if instance_id not in self.jobs and instance is not None and source is not None:
                # A move ahead of its host, or one that ended while nobody watched.
                started = self.cluster.started(source)
                managers = self.talk.managers([instance.project_id])
                job = new_job(
                    instance,
                    source,
                    self._starts if started else float("inf"),
                    self.rules,
                    managers,
                )
                self.jobs[instance_id] = replace(job, ahead=not started)
        for instance_id, job in list(self.jobs.items()):
            ask = self.asks.get(ask_key(step, job.host, instance_id))
            if ask is not None:
                job = self._job(instance_id, ask=ask, state=TOLD)
                if not job.early:
                    self._admit(instance_id, ask.notified_at)
            if instance_id in moving:
                action, action_id, state, _source = moving[instance_id]
                self._rewatch(instance_id, action, action_id, state, details[instance_id])
        # A host emptied in PREPARE_MAINTENANCE is maintained there too (hosts_to_maintain):
        # whatever the step, one found IN_MAINTENANCE has nobody at work on it now.
        for host in self.cluster.hosts.values():
            if host.state == HostState.IN_MAINTENANCE:
                self._submit_maintenance(host.name)

    def _rewatch(self, instance_id: str, action, action_id, state, info: dict) -> None:
        """A move recorded by an earlier run: wait for it, or start it again."""
        started_at = _epoch(info.get("started_at")) or time.time()
        job = self._job(instance_id, action=action, state=MOVING, started_at=started_at)
        if job.admitted_at is None:
            self._admit(instance_id, info.get("impact_start") or time.time())
        if state == ActionState.RUNNING and action_id:
            self._watch(self._job(instance_id, action_id=action_id), action_id)
        elif state == ActionState.RUNNING:
            pass  # OWN_ACTION: watched until it leaves the host
        else:
            # Intent recorded, start unknown: if the cloud shows it moving, watch the host;
            # if not, start it again.
            cloud = {i.instance_id: i for i in self.ctx.driver.list_instances(host=job.host)}
            info_now = cloud.get(instance_id)
            if info_now is not None and info_now.state == "ACTIVE":
                self._job(instance_id, action=None, state=TOLD if job.ask is not None else WAITING)

    # -- results of threads --------------------------------------------------------------
    def _collect(self) -> bool:
        moved: list[tuple[str, ActionResult, float]] = []
        progressed = False
        while True:
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                break
            progressed = True
            kind, name, outcome, at = item
            if kind == "host":
                self._maintaining.discard(name)
                if outcome is not None:
                    raise outcome
                self.cluster.set_host_state(name, HostState.MAINTENANCE_COMPLETE)
                if self.wf.gates.any("after"):
                    self._after_pending.add(name)
            elif kind == "move-error":
                raise outcome
            else:
                moved.append((name, outcome, at))
        if moved:
            self._record_moves(moved)
        return progressed

    def _record_moves(self, moved: list[tuple[str, ActionResult, float]]) -> None:
        """Moves that ended: the plan's view first, so that a host left empty goes into
        maintenance at once; then their record, INSTANCE_ACTION_DONE and any breach."""
        failures: list[tuple[str, str]] = []
        replanned: list[tuple[str, str]] = []
        ended: list[tuple[str, str | None, bool, dict[str, Any]]] = []
        for instance_id, result, at in moved:
            job = self.jobs[instance_id]
            if result.target_refused and self._plan_again(instance_id):
                replanned.append((instance_id, result.error or "the target refused it"))
                continue
            if result.status != ActionStatus.DONE:
                failures.append(
                    (instance_id, result.error or "still running after the move timeout")
                )
                continue
            evicted = job.action == InstanceAction.EVICTION
            if job.action == InstanceAction.OWN_ACTION:
                where = result.host  # None: its manager deleted it
            else:
                where = None if evicted else (result.host or self._target(instance_id))
            ended.append((instance_id, where, evicted, self._finish(instance_id, at, where)))
        if not failures and not self._cancelling:
            self._apply(hosts_to_maintain(self._snapshot()))
        done = []
        with self.ctx.db.transaction() as repo:
            ids = [instance_id for instance_id, _r, _a in moved]
            rows = {r.instance_id: r for r in repo.session_instances(self.ctx.session_id, ids)}
            # A refused target is planned again on the next round; any other failure stands.
            failed = [(i, "refused", e) for i, e in replanned]
            for instance_id, why, error in [*failed, *((i, "error", e) for i, e in failures)]:
                row = rows[instance_id]
                row.action_state = ActionState.FAILED
                row.details = {**(row.details or {}), why: error}
                repo.add_event(
                    self.ctx.session_id,
                    "instance.action",
                    instance_id,
                    ActionState.RUNNING,
                    ActionState.FAILED,
                    {why: error},
                )
            for instance_id, where, evicted, details in ended:
                job = self.jobs[instance_id]
                row = rows[instance_id]
                breach = self._breach(job, details.get("downtime"))
                if breach:
                    details["breaches"] = [*(row.details or {}).get("breaches", []), breach]
                    repo.add_event(
                        self.ctx.session_id, "constraint.breach", instance_id, data=breach
                    )
                row.action_state = ActionState.DONE
                row.state = "EVICTED" if evicted else ("ACTIVE" if where else "DELETED")
                row.host = where or row.host
                row.details = {**(row.details or {}), **details}
                repo.add_event(
                    self.ctx.session_id,
                    "instance.action",
                    instance_id,
                    ActionState.RUNNING,
                    ActionState.DONE,
                    {"host": where, "action": job.action, "downtime": details.get("downtime")},
                )
                if job.ask is not None and job.ask.has_manager:
                    done.append((job.project_id, instance_id))
            self.talk.talk.actions_done(repo, done)
        if failures:
            hosts = sorted({self.jobs[i].host for i, _e in failures})
            reasons = "; ".join(f"{instance_id}: {error}" for instance_id, error in failures)
            raise MoveFailed(f"could not empty {', '.join(hosts)}: {reasons}")

    def _finish(self, instance_id: str, at: float, where: str | None) -> dict[str, Any]:
        """The instance is back (or gone): update the plan's view; the row's new details."""
        job = self._job(instance_id, state=DONE)
        if where is None:
            self.cluster.remove(instance_id)
        else:
            self.cluster.update(instance_id, host=where, target=None)
        self.ledger.end(job.group_id, instance_id, at)
        took = max(at - (job.started_at or at), 0.0)
        if job.action in TARGETED:
            self.estimates = self.estimates.after(str(job.action), took)
        # Downtime as the engine measures it; a live migration does not interrupt.
        interrupting = job.action in (InstanceAction.MIGRATE, InstanceAction.EVICTION)
        return {
            "ended_at": utcnow().isoformat(),
            "back_at": at,
            "downtime": round(took * self.scale, 3) if interrupting else 0.0,
        }

    def _breach(self, job: Job, downtime: float | None) -> dict | None:
        limit = self.raw_rules.of(job.instance_id).max_interruption
        if limit is None or downtime is None or downtime <= limit:
            return None
        return {
            "constraint": "max_interruption_time",
            "instance_id": job.instance_id,
            "project_id": job.project_id,
            "limit": limit,
            "measured": downtime,
            "action": job.action,
            "host": job.host,
        }

    def _watch(self, job: Job, action_id: str) -> None:
        started = job.started_at or time.time()
        self._watchers.watch(
            job.host, InFlight(job.instance_id, action_id, str(job.action), started)
        )

    def _report(self, items: list[tuple]) -> None:
        """Results of the threads, for the loop (which is woken)."""
        for item in items:
            self._results.put(item)
        self._kick.set()

    def _submit_maintenance(self, host: str) -> None:
        self._maintaining.add(host)
        self.cluster.set_host_state(host, HostState.IN_MAINTENANCE)
        self._maintainers.submit(self._maintain, host)

    def _maintain(self, host: str) -> None:
        try:
            kind = self.kinds.get(host, HostKind.COMPUTE)
            self.wf.hosts.maintain(host, kind, disabled=host not in self._resumed_hosts)
            self._report([("host", host, None, time.time())])
        except BaseException as exc:  # handed to the loop, which raises it there
            self._report([("host", host, exc, time.time())])

    # -- managers' answers and their own actions -----------------------------------------
    def _poll_asks(self) -> bool:
        keys = [
            job.ask.key
            for job in self.jobs.values()
            if job.ask is not None and not job.ask.settled and job.state == TOLD
        ]
        if not keys:
            return False
        settled = self.talk.poll(keys)
        for instance_id, job in list(self.jobs.items()):
            if job.ask is not None and job.ask.key in settled:
                self._job(instance_id, ask=settled[job.ask.key])
        return bool(settled)

    def _watch_own_actions(self) -> bool:
        """OWN_ACTION: the manager moves the instance; done when it has left the host."""
        watched = [j for j in self.jobs.values() if j.state == MOVING and j.action_id is None]
        if not watched:
            return False
        gone = []
        for host in {job.host for job in watched}:
            there = {i.instance_id for i in self.ctx.driver.list_instances(host=host)}
            gone += [j for j in watched if j.host == host and j.instance_id not in there]
        timeout = self.ctx.settings.own_action_timeout
        late = [j for j in watched if j not in gone and time.time() - (j.started_at or 0) > timeout]
        if late:
            raise MoveFailed(
                "; ".join(f"{j.action} did not take {j.instance_id} off {j.host}" for j in late)
            )
        if not gone:
            return False
        where = {i.instance_id: i.host for i in self.ctx.driver.list_instances()}
        at = time.time()
        for job in gone:
            landed = where.get(job.instance_id)
            result = ActionResult("", ActionStatus.DONE, job.instance_id, landed)
            self._results.put(("move", job.instance_id, result, at))
        return True

    # -- moves ---------------------------------------------------------------------------
    def _target(self, instance_id: str) -> str | None:
        instance = self.cluster.instances.get(instance_id)
        return instance.target if instance else None

    def _start_moves(self, instance_ids: list[str]) -> None:
        now = time.time()
        with self.ctx.db.transaction() as repo:
            rows = {
                r.instance_id: r for r in repo.session_instances(self.ctx.session_id, instance_ids)
            }
            session = None
            for instance_id in instance_ids:
                job = self.jobs[instance_id]
                row = rows.get(instance_id)
                if row is None:
                    session = session or repo.get_session(self.ctx.session_id, with_deleted=True)
                    instance = self.cluster.instances[instance_id]
                    row = repo.add_instance(
                        session,
                        instance_id=instance_id,
                        name=instance_id,
                        project_id=job.project_id,
                        host=job.host,
                        size=instance.size,
                        state="ACTIVE",
                    )
                old = row.action_state
                target = self._target(instance_id) if job.action in TARGETED else None
                row.action = job.action
                row.action_state = ActionState.STARTING
                row.action_from = job.host
                row.action_id = None
                row.details = {
                    **(row.details or {}),
                    "target": target,
                    "started_at": utcnow().isoformat(),
                    "impact_start": job.admitted_at,
                    "group": job.group_id,
                    "recovery": self.rules.group(job.group_id).recovery_time,
                    "back_at": None,
                }
                repo.add_event(
                    self.ctx.session_id,
                    "instance.action",
                    instance_id,
                    old,
                    ActionState.STARTING,
                    {"action": job.action, "target": target, "from": job.host},
                )
        # The cloud calls go out together: a host's moves start at once, not one by one.
        calls = {}
        for instance_id in instance_ids:
            job = self._job(instance_id, started_at=now, state=MOVING)
            target = self._target(instance_id)
            if job.action == InstanceAction.EVICTION:
                self.cluster.update(instance_id, target=None)
            calls[instance_id] = self._callers.submit(
                self._call_move, instance_id, str(job.action), target
            )
        outcomes = {instance_id: call.result() for instance_id, call in calls.items()}
        for instance_id in instance_ids:
            action_id = outcomes[instance_id][0]
            job = self._job(instance_id, action_id=action_id)
            if action_id is not None:
                self._watch(job, action_id)  # before the record: it runs while we write
        failures = []
        with self.ctx.db.transaction() as repo:
            for row in repo.session_instances(self.ctx.session_id, list(outcomes)):
                action_id, error = outcomes[row.instance_id]
                if error is not None and self._plan_again(row.instance_id):
                    row.action_state = ActionState.FAILED  # this start; the next is planned
                    row.details = {**(row.details or {}), "refused": error}
                elif error is not None:
                    row.action_state = ActionState.FAILED
                    row.details = {**(row.details or {}), "error": error}
                    failures.append(f"{row.instance_id}: {error}")
                else:
                    row.action_state = ActionState.RUNNING
                    row.action_id = action_id
                repo.add_event(
                    self.ctx.session_id,
                    "instance.action",
                    row.instance_id,
                    ActionState.STARTING,
                    row.action_state,
                    {"action_id": action_id} if error is None else {"error": error},
                )
        if failures:
            raise MoveFailed("could not start moves: " + "; ".join(failures))

    def _plan_again(self, instance_id: str) -> bool:
        """A move whose target the cloud refused (another session took its room, or took it
        out of service, since we looked) goes back to be placed elsewhere, up to START_TRIES
        targets; False when that is spent, or the move had no target to change."""
        job = self.jobs[instance_id]
        target = self._target(instance_id)
        if job.action not in TARGETED or target is None:
            return False
        refused = self._job(instance_id, refused_by=job.refused_by | {target}).refused_by
        if len(refused) >= START_TRIES:
            if not self._room_may_come_back():
                return False
            # Room held by other sessions comes back: any target may do then.
            self._job(instance_id, refused_by=frozenset())
        self.cluster.update(instance_id, target=None)
        self._job(instance_id, state=TOLD, started_at=None, action_id=None)
        return True

    def _call_move(
        self, instance_id: str, action: str, target: str | None
    ) -> tuple[str | None, str | None]:
        """Start one move: (action id, None), or (None, the cloud's refusal)."""
        driver = self.ctx.driver
        try:
            if action == InstanceAction.LIVE_MIGRATE:
                return driver.live_migrate(instance_id, target), None
            if action == InstanceAction.MIGRATE:
                return driver.migrate(instance_id, target), None
            if action == InstanceAction.EVICTION:
                return driver.evict(instance_id), None
            return None, None  # OWN_ACTION: its manager moves it; the host is watched
        except DriverError as exc:
            return None, str(exc)


def _epoch(iso: str | None) -> float | None:
    return epoch(parse_timestamp(iso)) if iso else None
