"""The engine: finds sessions that are due, takes their lease, and runs each on its own thread.

A session is run by whichever engine holds its lease in the database. The lease is renewed while
the session runs; when a controller dies, its leases run out and any engine (this one after a
restart, or another process on the same database) picks the sessions up and resumes them. An
engine that finds its lease taken (it stalled past the lease) stops the session's thread at its
next safe point, so that one session is never run by two engines for longer than that.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid

from sqlalchemy.exc import OperationalError

from fenix.actions.launcher import RunLeftUnchecked
from fenix.engine.context import SessionContext, Stopping
from fenix.engine.retention import prune_finished_sessions
from fenix.engine.transitions import transition
from fenix.states import SessionState
from fenix.timeutil import utcnow
from fenix.workflows import load_workflow

LOG = logging.getLogger(__name__)


class Engine:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.id = self.settings.engine_id or (
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._runners: dict[str, threading.Thread] = {}
        self._session_stops: dict[str, threading.Event] = {}
        """Per running session: set to stop it at its next safe point (shutdown, lease lost)."""
        self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)

    def start(self) -> None:
        LOG.info("engine %s starting", self.id)
        self._thread.start()

    def wake(self) -> None:
        """Look for due sessions now (one was just created or resumed)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every session to stop at its next safe point, and wait for them."""
        self._stop.set()
        for session_stop in list(self._session_stops.values()):
            session_stop.set()
        self._wake.set()
        self.runtime.wake()
        self._thread.join(timeout)
        for runner in list(self._runners.values()):
            runner.join(timeout)

    @property
    def running_sessions(self) -> list[str]:
        return [sid for sid, thread in self._runners.items() if thread.is_alive()]

    def _loop(self) -> None:
        lease = self.settings.lease_seconds
        next_prune = 0.0
        while not self._stop.is_set():
            try:
                self._look_for_work(lease)
                if time.monotonic() >= next_prune:
                    prune_finished_sessions(self.runtime)
                    next_prune = time.monotonic() + self.settings.retention_check_seconds
            except OperationalError as exc:
                # The database is away (restarting, network): keep trying, loudly.
                LOG.error("engine %s cannot reach the database: %s", self.id, exc)
            self._wake.wait(min(1.0, lease / 3))
            self._wake.clear()

    def _look_for_work(self, lease: float) -> None:
        with self.runtime.db.transaction() as repo:
            due = repo.runnable_session_ids(utcnow(), self.id)
        for session_id in due:
            runner = self._runners.get(session_id)
            if runner is not None and runner.is_alive():
                continue
            with self.runtime.db.transaction() as repo:
                if not repo.acquire_lease(session_id, self.id, lease):
                    continue
            self._start_runner(session_id)
        self._renew_leases(lease)

    def _renew_leases(self, lease: float) -> None:
        for session_id in self.running_sessions:
            with self.runtime.db.transaction() as repo:
                if not repo.acquire_lease(session_id, self.id, lease):
                    LOG.error(
                        "lost the lease of session %s to another engine: stopping it here",
                        session_id,
                    )
                    self._session_stops[session_id].set()
                    self.runtime.wake()

    def _start_runner(self, session_id: str) -> None:
        session_stop = threading.Event()
        if self._stop.is_set():
            session_stop.set()
        self._session_stops[session_id] = session_stop
        thread = threading.Thread(
            target=self._run_session,
            args=(session_id,),
            name=f"session-{session_id[:8]}",
            daemon=True,
        )
        self._runners[session_id] = thread
        thread.start()

    def _run_session(self, session_id: str) -> None:
        ctx = SessionContext(
            self.runtime, session_id, self._session_stops[session_id], owner=self.id
        )
        with self.runtime.db.transaction() as repo:
            session = repo.get_session(session_id, with_deleted=True)
            workflow_name = session.workflow
            repo.add_event(session_id, "engine.run", self.id, None, session.state)
        try:
            if not self._settle_left_runs(ctx):
                return
            workflow = load_workflow(workflow_name)(ctx)
            workflow.run()
        except Stopping:
            if self._stop.is_set():
                LOG.info("session %s paused at a safe point for shutdown", session_id)
            else:
                LOG.warning("session %s left at a safe point: its lease was lost", session_id)
                with self.runtime.db.transaction() as repo:
                    repo.add_event(session_id, "engine.lease_lost", self.id)
        except Exception as exc:
            # A bug, not a cloud or manager failure: end the session visibly, with the trace in
            # the event log, rather than leave it running forever. Then re-raise for the log.
            self._fail_on_bug(session_id, exc)
            raise
        finally:
            with self.runtime.db.transaction() as repo:
                repo.release_lease(session_id, self.id)

    def _settle_left_runs(self, ctx: SessionContext) -> bool:
        """End what a stopped engine's plug-in runs left behind; False when it cannot be done."""
        try:
            self.runtime.actions.settle_left_runs(ctx.session_id, self.id)
        except RunLeftUnchecked as exc:
            with self.runtime.db.transaction() as repo:
                session = repo.lock_session(ctx.session_id)
                ctx.check_owner(session)
                if not SessionState(session.state).is_final:
                    transition(repo, session, SessionState.MAINTENANCE_FAILED, str(exc))
            return False
        return True

    def _fail_on_bug(self, session_id: str, exc: Exception) -> None:
        with self.runtime.db.transaction() as repo:
            session = repo.lock_session(session_id)
            if SessionState(session.state).is_final:
                return
            repo.add_event(
                session_id, "engine.error", self.id, data={"traceback": traceback.format_exc()}
            )
            transition(
                repo,
                session,
                SessionState.MAINTENANCE_FAILED,
                f"internal error: {type(exc).__name__}: {exc}",
            )
