"""Taking a host out of service, maintaining it and bringing it back, with a record of each.

The `disabled` flag on the session's host row is written before the cloud is asked to disable
the host and cleared only after it is enabled again, so no host is ever out of service without
the database saying which session holds it.
"""

from __future__ import annotations

import time

from fenix.engine.context import SessionContext
from fenix.engine.states import EventType, HostState
from fenix.notify import notifier


class HostMaintenance:
    def __init__(self, ctx: SessionContext, run_actions) -> None:
        self.ctx = ctx
        self._run_actions = run_actions

    def take_out_of_service(self, host: str) -> None:
        """Disable the host (PREPARING) so that nothing new lands on it while it is emptied."""
        self._set(host, HostState.PREPARING, disabled=True, only_from={HostState.PENDING})
        self.ctx.driver.disable_host(host, f"fenix maintenance session {self.ctx.session_id}")

    def maintain(self, host: str, kind: str, *, disabled: bool = False) -> None:
        """The host is empty: IN_MAINTENANCE, run its action plug-ins, then bring it back.

        `disabled`: the caller has seen the cloud disable the host (no need to ask again)."""
        self._set(host, HostState.IN_MAINTENANCE, disabled=True, notify=True)
        started = time.monotonic()
        if not disabled:
            self.ctx.driver.disable_host(host, f"fenix maintenance session {self.ctx.session_id}")
        self._run_actions(["host", kind], [host])
        self.ctx.driver.maintain_host(host)
        self.ctx.check_stop()
        self.ctx.driver.enable_host(host)
        self._set(
            host, HostState.MAINTENANCE_COMPLETE, disabled=False, notify=True, maintained=True
        )
        self.ctx.runtime.metrics.host_maintained(time.monotonic() - started)

    def release(self, host: str) -> None:
        """Put a host this session disabled back into service (the session is being ended)."""
        self.ctx.driver.enable_host(host)
        with self.ctx.db.transaction() as repo:
            row = repo.session_host(self.ctx.session_id, host)
            row.disabled = False
            repo.add_event(row.session_id, "host.enabled", host, data={"why": "session ended"})

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
