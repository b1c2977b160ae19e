"""How fresh a session read must be: exact when the API is quiet, a moment old when it is busy.

A busy session changes several times a second: its detail (a 200-host one is ~800 rows, ~20 ms
of CPU to build) is a new version at nearly every poll, so with thirty-two dashboards polling
flat out each version was built and sent whole, and the API process took the CPU the engine
needed. While an API process answers more than `busy_from` session reads a second, a read may
instead be given the newest answer of its kind built in the last `max_age` seconds, under that
answer's own tag (so a client holding it gets a 304 without a row read): each session's detail
is then built a few times a second however many poll it: once the newest is half `max_age`
old, one request reads a newer one while the others are still given it. A quiet API (a
browser, a CLI watcher, a test asking one thing at a time) answers every read from the
database.

An admin's change to a session (a PUT, a pause, a DELETE through this process) is never hidden
that way: an answer built before it is not given for the session again, so whoever changed it
reads the change back at once. The engine's and the managers' changes show within `max_age`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WRITES_KEPT = 4096
"""Sessions whose last admin change is remembered; older ones are past any max_age anyway."""


class ReadLoad:
    """Session reads a second in one API process, and when each session was last changed
    through it."""

    def __init__(
        self, busy_from: int, max_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.busy_from = busy_from
        self.max_age = max_age
        self._clock = clock
        self._second = 0
        self._this_second = 0
        self._last_second = 0
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def counted(self) -> None:
        """One more session read."""
        second = int(self._clock())
        with self._lock:
            if second != self._second:
                follows = second == self._second + 1
                self._last_second = self._this_second if follows else 0
                self._second, self._this_second = second, 0
            self._this_second += 1

    def written(self, session_id: str) -> None:
        """An admin changed the session through this process: answers built before now are
        not given for it again."""
        now = self._clock()
        with self._lock:
            self._written.pop(session_id, None)
            self._written[session_id] = now
            if len(self._written) > WRITES_KEPT:
                del self._written[next(iter(self._written))]

    def busy(self) -> bool:
        """More than `busy_from` reads in this second or the last."""
        with self._lock:
            return self._busy(self._clock())

    def _busy(self, now: float) -> bool:
        rate = max(self._last_second, self._this_second)
        return rate > self.busy_from and int(now) <= self._second + 1

    def window(self, session_id: str) -> Freshness | None:
        """How recent an answer about the session must be to be given now; None when it must
        come from the database (the process is not busy)."""
        if self.max_age <= 0:
            return None
        now = self._clock()
        with self._lock:
            if not self._busy(now):
                return None
            written = self._written.get(session_id, 0.0)
        return Freshness(
            not_before=max(now - self.max_age, written),
            refresh_before=max(now - self.max_age / 2, written),
        )


@dataclass(frozen=True)
class Freshness:
    """Times (time.monotonic) an answer must have been current at."""

    not_before: float
    """To be given at all."""
    refresh_before: float
    """To be given without one request reading a newer one (the others are given this one
    meanwhile, so that no poll waits for a build while an answer young enough exists)."""
