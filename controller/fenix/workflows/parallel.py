"""Maintaining several hosts at once within the instances' constraints (the vnf workflow).

One loop, on the session's thread, reacts to what happened (a move ended, a host came back, a
manager answered, a lead or recovery time ran out) and starts whatever may start now: hosts
taken out of service when their instances have somewhere to go, instances told of their move,
moves started when their group admits one more impacted member, empty hosts maintained. The
plan comes from fenix.workflows.scheduler; this module does the I/O and keeps the record.

- Telling: an instance whose manager may act on the notice itself (OWN_ACTION) is told only
  when it may be impacted: the notice starts its impact. The others are told ahead of their
  host (those with a lead time on the hosts expected next; those of projects without a
  manager at once, there being nobody to wait for), so that lead times and answers are over
  when their host's turn comes.
- Moving: a member counts as impacted from the start of its move until recovery_time after it
  is back. Members of groups that allow few impacted at once may move ahead of their host, to a
  maintained host with room, while their group is idle: their chain of moves and recoveries
  then does not hold their host up.
- Waiting: one watcher thread per host being emptied long-polls the move expected to end
  first and, when it ends, looks once at the host for the others; each host's maintenance
  (action plug-ins, the cloud's part) runs on a thread of its own, through HostMaintenance,
  which writes the host rows. Only the loop writes instance rows and asks.

Every move is recorded as intent (STARTING) before the driver is called, as in
fenix.workflows.moves, so a resumed workflow finds it: RUNNING moves are waited on again,
asks already sent are not sent again, hosts in maintenance are maintained again.

Longer than most modules because the loop's steps share one state; each step is one method.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from fenix.drivers.base import ActionResult, ActionStatus, DriverError, HostKind
from fenix.engine.context import SessionContext
from fenix.engine.states import ActionState, HostState, InstanceAction, ProjectStep
from fenix.timeutil import parse_timestamp, utcnow
from fenix.workflows.base import WorkflowError
from fenix.workflows.constraints import Rules, allowed_actions, changed, load_rules
from fenix.workflows.conversation import Conversation
from fenix.workflows.hosts import HostMaintenance
from fenix.workflows.instance_talk import Ask, InstanceTalk, Notice, ask_key, epoch
from fenix.workflows.moves import ROOM_POLL_SECONDS, START_TRIES, MoveFailed
from fenix.workflows.scheduler import Cluster, Host, ImpactLedger, Instance, rank_hosts


class ParallelOwner(Protocol):
    """What the parallel steps use of the workflow they serve (fenix.workflows.vnf), named
    here so that the workflow imports them and not the other way round."""

    TIME_SCALE: ClassVar[float]
    ctx: SessionContext
    talk: Conversation
    hosts: HostMaintenance

    def default_action(self) -> str: ...


LOG = logging.getLogger(__name__)

WAITING, TOLD, MOVING, DONE = "WAITING", "TOLD", "MOVING", "DONE"
REFRESH_SECONDS = 5.0
"""How often the cloud's instances and the constraints are read again while the loop runs."""
_IN_PROGRESS = (HostState.PREPARING, HostState.IN_MAINTENANCE)
_TARGETED = (InstanceAction.MIGRATE, InstanceAction.LIVE_MIGRATE)


class Stuck(WorkflowError):
    """Nothing can move any more and work is left; the message says what blocks it."""


@dataclass(frozen=True)
class _InFlight:
    instance_id: str
    action_id: str
    kind: str
    started: float


