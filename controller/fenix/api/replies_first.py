"""While the API is busy, the requests that move a maintenance on go before the polls.

A manager's reply, an admin's change, a subscription: the engine waits for these, and with
thirty-two dashboards polling flat out each one competed for the API process's GIL with every
poll in flight, so each reply was answered tens of milliseconds late and the session slowed.
So while such a request is being answered, a busy API's polls (GETs of a URL a session read
answered before) wait for it to end before they start, for at most `MAX_STEP_ASIDE` seconds:
a tenant that sends request after request delays a poll by that at most, never starves it.
A quiet API never waits.
"""

from __future__ import annotations

import threading

MAX_STEP_ASIDE = 0.05
"""Seconds a poll waits at most for the requests in flight before it."""


class RepliesFirst:
    """How many requests that are not polls are being answered, and a way to wait for none."""

    def __init__(self, max_step_aside: float = MAX_STEP_ASIDE) -> None:
        self.max_step_aside = max_step_aside
        self._in_flight = 0
        self._lock = threading.Lock()
        self._none_in_flight = threading.Event()
        self._none_in_flight.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._none_in_flight.clear()

    def ended(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._none_in_flight.set()

    def step_aside(self) -> None:
        """Before a poll: wait until no other request is in flight (or the most it may)."""
        self._none_in_flight.wait(self.max_step_aside)
