"""What a running workflow is handed: its session id and the runtime's parts."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from fenix.actions.launcher import ActionLauncher
from fenix.config import Settings
from fenix.db.database import Database
from fenix.drivers.base import CloudDriver
from fenix.metrics import Metrics


class RuntimeParts(Protocol):
    """What a workflow uses of the controller's runtime (fenix.runtime.Runtime), named here so
    that the runtime may start the engine, and the engine hand this out, with no import
    circle between them."""

    db: Database
    driver: CloudDriver
    settings: Settings
    metrics: Metrics
    actions: ActionLauncher

    def wait_for_change(self, timeout: float) -> None: ...


class Stopping(Exception):
    """The engine is shutting down: leave at this safe point; everything so far is committed."""


class Cancelled(Exception):
    """The admin deleted the session: leave at this safe point (no host or move half-started);
    the workflow's run loop then gives back the hosts the session took out and ends it."""


@dataclass
class SessionContext:
    runtime: RuntimeParts
    session_id: str
    stop_event: threading.Event
    owner: str
    """The engine running the session: it must still hold the session's lease to move it."""

    @property
    def db(self) -> Database:
        return self.runtime.db

    @property
    def driver(self) -> CloudDriver:
        return self.runtime.driver

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def check_stop(self) -> None:
        if self.stop_event.is_set():
            raise Stopping()

    def check_owner(self, session) -> None:
        """Fencing, under the session's row lock: an engine that stalled past its lease and
        lost it to another must not change the session's state behind the new owner's back."""
        if session.owner != self.owner:
            self.stop_event.set()
            raise Stopping()

    def pause(self, seconds: float) -> None:
        """Wait for a change in the database (or `seconds`), leaving early if told to stop."""
        self.check_stop()
        self.runtime.wait_for_change(seconds)
        self.check_stop()
