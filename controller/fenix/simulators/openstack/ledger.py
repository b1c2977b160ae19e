"""What the simulated servers' users saw: when each server's guest was not running.

Nova's records (migrations, instance actions) say what was done; this says what it cost, so
that a demo's report can show measured downtime rather than assume it:

- a cold migration (nova's ``migrate``) stops the guest when it starts and starts it again on
  the destination at finish_resize, where nova shows VERIFY_RESIZE; that span is downtime
  (confirming the resize only cleans up the source);
- a move that fails leaves the guest down while the server is in ERROR (until the report), or
  running again on its source when nova rolled the move back;
- a live migration keeps the guest running. A real one pauses it for a moment at the switch-over,
  which this simulator does not model: it counts none, and says so in ``MEASURE``;
- a deleted server is gone, not down: its record ends there.

Times are ``time.time()`` seconds. Not thread-safe by itself: the cloud calls it under its lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

MEASURE = (
    "per server, the time its guest was not running: a cold migration from its start until "
    "the guest runs on the destination (finish_resize), a failed move while the server is in "
    "ERROR; live migrations count none (this simulator does not model the switch-over pause)"
)


@dataclass
class _Server:
    name: str
    project_id: str
    hosts: list[str]
    created_at: float
    fate: str = "active"
    ended_at: float | None = None
    down: list[list] = field(default_factory=list)
    """[start, end or None] intervals."""
    moves: list[dict] = field(default_factory=list)


class ServerLedger:
    def __init__(self) -> None:
        self._servers: dict[str, _Server] = {}

    def added(self, server_id: str, name: str, project_id: str, host: str) -> None:
        self._servers[server_id] = _Server(name, project_id, [host], time.time())

    def move_started(self, server_id: str, source: str, dest: str, *, live: bool) -> None:
        record = self._servers[server_id]
        now = time.time()
        kind = "live_migrate" if live else "migrate"
        record.moves.append({"kind": kind, "from": source, "to": dest, "start": now, "end": None})
        if not live and not self._is_down(record):
            record.down.append([now, None])

    def move_done(self, server_id: str, host: str | None) -> None:
        record = self._servers[server_id]
        self._end_move(record, "done")
        if host is not None:
            record.hosts.append(host)
        self._up(record)

    def move_failed(self, server_id: str, error: str, *, down: bool) -> None:
        """``down``: the server went to ERROR; else it is running on its source again."""
        record = self._servers[server_id]
        self._end_move(record, "failed", error)
        if down:
            record.fate = "error"
            if not self._is_down(record):
                record.down.append([time.time(), None])
        else:
            self._up(record)

    def deleted(self, server_id: str) -> None:
        record = self._servers[server_id]
        now = time.time()
        record.fate, record.ended_at = "deleted", now
        self._up(record, now)

    def report(self) -> dict:
        """Every server ever known: its hosts, moves, fate and downtime."""
        now = time.time()
        servers = {}
        for server_id, record in self._servers.items():
            intervals = [[start, end] for start, end in record.down]
            servers[server_id] = {
                "name": record.name,
                "project_id": record.project_id,
                "fate": record.fate,
                "hosts": list(record.hosts),
                "created_at": record.created_at,
                "ended_at": record.ended_at,
                "moves": [dict(m) for m in record.moves],
                "downtime_intervals": intervals,
                "downtime_seconds": sum((end or now) - start for start, end in intervals),
            }
        return {"measure": MEASURE, "servers": servers}

    @staticmethod
    def _is_down(record: _Server) -> bool:
        return bool(record.down) and record.down[-1][1] is None

    def _up(self, record: _Server, now: float | None = None) -> None:
        if self._is_down(record):
            record.down[-1][1] = now or time.time()

    @staticmethod
    def _end_move(record: _Server, status: str, error: str | None = None) -> None:
        if record.moves and record.moves[-1]["end"] is None:
            record.moves[-1].update(end=time.time(), status=status, error=error)
