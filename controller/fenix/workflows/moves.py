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
from fenix.drivers.base import ActionResult, ActionStatus, DriverError, HostKind
from fenix.engine.context import SessionContext
from fenix.engine.states import ActionState, HostState, InstanceAction
from fenix.timeutil import utcnow
from fenix.workflows.conversation import Conversation

LOG = logging.getLogger(__name__)


class MoveFailed(Exception):
    """One or more instances could not be moved; the message names them and why."""


class InstanceMover:
    def __init__(self, ctx: SessionContext, talk: Conversation | None) -> None:
        self.ctx = ctx
        self.talk = talk
        """Tells each project of every move carried out for it (INSTANCE_ACTION_DONE)."""

    def empty_host(self, host: str, actions: dict[str, str], default_action: str) -> list[str]:
        """Move every instance off `host` as asked; returns the ids that were moved."""
        moved: list[str] = []
        failures: list[str] = []
        rows = self._instances_on(host)
        free = self.free_capacity(exclude=host)
        for row in rows:
            action = actions.get(row.instance_id) or row.action or default_action
            target = None
            if action in (InstanceAction.MIGRATE, InstanceAction.LIVE_MIGRATE):
                target = self._pick_target(free, row.size)
                if target is None:
                    failures.append(f"{row.instance_id}: no host has room for it")
                    continue
                free[target] -= row.size
            self._start(row.instance_id, host, action, target)
        for instance_id in [row.instance_id for row in rows]:
            error = self._finish(instance_id, host)
            if error:
                failures.append(f"{instance_id}: {error}")
            else:
                moved.append(instance_id)
        if failures:
            raise MoveFailed(f"could not empty {host}: " + "; ".join(failures))
        return moved

    # -- choosing where to go ------------------------------------------------------------
    def free_capacity(self, exclude: str) -> dict[str, int]:
        """Room on each host an instance may go to, best places first."""
        driver = self.ctx.driver
        used: dict[str, int] = {}
        for instance in driver.list_instances():
            used[instance.host] = used.get(instance.host, 0) + instance.size
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            ours = {h.name: (h.state, h.position) for h in session.hosts}
        ranked: list[tuple[int, int, str, int]] = []
        for host in driver.list_hosts():
            if host.name == exclude or not host.enabled or host.kind != HostKind.COMPUTE:
                continue
            state, position = ours.get(host.name, (None, 0))
            if state in (HostState.PREPARING, HostState.IN_MAINTENANCE):
                continue
            # Maintained hosts first, then hosts outside the session, then hosts still due for
            # maintenance, the last due first (an instance put there will have to move again,
            # and the later the better).
            rank = {HostState.MAINTENANCE_COMPLETE: 0, None: 1}.get(state, 2)
            # Room that moves in flight (another session's too) will take is not free; the
            # cloud says how much where it can (the simulated one does).
            reserved = int(host.details.get("reserved") or 0)
            room = host.capacity - used.get(host.name, 0) - reserved
            ranked.append((rank, -position if rank == 2 else 0, host.name, room))
        ranked.sort()
        return {name: room for _rank, _order, name, room in ranked}

    @staticmethod
    def _pick_target(free: dict[str, int], size: int) -> str | None:
        for name, room in free.items():
            if room >= size:
                return name
        return None

    # -- intent, start, outcome ----------------------------------------------------------
    def _instances_on(self, host: str) -> list[SessionInstance]:
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            return [
                i
                for i in session.instances
                if i.host == host and i.state not in ("DELETED", "EVICTED")
            ]

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

    def _start(self, instance_id: str, host: str, action: str, target: str | None) -> None:
        row = self._row(instance_id)
        if row.action_state == ActionState.RUNNING and row.action_from == host:
            return  # started before a restart; _finish waits for it
        if row.action_state == ActionState.DONE and row.action_from == host:
            return
        interrupted = row.action_state == ActionState.STARTING and row.action_from == host
        if interrupted and self._already_moving(instance_id, host):
            # Started, but the crash came before its action id was recorded: watch it.
            self._update(instance_id, "instance.action", action_state=ActionState.RUNNING)
            return
        self._update(
            instance_id,
            "instance.action",
            action=action,
            action_state=ActionState.STARTING,
            action_from=host,
            action_id=None,
            details={**(row.details or {}), "target": target, "started_at": utcnow().isoformat()},
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
                details={**(row.details or {}), "error": str(exc)},
            )
            return
        self._update(
            instance_id, "instance.action", action_state=ActionState.RUNNING, action_id=action_id
        )

    def _already_moving(self, instance_id: str, host: str) -> bool:
        for instance in self.ctx.driver.list_instances():
            if instance.instance_id == instance_id:
                return instance.host != host or instance.state != "ACTIVE"
        return True  # gone from the cloud: nothing to start

    def _row(self, instance_id: str) -> SessionInstance:
        with self.ctx.db.transaction() as repo:
            (row,) = repo.session_instances(self.ctx.session_id, [instance_id])
            return row

    def _finish(self, instance_id: str, host: str) -> str | None:
        """Wait for the instance's move; record where it went. Returns an error or None."""
        row = self._row(instance_id)
        if row.action_state == ActionState.DONE:
            return None
        if row.action_state == ActionState.FAILED:
            return (row.details or {}).get("error", "failed")
        if row.action_id is None:
            return self._watch_until_gone(row, host)
        result = self._wait(row.action_id)
        if result.status == ActionStatus.DONE:
            fate = "EVICTED" if row.action == InstanceAction.EVICTION else "ACTIVE"
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
            where = {i.instance_id: i.host for i in self.ctx.driver.list_instances()}
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
