"""The newest events of each session a busy API is asked for, read once for every poll.

Each client that follows a session's event log asks for the events after the last one it saw
(`events?since=N`), and each has seen a different N: the newest answer of one kind, which
serves the other reads of a busy API (fenix.api.read_load), serves none of them. So while the
API is busy, the newest events of a session (its tail: every event after a position, up to
the newest when it was read) are kept, read again as the other answers are (one request reads
the events after the newest it holds, once the tail is half `max_age` old), and a poll whose
`since` the tail covers is given its page from it: the page the database gave at the tail's
change counter, under the same tag, so a client holding it gets a 304.

A poll for events older than the tail holds (a client reading the history from the start)
reads the database as before.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fenix.db.repository import Repository

TAIL_EVENTS = 2000
"""Events kept of each session: more than a busy session logs between two polls."""

TAILS_KEPT = 64
"""Sessions whose tail is kept, least recently asked for dropped first."""


@dataclass
class Tail:
    """Every event of a session after position `after`, as of its change counter `seq`."""

    seq: int
    after: int
    views: list[dict[str, Any]]
    as_of: float
    """When (time.monotonic) `seq` was read."""

    def covers(self, since: int) -> bool:
        return since >= self.after

    def page(self, since: int, limit: int) -> dict[str, Any]:
        """The page the database gives for `since` and `limit` at `seq`."""
        newer = [view for view in self.views if view["id"] > since]
        events = newer[:limit]
        return {
            "events": events,
            "more": len(newer) > limit,
            "next": events[-1]["id"] if events else since,
        }


@dataclass
class _Kept:
    tail: Tail | None = None
    reading: threading.Lock = field(default_factory=threading.Lock)


class EventTails:
    """Each session's tail, shared by every request of this API process."""

    def __init__(self, events_kept: int = TAIL_EVENTS, sessions_kept: int = TAILS_KEPT) -> None:
        self.events_kept = events_kept
        self.sessions_kept = sessions_kept
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._lock = threading.Lock()

    def tail(
        self,
        session_id: str,
        since: int,
        not_before: float,
        refresh_before: float,
        read: Callable[[Callable[[Repository], Any]], Any],
        view: Callable[[Any], dict[str, Any]],
    ) -> Tail | None:
        """The session's tail covering `since`, current at `not_before` or later; read anew
        (by `read`, which runs its argument in a transaction) when it is older than
        `refresh_before` and no other request is reading it. None: read the page from the
        database (`since` is older than the tail, or the session is not there, or it logged
        more than a tail holds since the last read)."""
        kept = self._entry(session_id)
        tail = kept.tail
        if tail is not None and not tail.covers(since):
            if tail.views or tail.as_of >= refresh_before:
                return None
            # Empty and due to be read again: it may start past the log's end (a `since` no
            # event has reached yet), which no follower would ever be covered by.
            tail = kept.tail = None
        fresh_enough = tail is not None and tail.as_of >= not_before
        if fresh_enough and (tail.as_of >= refresh_before or kept.reading.locked()):
            return tail
        if fresh_enough and not kept.reading.acquire(blocking=False):
            return tail
        if not fresh_enough:
            kept.reading.acquire()
        try:
            held = kept.tail  # another request may have read it meanwhile
            if held is None or held.as_of < refresh_before:
                kept.tail = read(lambda repo: self._read(repo, session_id, since, held, view))
            tail = kept.tail
            return tail if tail is not None and tail.covers(since) else None
        finally:
            kept.reading.release()

    def _read(
        self,
        repo: Repository,
        session_id: str,
        since: int,
        tail: Tail | None,
        view: Callable[[Any], dict[str, Any]],
    ) -> Tail | None:
        as_of = time.monotonic()
        seq = repo.change_seq(session_id, with_deleted=True)
        if seq is None:
            return None
        if tail is None:
            tail = Tail(seq, since, [], as_of)
        elif tail.seq == seq:
            return Tail(seq, tail.after, tail.views, as_of)
        last = tail.views[-1]["id"] if tail.views else tail.after
        newer = repo.events(session_id, last, self.events_kept + 1)
        if len(newer) > self.events_kept:
            return None  # more than a tail holds since the last read: pages from the database
        views = tail.views + [view(event) for event in newer]
        dropped = views[: -self.events_kept]
        after = dropped[-1]["id"] if dropped else tail.after
        return Tail(seq, after, views[-self.events_kept :], as_of)

    def _entry(self, session_id: str) -> _Kept:
        with self._lock:
            kept = self._kept.pop(session_id, None) or _Kept()
            self._kept[session_id] = kept
            if len(self._kept) > self.sessions_kept:
                self._kept.popitem(last=False)
            return kept
