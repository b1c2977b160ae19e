"""Taking a host out of service, maintaining it and bringing it back, with a record of each.

The `disabled` flag on the session's host row is written before the cloud is asked to disable
the host and cleared only after it is enabled again, so no host is ever out of service without
the database saying which session holds it.

A host the cloud already had out of service when the session came to it (an admin disabled or
cordoned it, another tool holds it) is not the session's to give back: the row says so
(`details.found_disabled`), the cloud is not asked to disable it again (that would overwrite
its reason), and neither its maintenance's end nor a cancelled session puts it back into
service. It stays as it was found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fenix.engine.context import SessionContext
from fenix.notify import notifier
from fenix.states import EventType, HostState
from fenix.workflows.cloudview import CloudView


@dataclass(frozen=True)
class TakenOut:
    """A host this run took out of service (the cloud has it disabled now)."""

    found_disabled: bool
    """It was out of service before the session took it: not the session's to give back."""


class HostMaintenance:
    def __init__(self, ctx: SessionContext, run_actions, view: CloudView | None = None) -> None:
        self.ctx = ctx
        self._run_actions = run_actions
        self._view = view
        """The workflow's view of the cloud, told of each host taken out and given back."""

    def take_out_of_service(self, host: str) -> TakenOut:
        """Disable the host (PREPARING) so that nothing new lands on it while it is emptied."""
        found_disabled = self._note_found_state(host)
        self._set(host, HostState.PREPARING, disabled=True, only_from={HostState.PENDING})
        if not found_disabled:
            self._disable(host)
        return TakenOut(found_disabled)

    def maintain(
        self, host: str, kind: str, *, disabled: bool = False, taken_out: TakenOut | None = None
    ) -> None:
        """The host is empty: IN_MAINTENANCE, run its action plug-ins, then bring it back.

        `disabled`: the caller has seen the cloud disable the host (no need to ask again);
        `taken_out`: what take_out_of_service said of it in this run (nor to look again)."""
        if taken_out is not None:
            found_disabled, disabled = taken_out.found_disabled, True
        else:
            found_disabled = self._note_found_state(host) if not disabled else False
        self._set(host, HostState.IN_MAINTENANCE, disabled=True, notify=True)
        started = time.monotonic()
        if not disabled and not found_disabled:
            self._disable(host)
        self._run_actions(["host", kind], [host])
        self.ctx.driver.maintain_host(host)
        self.ctx.check_stop()
        if found_disabled:
            with self.ctx.db.transaction() as repo:
                self._left_as_found(repo, host, "maintained")
        else:
            self._enable(host)
        self._set(
            host, HostState.MAINTENANCE_COMPLETE, disabled=False, notify=True, maintained=True
        )
        self.ctx.runtime.metrics.host_maintained(time.monotonic() - started)

    def release(self, host: str) -> bool:
        """The session is being ended: put a host it took out of service back into service
        (True), or leave one it found out of service as it was (False); recorded either way."""
        with self.ctx.db.transaction() as repo:
            found_disabled = self._found_disabled(repo.session_host(self.ctx.session_id, host))
        if found_disabled:
            with self.ctx.db.transaction() as repo:
                repo.session_host(self.ctx.session_id, host).disabled = False
                self._left_as_found(repo, host, "session ended")
            return False
        self._enable(host)
        with self.ctx.db.transaction() as repo:
            row = repo.session_host(self.ctx.session_id, host)
            row.disabled = False
            repo.add_event(row.session_id, "host.enabled", host, data={"why": "session ended"})
        return True

    def _disable(self, host: str) -> None:
        self.ctx.driver.disable_host(host, f"fenix maintenance session {self.ctx.session_id}")
        if self._view is not None:
            self._view.in_service(host, False)

    def _enable(self, host: str) -> None:
        self.ctx.driver.enable_host(host)
        if self._view is not None:
            self._view.in_service(host, True)

    # -- what the session found ------------------------------------------------------------
    def _note_found_state(self, host: str) -> bool:
        """Before the session first takes the host: whether the cloud has it out of service
        already, kept on its row (`details.found_disabled`, with an event). Later calls (a
        resumed session, whose own disable the cloud now shows) read the row, not the cloud."""
        with self.ctx.db.transaction() as repo:
            row = repo.session_host(self.ctx.session_id, host)
            if row.state != HostState.PENDING:
                return self._found_disabled(row)
        info = self.ctx.driver.get_host(host)
        if info.enabled:
            return False
        with self.ctx.db.transaction() as repo:
            row = repo.session_host(self.ctx.session_id, host)
            row.details = {**(row.details or {}), "found_disabled": True}
            reason = info.details.get("disabled_reason")
            repo.add_event(
                row.session_id, "host.found_disabled", host, data={"disabled_reason": reason}
            )
        return True

    @staticmethod
    def _found_disabled(row) -> bool:
        return bool((row.details or {}).get("found_disabled"))

    def _left_as_found(self, repo, host: str, why: str) -> None:
        repo.add_event(
            self.ctx.session_id,
            "host.left_as_found",
            host,
            data={"why": f"{why}; it was out of service before the session took it"},
        )

    def _set(
        self,
        host: str,
        state: HostState,
        *,
        disabled: bool,
        notify: bool = False,
        maintained: bool = False,
        only_from: set[HostState] | None = None,
    ) -> None:
        with self.ctx.db.transaction() as repo:
            # The one host's row and a count, not the session's every host: this runs several
            # times per host.
            row = repo.session_host(self.ctx.session_id, host)
            if only_from is not None and row.state not in only_from:
                return
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            row.disabled = disabled
            row.maintained = row.maintained or maintained
            if row.state != state:
                repo.set_host_state(row, state)
                if self._view is not None:
                    self._view.session_state(host, state)
            if maintained:  # the count sees the row above: the query flushes it first
                hosts, done = repo.count_session_hosts(session.id)
                session.percent_done = min(99, int(100 * done / max(hosts, 1)))
                notifier.session_changed(repo, session)
            if notify:
                notifier.emit(
                    repo,
                    EventType.HOST,
                    {
                        "service": "fenix",
                        "host": host,
                        "project_id": None,
                        "session_id": session.id,
                        "state": str(state),
                    },
                    session_id=session.id,
                    project_id=None,
                )
