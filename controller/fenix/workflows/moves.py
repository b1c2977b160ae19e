"""Emptying a host: carry out the managers' instance actions, each recorded before it starts.

An instance's row goes STARTING (intent, committed) -> RUNNING (with the cloud's action id) ->
DONE or FAILED. A workflow resumed after a crash finds STARTING rows and checks the cloud
before starting again, and waits on RUNNING ones instead of starting a second move.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from fenix.db.models import SessionInstance
from fenix.drivers.base import ActionResult, ActionStatus, DriverError
from fenix.engine.context import SessionContext
from fenix.planner.one_at_a_time import first_fit, room_by_preference
from fenix.states import ActionState, InstanceAction
from fenix.timeutil import utcnow
from fenix.workflows.cloudview import CloudView
from fenix.workflows.conversation import Conversation

LOG = logging.getLogger(__name__)


START_TRIES = 3
"""Targets tried for one move whose start the cloud refuses (another session took the room
between our look and the move): each refusal plans it elsewhere, the last one fails it."""


ROOM_POLL_SECONDS = 2.0
"""How often a move waiting for room that other sessions hold looks at the cloud again."""


class MoveFailed(Exception):
    """One or more instances could not be moved; the message names them and why."""


class InstanceMover:
    def __init__(self, ctx: SessionContext, talk: Conversation | None) -> None:
        self.ctx = ctx
        self.talk = talk
        """Tells each project of every move carried out for it (INSTANCE_ACTION_DONE)."""
        self.view = CloudView(ctx.driver)
        """What each host holds, for choosing targets: the workflow forgets it at each step."""
        self._room_deadlines: dict[str, float] = {}
        """Per instance: until when it may wait for room that other sessions hold."""

    def empty_host(self, host: str, actions: dict[str, str], default_action: str) -> list[str]:
        """Move every instance off `host` as asked; returns the ids that were moved.

        The host's moves are recorded together: their intents in one transaction, then the
        cloud calls, then their starts in one, and their ends in one (a transaction per
        instance and step made a host of 10 instances cost some 50 commits)."""
        moved: list[str] = []
        failures: list[str] = []
        rows = self._instances_on(host)
        free = self.free_capacity(exclude=host)
        plan: list[tuple[SessionInstance, str, str | None]] = []
        for row in rows:
            action = actions.get(row.instance_id) or row.action or default_action
            if action not in (InstanceAction.MIGRATE, InstanceAction.LIVE_MIGRATE):
                plan.append((row, action, None))
                continue
            target = first_fit(free, row.size)
            if target is None and self.view.loaded:
                # The view may be behind the cloud (others freed room since): look again.
                self.view.forget()
                free = self.free_capacity(exclude=host)
                target = first_fit(free, row.size)
            if target is None and self._wait_for_room(row.instance_id, host, row.size):
                free = self.free_capacity(exclude=host)
                target = first_fit(free, row.size)
            if target is None:
                failures.append(f"{row.instance_id}: no host has room for it")
                continue
            free[target] -= row.size
            plan.append((row, action, target))
        for instance_id, refusal in self._start_all(host, plan).items():
            self._elsewhere(instance_id, host, refusal)
        # Only what was started is waited for: an instance with no room has no move to wait on
        # (watching it "until it leaves" held the failure back for own_action_timeout).
        planned = [row.instance_id for row, _action, _target in plan]
        for instance_id, error in self._finish_all(host, planned):
            if error:
                failures.append(f"{instance_id}: {error}")
            else:
                moved.append(instance_id)
        if failures:
            raise MoveFailed(f"could not empty {host}: " + "; ".join(failures))
        return moved

    def _start_all(
        self, host: str, plan: list[tuple[SessionInstance, str, str | None]]
    ) -> dict[str, str]:
        """Start these moves as _start does one by one (each recorded STARTING before the
        cloud is called); the cloud's refusals by instance id."""
        starting: list[tuple[SessionInstance, str, str | None]] = []
        for row, action, target in plan:
            if row.action_from == host and row.action_state in (
                ActionState.RUNNING,
                ActionState.DONE,
            ):
                continue  # started before a restart; _finish waits for it
            if row.action_state == ActionState.STARTING and row.action_from == host:
                # Interrupted between intent and start: the one-by-one path checks the cloud.
                refusal = self._start(row.instance_id, host, action, target)
                if refusal is not None:
                    self._elsewhere(row.instance_id, host, refusal)
                continue
            starting.append((row, action, target))
        if not starting:
            return {}
        intents: dict[str, dict] = {}
        with self.ctx.db.transaction() as repo:
            fresh = {
                r.instance_id: r
                for r in repo.session_instances(
                    self.ctx.session_id, [row.instance_id for row, _a, _t in starting]
                )
            }
            for row, action, target in starting:
                details = intents[row.instance_id] = {
                    **(row.details or {}),
                    "target": target,
                    "started_at": utcnow().isoformat(),
                }
                self._set(
                    repo,
                    fresh[row.instance_id],
                    action=action,
                    action_state=ActionState.STARTING,
                    action_from=host,
                    action_id=None,
                    details=details,
                )
        outcomes: dict[str, tuple[str | None, str | None]] = {}
        driver = self.ctx.driver
        for row, action, target in starting:
            try:
                if action == InstanceAction.LIVE_MIGRATE:
                    outcomes[row.instance_id] = (driver.live_migrate(row.instance_id, target), None)
                elif action == InstanceAction.MIGRATE:
                    outcomes[row.instance_id] = (driver.migrate(row.instance_id, target), None)
                elif action == InstanceAction.EVICTION:
                    outcomes[row.instance_id] = (driver.evict(row.instance_id), None)
                else:  # OWN_ACTION: the manager moves it; we watch the host
                    outcomes[row.instance_id] = (None, None)
            except DriverError as exc:
                outcomes[row.instance_id] = (None, str(exc))
        refusals: dict[str, str] = {}
        with self.ctx.db.transaction() as repo:
            fresh = {
                r.instance_id: r
                for r in repo.session_instances(self.ctx.session_id, list(outcomes))
            }
            for row, _action, _target in starting:
                action_id, error = outcomes[row.instance_id]
                if error is not None:
                    refusals[row.instance_id] = error
                    # The refused target stays in the details: _elsewhere tries another.
                    self._set(
                        repo,
                        fresh[row.instance_id],
                        action_state=ActionState.FAILED,
                        details={**intents[row.instance_id], "error": error},
                    )
                else:
                    self._set(
                        repo,
                        fresh[row.instance_id],
                        action_state=ActionState.RUNNING,
                        action_id=action_id,
                    )
        return refusals

    def _finish_all(self, host: str, instance_ids: list[str]) -> list[tuple[str, str | None]]:
        """Wait for these moves, as _finish does one by one; the moves that ended as asked
        are recorded (and told to their projects) in one transaction. (id, error or None)."""
        with self.ctx.db.transaction() as repo:
            rows = {
                r.instance_id: r for r in repo.session_instances(self.ctx.session_id, instance_ids)
            }
        outcomes: dict[str, str | None] = {}
        done: dict[str, ActionResult] = {}
        for instance_id in instance_ids:
            row = rows[instance_id]
            result = None
            if row.action_state == ActionState.RUNNING and row.action_id is not None:
                result = self._wait(row.action_id)
                if result.status == ActionStatus.DONE and not result.target_refused:
                    done[instance_id] = result
                    continue
            outcomes[instance_id] = self._finish(instance_id, host, result)  # one by one
        if done:
            with self.ctx.db.transaction() as repo:
                fresh = repo.session_instances(self.ctx.session_id, list(done))
                told = []
                for row in fresh:
                    result = done[row.instance_id]
                    evicted = row.action == InstanceAction.EVICTION
                    where = None if evicted else result.host or row.host
                    self.view.moved(row.instance_id, where)
                    self._set(
                        repo,
                        row,
                        action_state=ActionState.DONE,
                        host=result.host or row.host,
                        state="EVICTED" if evicted else "ACTIVE",
                    )
                    told.append((row.project_id, row.instance_id))
                if self.talk is not None:
                    self.talk.actions_done(repo, told)
        return [(i, None if i in done else outcomes[i]) for i in instance_ids]

    # -- choosing where to go ------------------------------------------------------------
    def free_capacity(self, exclude: str) -> dict[str, int]:
        """Room on each host an instance may go to, best places first (the planner's order,
        fenix.planner.one_at_a_time)."""
        hosts, reserved = self.view.places(self._session_places)
        return room_by_preference(hosts, self.view.used(), reserved, exclude=exclude)

    def _session_places(self) -> dict[str, tuple[str, int]]:
        with self.ctx.db.transaction() as repo:
            rows = repo.session_host_rows(self.ctx.session_id)
            return {h.name: (h.state, h.position) for h in rows}

    def _elsewhere(self, instance_id: str, host: str, refusal: str) -> bool:
        """The cloud refused the move's target (another session took its room since we
        looked, or took it out of service): start it again towards another, looking at the
        cloud anew, up to START_TRIES targets. False when none is left (the row stays
        FAILED, with the refusal)."""
        row = self._row(instance_id)
        details = dict(row.details or {})
        refused = [*details.get("refused_targets", []), details.get("target")]
        target = None
        if len(refused) < START_TRIES:
            self.view.forget()  # the cloud knows better than the view: look again
            target = first_fit(self.free_capacity(exclude=host), row.size, refused)
        if target is None and self._wait_for_room(instance_id, host, row.size):
            # Room came back since those refusals: any host may have it now.
            refused = []
            target = first_fit(self.free_capacity(exclude=host), row.size)
        if target is None:
            if row.action_state != ActionState.FAILED:
                self._update(
                    instance_id,
                    "instance.action",
                    action_state=ActionState.FAILED,
                    details={**details, "error": refusal},
                )
            return False
        self._update(
            instance_id,
            "instance.action",
            action_state=ActionState.FAILED,
            details={**details, "refused_targets": refused, "error": refusal},
        )
        again = self._start(instance_id, host, str(row.action), target)
        return again is None or self._elsewhere(instance_id, host, again)

    def _wait_for_room(self, instance_id: str, host: str, size: int) -> bool:
        """No host has room for this instance now. While other sessions have hosts out of
        service, the room they hold comes back with those hosts: look again every
        ROOM_POLL_SECONDS, for `room_wait` seconds at most per instance. True once a host
        has room; False when nobody else holds any, or the time is spent."""
        deadline = self._room_deadlines.setdefault(
            instance_id, time.monotonic() + self.ctx.settings.room_wait
        )
        told = False
        while time.monotonic() < deadline:
            with self.ctx.db.transaction() as repo:
                held = repo.hosts_out_for_others(self.ctx.session_id)
                if held and not told:
                    repo.add_event(
                        self.ctx.session_id,
                        "instance.waiting_for_room",
                        instance_id,
                        data={"from": host, "held_by_other_sessions": sorted(held)[:20]},
                    )
                    told = True
            if not held:
                return False
            look_at = time.monotonic() + ROOM_POLL_SECONDS
            while (left := look_at - time.monotonic()) > 0:
                self.ctx.pause(left)
            self.view.forget()
            if first_fit(self.free_capacity(exclude=host), size) is not None:
                return True
        return False

    # -- intent, start, outcome ----------------------------------------------------------
    def _instances_on(self, host: str) -> list[SessionInstance]:
        with self.ctx.db.transaction() as repo:
            return repo.session_instances_on(self.ctx.session_id, [host])

    def _set(self, repo, row: SessionInstance, **fields) -> None:
        """Change an instance's row in the caller's transaction, logged as _update logs it."""
        old = row.action_state
        for name, value in fields.items():
            setattr(row, name, value)
        data = {k: v for k, v in fields.items() if v is not None}
        repo.add_event(
            self.ctx.session_id, "instance.action", row.instance_id, old, row.action_state, data
        )

    def _update(
        self, instance_id: str, event: str | None = None, *, tell: bool = False, **fields
    ) -> None:
        """Change the instance's row; with `tell`, its project hears the move is done (in the
        same transaction: a crash loses neither)."""
        with self.ctx.db.transaction() as repo:
            # One row, not the whole session: a session may hold hundreds of instances.
            (row,) = repo.session_instances(self.ctx.session_id, [instance_id])
            old = row.action_state
            for name, value in fields.items():
                setattr(row, name, value)
            if event:
                data = {k: v for k, v in fields.items() if v is not None}
                repo.add_event(self.ctx.session_id, event, instance_id, old, row.action_state, data)
            if tell and self.talk is not None:
                self.talk.actions_done(repo, [(row.project_id, instance_id)])

    def _start(self, instance_id: str, host: str, action: str, target: str | None) -> str | None:
        """Start the move, recorded first; the cloud's refusal, or None."""
        row = self._row(instance_id)
        if row.action_state == ActionState.RUNNING and row.action_from == host:
            return None  # started before a restart; _finish waits for it
        if row.action_state == ActionState.DONE and row.action_from == host:
            return None
        interrupted = row.action_state == ActionState.STARTING and row.action_from == host
        if interrupted and self._already_moving(instance_id, host):
            # Started, but the crash came before its action id was recorded: watch it.
            self._update(instance_id, "instance.action", action_state=ActionState.RUNNING)
            return None
        intent = {**(row.details or {}), "target": target, "started_at": utcnow().isoformat()}
        self._update(
            instance_id,
            "instance.action",
            action=action,
            action_state=ActionState.STARTING,
            action_from=host,
            action_id=None,
            details=intent,
        )
        driver = self.ctx.driver
        try:
            if action == InstanceAction.LIVE_MIGRATE:
                action_id = driver.live_migrate(instance_id, target)
            elif action == InstanceAction.MIGRATE:
                action_id = driver.migrate(instance_id, target)
            elif action == InstanceAction.EVICTION:
                action_id = driver.evict(instance_id)
            else:  # OWN_ACTION: the manager moves it; we watch the host
                action_id = None
        except DriverError as exc:
            self._update(
                instance_id,
                "instance.action",
                action_state=ActionState.FAILED,
                details={**intent, "error": str(exc)},  # the refused target: try another
            )
            return str(exc)
        self._update(
            instance_id, "instance.action", action_state=ActionState.RUNNING, action_id=action_id
        )
        return None

    def _already_moving(self, instance_id: str, host: str) -> bool:
        for instance in self.ctx.driver.list_instances(host=host):
            if instance.instance_id == instance_id:
                return instance.state != "ACTIVE"
        return True  # gone from the host (moved, or from the cloud): nothing to start

    def _row(self, instance_id: str) -> SessionInstance:
        with self.ctx.db.transaction() as repo:
            (row,) = repo.session_instances(self.ctx.session_id, [instance_id])
            return row

    def _finish(
        self, instance_id: str, host: str, waited: ActionResult | None = None
    ) -> str | None:
        """Wait for the instance's move (unless `waited` for already); record where it went.
        Returns an error or None."""
        row = self._row(instance_id)
        if row.action_state == ActionState.DONE:
            return None
        if row.action_state == ActionState.FAILED:
            return (row.details or {}).get("error", "failed")
        if row.action_id is None:
            return self._watch_until_gone(row, host)
        result = waited if waited is not None else self._wait(row.action_id)
        if result.target_refused and self._elsewhere(instance_id, host, result.error or ""):
            return self._finish(instance_id, host)  # the move started again, elsewhere
        if result.target_refused:
            return result.error or f"{row.action} refused"
        if result.status == ActionStatus.DONE:
            fate = "EVICTED" if row.action == InstanceAction.EVICTION else "ACTIVE"
            self.view.moved(instance_id, None if fate == "EVICTED" else result.host or row.host)
            self._update(
                instance_id,
                "instance.action",
                tell=True,  # the engine carried it out: OWN_ACTION never comes here
                action_state=ActionState.DONE,
                host=result.host or row.host,
                state=fate,
            )
            return None
        if result.status == ActionStatus.RUNNING:  # gave up: say what the cloud waits for
            waited = f"still running after {self.ctx.settings.move_timeout:g} s"
            error = f"{waited}: {result.error}" if result.error else waited
        else:
            error = result.error or f"{row.action} failed"
        self._update(
            instance_id,
            "instance.action",
            action_state=ActionState.FAILED,
            details={**(row.details or {}), "error": error},
        )
        return error

    def _wait(self, action_id: str) -> ActionResult:
        deadline = time.monotonic() + self.ctx.settings.move_timeout
        while True:
            self.ctx.check_stop()
            remaining = deadline - time.monotonic()
            result = self.ctx.driver.wait_action(action_id, timeout=min(2.0, max(remaining, 0)))
            if result.status != ActionStatus.RUNNING or remaining <= 0:
                return result

    def _watch_until_gone(self, row: SessionInstance, host: str) -> str | None:
        """OWN_ACTION (or a move whose start was not recorded): wait until it left the host."""
        timeout = self.ctx.settings.own_action_timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            there = self.ctx.driver.list_instances(host=host)
            if any(i.instance_id == row.instance_id for i in there):
                self.ctx.pause(0.2)
                continue
            # It left the host: one look at the whole cloud says where to.
            listing = self.ctx.driver.list_instances()
            self.view.load(listing)
            where = {i.instance_id: i.host for i in listing}
            if row.instance_id not in where:
                self._update(
                    row.instance_id,
                    "instance.action",
                    action_state=ActionState.DONE,
                    state="DELETED",
                )
                return None
            if where[row.instance_id] != host:
                self._update(
                    row.instance_id,
                    "instance.action",
                    action_state=ActionState.DONE,
                    host=where[row.instance_id],
                )
                return None
            self.ctx.pause(0.2)
        return f"{row.action} did not take it off {host} within {timeout:.0f} s"


def instances_by_project(rows: Iterable[SessionInstance]) -> dict[str, list[str]]:
    projects: dict[str, list[str]] = {}
    for row in rows:
        projects.setdefault(row.project_id, []).append(row.instance_id)
    return projects
