"""Waiting for the moves off the hosts being emptied, for the vnf workflow's loop.

One watcher thread per host, with one long poll at a time: it polls the move expected to end
first and, when that one ends, looks once at the host to tell which others have left it too. So
the waiting does not take every thread of the cloud's API, however many moves run. What ended
is handed to the loop (`report`), which records it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fenix.drivers.base import ActionResult, ActionStatus, CloudDriver, DriverError


@dataclass(frozen=True)
class InFlight:
    instance_id: str
    action_id: str
    kind: str
    started: float


class MoveWatchers:
    def __init__(
        self,
        driver: Callable[[], CloudDriver],
        move_timeout: float,
        durations: Callable[[], Mapping[str, float]],
        report: Callable[[list[tuple]], None],
    ) -> None:
        """`durations`: how long each kind of move takes here, to guess which ends first;
        `report`: takes ("move", instance id, ActionResult, when) for moves that ended, or
        ("move-error", host, DriverError, when) when the cloud could not be asked."""
        self._driver = driver
        self._timeout = move_timeout
        self._durations = durations
        self._report = report
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="vnf-move")
        self._inflight: dict[str, dict[str, InFlight]] = {}
        self._watched: set[str] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def watch(self, host: str, move: InFlight) -> None:
        """Have the move waited for by its host's watcher (started if there is none)."""
        with self._lock:
            self._inflight.setdefault(host, {})[move.instance_id] = move
            if host in self._watched:
                return
            self._watched.add(host)
        self._pool.submit(self._watch_host, host)

    def close(self) -> None:
        """Stop polling; no thread is left behind."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _watch_host(self, host: str) -> None:
        driver, timeout = self._driver(), self._timeout
        try:
            while not self._closing.is_set():
                with self._lock:
                    moves = list(self._inflight.get(host, {}).values())
                    if not moves:
                        self._watched.discard(host)
                        return
                durations = self._durations()
                first = min(moves, key=lambda m: m.started + durations.get(m.kind, 0.0))
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
                            done = ActionResult(move.action_id, ActionStatus.DONE, move.instance_id)
                            ended.append((move, done))
                        elif info.state == "ACTIVE":  # not moving (any more): ask how it went
                            late = driver.wait_action(move.action_id, timeout=0.0)
                            if late.status != ActionStatus.RUNNING:
                                ended.append((move, late))
                at = time.time()
                with self._lock:
                    for move, _result in ended:
                        self._inflight[host].pop(move.instance_id, None)
                self._report([("move", move.instance_id, outcome, at) for move, outcome in ended])
        except DriverError as exc:
            with self._lock:
                self._watched.discard(host)
            self._report([("move-error", host, exc, time.time())])