@dataclass
class Job:
    """One instance to take off one host."""

    instance_id: str
    project_id: str
    host: str
    group_id: str
    early: bool
    """Told before its host starts (a lead time, or no manager; never OWN_ACTION): admitted
    against its group's limits only when it moves."""
    seq: float
    """Order of its host's start (inf while the host has not started): first come, first go."""
    state: str = WAITING
    ask: Ask | None = None
    admitted_at: float | None = None
    action: str | None = None
    action_id: str | None = None
    started_at: float | None = None
    ahead: bool = False
    """Moved ahead of its host (see _move)."""
    refused_by: set[str] = field(default_factory=set)
    """Targets the cloud refused it (another session took the room): not planned again."""


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
        self.move_seconds = 0.0
        """Running average of how long a move takes here, for the plan's estimates."""
        self._starts = 0
        self._results: queue.Queue[tuple] = queue.Queue()
        self._kick = threading.Event()
        self._closing = threading.Event()
        # One watcher per host being emptied, each with one long poll at a time, so that the
        # waiting does not take every thread of the cloud's API.
        self._waiters = ThreadPoolExecutor(8, thread_name_prefix="vnf-move")
        self._inflight: dict[str, dict[str, _InFlight]] = {}
        self._watched: set[str] = set()
        self._inflight_lock = threading.Lock()
        self._durations: dict[str, float] = {}
        """Running average of how long each kind of move takes here (wall-clock seconds)."""
        self._callers = ThreadPoolExecutor(6, thread_name_prefix="vnf-call")
        self._maintainers = ThreadPoolExecutor(64, thread_name_prefix="vnf-host")
        self._maintaining: set[str] = set()
        self._disabling: dict[str, Future] = {}
        self._resumed_hosts: set[str] = set()
        self._last_refresh = 0.0
        self._last_stop_check = 0.0
        self._loaded = False
        self._tried: tuple | None = None
        """What the cluster looked like when no host could start: no need to try again."""
        self._rechecked = False
        self._stuck_since: float | None = None
        """When nothing could start for want of room that other sessions hold (see
        _room_may_come_back); None while work goes on."""
        self._planned_at: tuple | None = None
        self.step = ProjectStep.PLANNED_MAINTENANCE

    # -- the loop ------------------------------------------------------------------------
    def run(self, step: ProjectStep, *, maintain: bool, new_hosts: bool, on_start=None) -> bool:
        """Work until every session host is maintained (`maintain`) or every started host is
        empty (not `maintain`: PREPARE_MAINTENANCE); start new hosts only if `new_hosts`.

        False when the session was deleted meanwhile (the caller leaves it to be ended). The
        same object may run PREPARE_MAINTENANCE and then PLANNED_MAINTENANCE: what it knows
        carries over; a fresh one (after a restart) reads it back from the cloud and the
        database. It is closed when a run fails, else by the caller (close()).
        """
        self.step = step
        try:
            if not self._loaded:
                self.load()
                self._resume(step, maintain)
            while True:
                self.ctx.check_stop()
                if self._deleted():
                    self.close()
                    return False
                self._kick.clear()
                progressed = self._collect()
                progressed |= self._poll_asks()
                progressed |= self._watch_own_actions()
                if maintain:
                    progressed |= self._maintain_empty_hosts()
                if new_hosts:
                    started = self._start_hosts(step, allow_due=self._may_use_due_hosts())
                    if started and on_start is not None:
                        on_start()
                        new_hosts = maintain
                    progressed |= started
                progressed |= self._tell_ahead(maintain)
                progressed |= self._tell(step)
                progressed |= self._move(maintain)
                if self._finished(maintain, new_hosts):
                    return True
                self._pause(progressed, new_hosts)
        except BaseException:
            self.close()
            raise

    def hosts_at_once(self, enough: int = 2) -> int:
        """How many due hosts could be emptied together now (counting up to `enough`),
        putting instances on hosts still due as the session's first hosts do. Only tried:
        nothing is reserved or started."""
        if not self._loaded:
            self.load()
        started: list[tuple[str, dict[str, str]]] = []
        seen = {h.name: (h.state, h.enabled) for h in self.cluster.hosts.values()}
        try:
            for host in self._candidates():
                if self.cluster.reserved(host):
                    continue  # a target of one tried before it
                instance_ids = [i.instance_id for i in self.cluster.on(host)]
                busy = {h.name for h in self.cluster.hosts.values() if h.state in _IN_PROGRESS}
                plan = self.cluster.place(instance_ids, exclude=busy | {host}, allow_due=True)
                if plan is None:
                    continue
                for instance_id, target in plan.items():
                    self.cluster.update(instance_id, target=target)
                self.cluster.set_host_state(host, HostState.PREPARING)
                started.append((host, plan))
                if len(started) >= enough:
                    break
            return len(started)
        finally:
            for host, plan in started:
                for instance_id in plan:
                    self.cluster.update(instance_id, target=None)
                state, enabled = seen[host]
                self.cluster.set_host_state(host, state)
                self.cluster.hosts[host].enabled = enabled

    def close(self) -> None:
        """Leave no thread behind: waiters stop polling, maintenance in progress is waited for."""
        self._closing.set()
        self._waiters.shutdown(wait=True, cancel_futures=True)
        self._callers.shutdown(wait=True)
        self._maintainers.shutdown(wait=True)

    def _pause(self, progressed: bool, new_hosts: bool) -> None:
        if progressed or not self._results.empty():
            self._rechecked = False
            self._stuck_since = None
            return
        if self._refresh():
            return  # the world changed under us: look again before waiting
        now = time.time()
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
        busy = self._maintaining or any(j.state == MOVING for j in self.jobs.values())
        open_asks = any(j.ask is not None and not j.ask.settled for j in self.jobs.values())
        if not (busy or timers or open_asks):
            if not self._rechecked:
                # Look at the cloud and the constraints once more before giving up.
                self._rechecked = True
                self._last_refresh = 0.0
                return
            if self._room_may_come_back():
                self._last_refresh = 0.0  # look at the cloud again after this wait
                self._kick.wait(ROOM_POLL_SECONDS)
                return
            raise Stuck(self._why_stuck(new_hosts))
        self._stuck_since = None
        self._rechecked = False
        limit = self.ctx.settings.poll_interval if open_asks else 0.5
        wait = min([limit] + [t - now for t in timers])
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
        now = time.monotonic()
        if now - self._last_stop_check < 0.5:
            return False
        self._last_stop_check = now
        with self.ctx.db.transaction() as repo:
            return repo.get_session(self.ctx.session_id, with_deleted=True).stop_requested

    def _finished(self, maintain: bool, new_hosts: bool) -> bool:
        if any(job.state != DONE for job in self.jobs.values() if self._started(job.host)):
            return False
        if maintain:
            hosts = [h for h in self.cluster.hosts.values() if h.state is not None]
            return not self._maintaining and all(
                h.state == HostState.MAINTENANCE_COMPLETE for h in hosts
            )
        preparing = [h for h in self.cluster.hosts.values() if h.state == HostState.PREPARING]
        if not preparing and new_hosts:
            return False  # the first hosts are still to be chosen
        return all(not self.cluster.on(h.name) for h in preparing)

    # -- reading the world ---------------------------------------------------------------
    def load(self) -> None:
        """What the cloud, the session and the constraints say now (the constraints in force
        recorded in the session's event log)."""
        self._loaded = True
        driver = self.ctx.driver
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            ours = {h.name: (h.state, h.position, h.kind) for h in session.hosts}
        self.kinds = {name: kind for name, (_s, _p, kind) in ours.items()}
        hosts = []
        for info in driver.list_hosts():
            state, position, _kind = ours.get(info.name, (None, len(ours), None))
            hosts.append(
                Host(
                    name=info.name,
                    capacity=info.capacity,
                    compute=info.kind == HostKind.COMPUTE,
                    enabled=info.enabled,
                    state=state,
                    position=position,
                )
            )
        instances = [
            Instance(i.instance_id, i.project_id, i.host, i.size) for i in driver.list_instances()
        ]
        self._read_rules([i.instance_id for i in instances], initial=True)
        self.cluster = Cluster(hosts, instances, self.rules)
        self.asks = self.talk.load()
        self._last_refresh = time.monotonic()

    def _read_rules(self, instance_ids: list[str], *, initial: bool = False) -> bool:
        """Read the constraints; log the values in force (initial) or what changed."""
        with self.ctx.db.transaction() as repo:
            rules = load_rules(repo, instance_ids)
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
                cluster.put(Instance(instance_id, info.project_id, info.host, info.size))
            elif known.host != info.host and not (job and job.state == MOVING):
                cluster.update(instance_id, host=info.host)
                if job is not None and job.state != DONE:
                    self._drop(job, info.host)
        for instance_id in [i for i in cluster.instances if i not in seen]:
            job = self.jobs.get(instance_id)
            if job is not None and job.state == MOVING:
                continue
            cluster.remove(instance_id)
            if job is not None and job.state != DONE:
                self._drop(job, None)
        if self._read_rules(list(seen)):
            cluster.set_rules(self.rules)
        return True

    def _sync_host_service(self) -> None:
        """Which hosts the cloud has in service now (another session takes hosts out); a
        target planned on a host gone out of service since is planned again."""
        cluster = self.cluster
        for info in self.ctx.driver.list_hosts():
            host = cluster.hosts.get(info.name)
            if host is not None and host.state not in _IN_PROGRESS:
                cluster.set_host_service(info.name, info.enabled, info.capacity)
        for instance in list(cluster.instances.values()):
            target = cluster.hosts.get(instance.target) if instance.target else None
            job = self.jobs.get(instance.instance_id)
            if target is not None and not target.enabled and not (job and job.state == MOVING):
                cluster.update(instance.instance_id, target=None)

    def _drop(self, job: Job, where: str | None) -> None:
        """The instance left its host by other hands (moved to `where`, or deleted: None):
        give back what was reserved for it and record where it is."""
        job.state = DONE
        if job.instance_id in self.cluster.instances:
            self.cluster.update(job.instance_id, target=None)
        with self.ctx.db.transaction() as repo:
            for row in repo.session_instances(self.ctx.session_id, [job.instance_id]):
                row.state = "ACTIVE" if where else "DELETED"
                row.host = where or row.host
            repo.add_event(
                self.ctx.session_id, "instance.gone", job.instance_id, job.host, where or "deleted"
            )

    def _resume(self, step: ProjectStep, maintain: bool) -> None:
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
        for host in self.cluster.hosts.values():
            if host.state in _IN_PROGRESS:
                self._resumed_hosts.add(host.name)  # disable them again: the cloud may not know
                self._open_jobs(step, host.name)
        for instance_id, (_action, _id, _state, source) in moving.items():
            instance = self.cluster.instances.get(instance_id)
            if instance_id not in self.jobs and instance is not None and source is not None:
                # A move ahead of its host, or one that ended while nobody watched.
                seq = self._starts if self._started(source) else float("inf")
                self._open_job(instance, source, seq)
                self.jobs[instance_id].ahead = not self._started(source)
        for job in self.jobs.values():
            ask = self.asks.get(ask_key(step, job.host, job.instance_id))
            if ask is not None:
                job.ask, job.state = ask, TOLD
                if not job.early:
                    self._admit(job, ask.notified_at)
            if job.instance_id in moving:
                action, action_id, state, _source = moving[job.instance_id]
                self._rewatch(job, action, action_id, state, details[job.instance_id])
        if maintain:
            for host in self.cluster.hosts.values():
                if host.state == HostState.IN_MAINTENANCE:
                    self._submit_maintenance(host.name)

    def _rewatch(self, job: Job, action, action_id, state, info: dict) -> None:
        """A move recorded by an earlier run: wait for it, or start it again."""
        job.action = action
        job.state = MOVING
        job.started_at = _epoch(info.get("started_at")) or time.time()
        if job.admitted_at is None:
            self._admit(job, info.get("impact_start") or time.time())
        if state == ActionState.RUNNING and action_id:
            job.action_id = action_id
            self._watch(job, action_id)
        elif state == ActionState.RUNNING:
            pass  # OWN_ACTION: watched until it leaves the host
        else:
            # Intent recorded, start unknown: if the cloud shows it moving, watch the host;
            # if not, start it again.
            cloud = {i.instance_id: i for i in self.ctx.driver.list_instances(host=job.host)}
            info_now = cloud.get(job.instance_id)
            if info_now is not None and info_now.state == "ACTIVE":
                job.action = None
                job.state = TOLD if job.ask is not None else WAITING

    # -- results of threads --------------------------------------------------------------
    def _collect(self) -> bool:
        moved: list[tuple[Job, ActionResult, float]] = []
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
            elif kind == "move-error":
                raise outcome
            else:
                moved.append((self.jobs[name], outcome, at))
        if moved:
            self._record_moves(moved)
        return progressed

    def _record_moves(self, moved: list[tuple[Job, ActionResult, float]]) -> None:
        """Moves that ended: the plan's view first, so that a host left empty goes into
        maintenance at once; then their record, INSTANCE_ACTION_DONE and any breach."""
        failures: list[tuple[Job, str]] = []
        replanned: list[tuple[Job, str]] = []
        ended: list[tuple[Job, str | None, bool, dict[str, Any]]] = []
        for job, result, at in moved:
            if result.target_refused and self._plan_again(job):
                replanned.append((job, result.error or "the target refused it"))
                continue
            if result.status != ActionStatus.DONE:
                failures.append((job, result.error or "still running after the move timeout"))
                continue
            evicted = job.action == InstanceAction.EVICTION
            if job.action == InstanceAction.OWN_ACTION:
                where = result.host  # None: its manager deleted it
            else:
                where = None if evicted else (result.host or self._target(job))
            ended.append((job, where, evicted, self._finish(job, at, where)))
        if not failures:
            self._maintain_empty_hosts()
        done = []
        with self.ctx.db.transaction() as repo:
            ids = [job.instance_id for job, _r, _a in moved]
            rows = {r.instance_id: r for r in repo.session_instances(self.ctx.session_id, ids)}
            # A refused target is planned again on the next round; any other failure stands.
            failed = [(job, "refused", e) for job, e in replanned]
            for job, why, error in [*failed, *((job, "error", e) for job, e in failures)]:
                row = rows[job.instance_id]
                row.action_state = ActionState.FAILED
                row.details = {**(row.details or {}), why: error}
                repo.add_event(
                    self.ctx.session_id,
                    "instance.action",
                    job.instance_id,
                    ActionState.RUNNING,
                    ActionState.FAILED,
                    {why: error},
                )
            for job, where, evicted, details in ended:
                row = rows[job.instance_id]
                breach = self._breach(job, details.get("downtime"))
                if breach:
                    details["breaches"] = [*(row.details or {}).get("breaches", []), breach]
                    repo.add_event(
                        self.ctx.session_id, "constraint.breach", job.instance_id, data=breach
                    )
                row.action_state = ActionState.DONE
                row.state = "EVICTED" if evicted else ("ACTIVE" if where else "DELETED")
                row.host = where or row.host
                row.details = {**(row.details or {}), **details}
                repo.add_event(
                    self.ctx.session_id,
                    "instance.action",
                    job.instance_id,
                    ActionState.RUNNING,
                    ActionState.DONE,
                    {"host": where, "action": job.action, "downtime": details.get("downtime")},
                )
                if job.ask is not None and job.ask.has_manager:
                    done.append((job.project_id, job.instance_id))
            self.talk.talk.actions_done(repo, done)
        if failures:
            hosts = sorted({job.host for job, _e in failures})
            reasons = "; ".join(f"{job.instance_id}: {error}" for job, error in failures)
            raise MoveFailed(f"could not empty {', '.join(hosts)}: {reasons}")

    def _finish(self, job: Job, at: float, where: str | None) -> dict[str, Any]:
        """The instance is back (or gone): update the plan's view; the row's new details."""
        job.state = DONE
        if where is None:
            self.cluster.remove(job.instance_id)
        else:
            self.cluster.update(job.instance_id, host=where, target=None)
        self.ledger.end(job.group_id, job.instance_id, at)
        started = job.started_at or at
        took = max(at - started, 0.0)
        if job.action in _TARGETED:
            last = self.move_seconds or took
            self.move_seconds = 0.8 * last + 0.2 * took
            kind = str(job.action)
            self._durations[kind] = 0.8 * self._durations.get(kind, took) + 0.2 * took
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
        """Have the move waited for by its host's watcher (started if there is none)."""
        move = _InFlight(job.instance_id, action_id, str(job.action), job.started_at or time.time())
        with self._inflight_lock:
            self._inflight.setdefault(job.host, {})[job.instance_id] = move
            if job.host in self._watched:
                return
            self._watched.add(job.host)
        self._waiters.submit(self._watch_host, job.host)

    def _watch_host(self, host: str) -> None:
        """Wait for the moves off one host: a long poll on the one expected to end first; when
        it ends, one look at the host tells which others have left it too."""
        driver, timeout = self.ctx.driver, self.ctx.settings.move_timeout
        try:
            while not self._closing.is_set():
                with self._inflight_lock:
                    moves = list(self._inflight.get(host, {}).values())
                    if not moves:
                        self._watched.discard(host)
                        return
                first = min(moves, key=lambda m: m.started + self._durations.get(m.kind, 0.0))
                overdue = time.time() - first.started > timeout
                result = driver.wait_action(first.action_id, timeout=0.0 if overdue else 1.0)
                if result.status == ActionStatus.RUNNING and not overdue:
                    continue
                ended = [(first, result)]
                others = [m for m in moves if m is not first]
                if others:
                    there = {i.instance_id: i for i in driver.list_instances(host=host)}
                    for move in others:
                        info = there.get(move.instance_id)
                        if info is None:  # it has left the host: the move is over
                            ended.append(
                                (
                                    move,
                                    ActionResult(
                                        move.action_id, ActionStatus.DONE, move.instance_id
                                    ),
                                )
                            )
                        elif info.state == "ACTIVE":  # not moving (any more): ask how it went
                            late = driver.wait_action(move.action_id, timeout=0.0)
                            if late.status != ActionStatus.RUNNING:
                                ended.append((move, late))
                at = time.time()
                with self._inflight_lock:
                    for move, _result in ended:
                        self._inflight[host].pop(move.instance_id, None)
                for move, outcome in ended:
                    self._results.put(("move", move.instance_id, outcome, at))
                self._kick.set()
        except DriverError as exc:
            with self._inflight_lock:
                self._watched.discard(host)
            self._results.put(("move-error", host, exc, time.time()))
            self._kick.set()

    def _submit_maintenance(self, host: str) -> None:
        self._maintaining.add(host)
        self.cluster.set_host_state(host, HostState.IN_MAINTENANCE)
        self._maintainers.submit(self._maintain, host)

    def _maintain(self, host: str) -> None:
        try:
            kind = self.kinds.get(host, HostKind.COMPUTE)
            self.wf.hosts.maintain(host, kind, disabled=host not in self._resumed_hosts)
            self._results.put(("host", host, None, time.time()))
        except BaseException as exc:  # handed to the loop, which raises it there
            self._results.put(("host", host, exc, time.time()))
        self._kick.set()

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
        for job in self.jobs.values():
            if job.ask is not None and job.ask.key in settled:
                job.ask = settled[job.ask.key]
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

    # -- hosts ---------------------------------------------------------------------------
    def _started(self, host: str) -> bool:
        return self.cluster.hosts[host].state in _IN_PROGRESS

    def _may_use_due_hosts(self) -> bool:
        """Put instances on hosts still due only to get the first hosts going, or if nothing
        else is in progress: otherwise wait for a maintained host."""
        states = [h.state for h in self.cluster.hosts.values() if h.state is not None]
        return HostState.MAINTENANCE_COMPLETE not in states or not any(
            s in _IN_PROGRESS for s in states
        )

    def _candidates(self) -> list[str]:
        """Hosts that may start: due, in service, and no instance on its way to them."""
        return [
            h.name
            for h in self.cluster.hosts.values()
            if h.state == HostState.PENDING and h.enabled and not self.cluster.reserved(h.name)
        ]

    def _outlook(self, candidates: list[str]):
        waiting: Counter[str] = Counter(
            job.group_id
            for job in self.jobs.values()
            if job.admitted_at is None and self._started(job.host) and job.state != DONE
        )
        return rank_hosts(
            self.cluster,
            self.ledger,
            candidates,
            now=time.time(),
            pending=set(candidates),
            waiting=waiting,
            notice_ready=self._notice_ready,
            move_seconds=self.move_seconds,
            quantum=1.0 / self.scale,
        )

    def _notice_ready(self, instance_id: str) -> float:
        job = self.jobs.get(instance_id)
        if job is not None and job.ask is not None:
            return job.ask.actions_at
        rule = self.rules.of(instance_id)
        early = rule.lead_time > 0 and not rule.own_action
        return time.time() + (rule.lead_time if early else 0.0)

    def _start_hosts(self, step: ProjectStep, *, allow_due: bool) -> bool:
        """Take hosts out of service, best first, while the instances of one have a place.

        After each start the others are ranked again: the members it holds now wait their
        turn in their groups, which may make another host a better choice than the runner-up.
        """
        if self._tried == (self.cluster.version, allow_due):
            return False
        started = False
        unplaceable: set[str] = set()
        while candidates := [c for c in self._candidates() if c not in unplaceable]:
            room = self.cluster.room(allow_due=allow_due)
            if min(sum(i.size for i in self.cluster.on(h)) for h in candidates) > room:
                break  # not even the lightest host fits: no need to try each
            outlook = self._outlook(candidates)
            due_order = {o.host: n for n, o in enumerate(outlook)}
            for option in outlook:
                plan = self._plan_host(option.host, allow_due, due_order)
                if plan is not None:
                    self._start_host(step, option, plan)
                    started = True
                    break
                unplaceable.add(option.host)
            else:
                break
        if not started:
            self._tried = (self.cluster.version, allow_due)
        return started

    def _plan_host(
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

    def _start_host(self, step: ProjectStep, option, plan: dict[str, str]) -> None:
        host = option.host
        for instance_id, target in plan.items():
            self.cluster.update(instance_id, target=target)
        self._take_out_of_service(host)
        self.cluster.set_host_state(host, HostState.PREPARING)
        self._starts += 1
        self._open_jobs(step, host)
        LOG.info(
            "session %s: %s out of service, delay %.1f s, chain %.1f s, targets %s",
            self.ctx.session_id,
            host,
            option.delay * self.scale,
            option.chain * self.scale,
            plan,
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

    def _planned_hosts(self, outlook) -> set[str]:
        """The hosts expected next: two per host in progress (the plan shifts as hosts come
        back), whose instances with a manager and a lead time are told early."""
        slots = sum(1 for h in self.cluster.hosts.values() if h.state in _IN_PROGRESS)
        return {o.host for o in outlook[: 2 * max(slots, 1)]}

    def _open_jobs(self, step: ProjectStep, host: str) -> None:
        """A job for every instance on a host that has started."""
        for instance in self.cluster.on(host):
            job = self.jobs.get(instance.instance_id)
            if job is not None and job.host == host and job.state != DONE:
                job.seq = min(job.seq, self._starts)
                continue
            self._open_job(instance, host, self._starts)

    def _open_job(self, instance: Instance, host: str, seq: float) -> None:
        self.jobs[instance.instance_id] = Job(
            instance_id=instance.instance_id,
            project_id=instance.project_id,
            host=host,
            group_id=self.rules.of(instance.instance_id).group_id,
            early=self._early(instance.instance_id),
            seq=seq,
        )

    def _maintain_empty_hosts(self) -> bool:
        progressed = False
        busy = {j.host for j in self.jobs.values() if j.state != DONE}
        for host in self.cluster.hosts.values():
            if host.state != HostState.PREPARING or host.name in self._maintaining:
                continue
            if host.name in busy:
                continue
            disabling = self._disabling.pop(host.name, None)
            if disabling is not None:
                disabling.result()  # a refusal raises here, as the cloud's own error
            there = self.ctx.driver.list_instances(host=host.name)
            if there:
                # Arrived since it was planned (or not seen): plan them too.
                for info in there:
                    if info.instance_id not in self.cluster.instances:
                        self.cluster.put(
                            Instance(info.instance_id, info.project_id, info.host, info.size)
                        )
                self._open_jobs(self.step, host.name)
                continue
            self._submit_maintenance(host.name)
            progressed = True
        return progressed

    # -- telling and moving ---------------------------------------------------------------
    def _tell_ahead(self, maintain: bool) -> bool:
        """Tell instances ahead of their host, so that their lead time runs while the hosts
        in progress are maintained: those of projects without a manager on every host due
        (there is nobody to tell: their asks are only recorded), those whose manager is to be
        told on the hosts expected next (PLANNED_MAINTENANCE only). Looked at again whenever
        a host starts or comes back, as the hosts expected next change."""
        mark = (self._starts, len(self._maintaining))
        if self._planned_at == mark:
            return False
        self._planned_at = mark
        candidates = self._candidates()
        waiting = [
            (host, instance)
            for host in candidates
            for instance in self.cluster.on(host)
            if instance.instance_id not in self.jobs and self._early(instance.instance_id)
        ]
        managed = [w for w in waiting if self.talk.has_manager(w[1].project_id)]
        planned = self._planned_hosts(self._outlook(candidates)) if maintain and managed else set()
        for host, instance in waiting:
            if host in planned or not self.talk.has_manager(instance.project_id):
                self._open_job(instance, host, float("inf"))
        return False

    def _early(self, instance_id: str) -> bool:
        """Told ahead of its host: it has a lead time to serve, or nobody to act on the notice
        (no manager) so telling costs nothing later. Never when its manager is to move it
        (OWN_ACTION): for it the notice is the start of the move."""
        rule = self.rules.of(instance_id)
        if rule.own_action:
            return False
        if rule.lead_time > 0:
            return True
        instance = self.cluster.instances.get(instance_id)
        return instance is not None and not self.talk.has_manager(instance.project_id)

    def _tell(self, step: ProjectStep) -> bool:
        now = time.time()
        notices: list[tuple[Job, Notice]] = []
        for job in sorted(self.jobs.values(), key=lambda j: (j.seq, j.instance_id)):
            if job.state != WAITING:
                continue
            if not job.early:
                # Its manager may act as soon as it is told: that is its impact's start.
                if not self._started(job.host) or not self.ledger.admits(
                    self.rules.group(job.group_id), now
                ):
                    continue
                self._admit(job, now)
            notice = Notice(
                step,
                job.host,
                job.instance_id,
                job.project_id,
                self.rules.of(job.instance_id).lead_time,
                allowed_actions(self.raw_rules.of(job.instance_id), own_action=not job.early),
            )
            notices.append((job, notice))
        if not notices:
            return False
        sent = self.talk.send([n for _j, n in notices])
        for job, notice in notices:
            job.ask = sent[notice.key]
            job.state = TOLD
        return True

    def _admit(self, job: Job, at: float) -> None:
        job.admitted_at = at
        group = self.rules.group(job.group_id)
        self.ledger.begin(job.group_id, job.instance_id, at, group.recovery_time)

    def _ready(self, job: Job, now: float) -> bool:
        """Told, answered (or no answer to wait for) and past its lead time."""
        ask = job.ask
        return job.state == TOLD and ask is not None and ask.settled and now >= ask.actions_at

    def _move(self, maintain: bool) -> bool:
        """Start every move that may start: instances on hosts being emptied, first come
        first go, as their groups admit them; and, ahead of their host, members of groups
        that allow few impacted at once, when their group is idle and a maintained host has
        room (so that a group's chain of moves and recoveries does not hold up its hosts)."""
        now = time.time()
        if any(self._ready(job, now) for job in self.jobs.values()):
            # Targets are chosen on what the cloud says just now, not on the last refresh: a
            # host another session took out of service since would refuse the move.
            self._sync_host_service()
        starting: list[Job] = []
        ahead = sum(1 for j in self.jobs.values() if j.state == MOVING and j.ahead)
        room_ahead = max(1, sum(1 for h in self.cluster.hosts.values() if h.state in _IN_PROGRESS))
        for job in sorted(self.jobs.values(), key=lambda j: (j.seq, j.instance_id)):
            if not self._ready(job, now):
                continue
            group = self.rules.group(job.group_id)
            if job.admitted_at is None and not self.ledger.admits(group, now):
                continue
            if self._started(job.host):
                job.action = job.action or self._decide(job)
                placed = job.action not in _TARGETED or self._target(job) or self._place(job)
            elif maintain and group.max_impacted is not None and ahead < room_ahead:
                job.action = job.action or self._decide(job)
                placed = job.action in _TARGETED and self._place(job, ahead=True)
                job.ahead = bool(placed)
                ahead += bool(placed)
            else:
                continue
            if not placed:
                continue
            if job.admitted_at is None:
                self._admit(job, now)
            starting.append(job)
        if not starting:
            return False
        self._start_moves(starting)
        return True

    def _decide(self, job: Job) -> str:
        """The manager's answer where it is one of the allowed actions, else the default."""
        ask = job.ask
        assert ask is not None
        settings = self.ctx.settings
        if ask.nacked and settings.on_nack == "fail":
            raise WorkflowError(f"{job.project_id} answered {ask.reply} for {job.instance_id}")
        if not ask.answered and settings.on_no_manager == "fail":
            raise WorkflowError(f"no answer about {job.instance_id} from {job.project_id}")
        rule = self.raw_rules.of(job.instance_id)
        if ask.answered and not ask.nacked and ask.action in ask.allowed_actions:
            return ask.action
        if ask.answered and ask.action and ask.action not in ask.allowed_actions:
            with self.ctx.db.transaction() as repo:
                repo.add_event(
                    self.ctx.session_id,
                    "instance.action.refused",
                    job.instance_id,
                    None,
                    ask.action,
                    {"allowed": list(ask.allowed_actions)},
                )
        action = rule.migration_type or self.wf.default_action()
        if action == InstanceAction.OWN_ACTION and not (ask.answered and not ask.nacked):
            return self.wf.default_action()  # nobody to carry it out
        return action

    def _target(self, job: Job) -> str | None:
        instance = self.cluster.instances.get(job.instance_id)
        return instance.target if instance else None

    def _place(self, job: Job, *, ahead: bool = False) -> bool:
        """A target for one instance: ahead of its host, only where it will stay."""
        busy = {h.name for h in self.cluster.hosts.values() if h.state in _IN_PROGRESS}
        plan = self.cluster.place(
            [job.instance_id],
            exclude=busy | {job.host} | job.refused_by,
            allow_due=not ahead and self._may_use_due_hosts(),
        )
        if plan is None:
            return False
        self.cluster.update(job.instance_id, target=plan[job.instance_id])
        return True

    def _start_moves(self, jobs: list[Job]) -> None:
        now = time.time()
        with self.ctx.db.transaction() as repo:
            rows = {
                r.instance_id: r
                for r in repo.session_instances(self.ctx.session_id, [j.instance_id for j in jobs])
            }
            session = None
            for job in jobs:
                row = rows.get(job.instance_id)
                if row is None:
                    session = session or repo.get_session(self.ctx.session_id, with_deleted=True)
                    instance = self.cluster.instances[job.instance_id]
                    row = repo.add_instance(
                        session,
                        instance_id=job.instance_id,
                        name=job.instance_id,
                        project_id=job.project_id,
                        host=job.host,
                        size=instance.size,
                        state="ACTIVE",
                    )
                old = row.action_state
                target = self._target(job) if job.action in _TARGETED else None
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
                    job.instance_id,
                    old,
                    ActionState.STARTING,
                    {"action": job.action, "target": target, "from": job.host},
                )
        # The cloud calls go out together: a host's moves start at once, not one by one.
        calls = {}
        for job in jobs:
            job.started_at = now
            job.state = MOVING
            target = self._target(job)
            if job.action == InstanceAction.EVICTION:
                self.cluster.update(job.instance_id, target=None)
            calls[job.instance_id] = self._callers.submit(
                self._call_move, job.instance_id, str(job.action), target
            )
        outcomes = {instance_id: call.result() for instance_id, call in calls.items()}
        for job in jobs:
            action_id = outcomes[job.instance_id][0]
            job.action_id = action_id
            if action_id is not None:
                self._watch(job, action_id)  # before the record: it runs while we write
        failures = []
        by_id = {job.instance_id: job for job in jobs}
        with self.ctx.db.transaction() as repo:
            for row in repo.session_instances(self.ctx.session_id, list(outcomes)):
                action_id, error = outcomes[row.instance_id]
                job = by_id[row.instance_id]
                if error is not None and self._plan_again(job):
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

    def _plan_again(self, job: Job) -> bool:
        """A move whose target the cloud refused (another session took its room, or took it
        out of service, since we looked) goes back to be placed elsewhere, up to START_TRIES
        targets; False when that is spent, or the move had no target to change."""
        target = self._target(job)
        if job.action not in _TARGETED or target is None:
            return False
        job.refused_by.add(target)
        if len(job.refused_by) >= START_TRIES:
            if not self._room_may_come_back():
                return False
            # Room held by other sessions comes back: any target may do then.
            job.refused_by.clear()
        self.cluster.update(job.instance_id, target=None)
        job.state, job.started_at, job.action_id = TOLD, None, None
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

    # -- when nothing moves ----------------------------------------------------------------
    def _why_stuck(self, new_hosts: bool) -> str:
        waiting = [j for j in self.jobs.values() if j.state in (WAITING, TOLD)]
        if waiting:
            ids = ", ".join(sorted(j.instance_id for j in waiting)[:5])
            return f"instances that cannot be placed under their constraints: {ids}"
        pending = self._candidates()
        if pending and new_hosts:
            return (
                f"no host can be emptied: the others lack room for the instances on any of "
                f"{', '.join(sorted(pending)[:5])} under their constraints; scale in, relax the "
                f"constraints or add hosts, then resume the session with PUT"
            )
        return "no work can start"


def _epoch(iso: str | None) -> float | None:
    return epoch(parse_timestamp(iso)) if iso else None
