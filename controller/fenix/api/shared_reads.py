"""The session reads' way to an answer: a 304, an answer built once per version, and, while
the API is busy, the newest of its kind if it is recent enough (fenix.api.read_load).

`conditional_read` is the one path for the list, a session, its detail and its events. The
database is read under one of `read_slots` (however many dashboards poll flat out, the CPU
their reads take is bounded, and the requests that move sessions on pass them); an answer
given again from the cache needs no slot.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, request
from flask.typing import ResponseReturnValue

from fenix.api import runtime
from fenix.api.conditional import AnswerCache, not_modified, still_fresh
from fenix.api.read_load import ReadLoad
from fenix.db.repository import Repository

_ANSWERS = "fenix.api.answers"
_READ_SLOTS = "fenix.api.read_slots"
_READ_LOAD = "fenix.api.read_load"

SESSION_LIST = ""
"""The subject of the session list, for ReadLoad: changed by every admin write."""


@dataclass(frozen=True)
class Read:
    """One read: what it is (its kind: what, subject, shape), how its tag is read from the
    database, and how its body is built in the same transaction."""

    kind: tuple[object, ...]
    subject: str
    """The session it is about (SESSION_LIST for the list)."""
    tag_of: Callable[[Repository], str]
    """Raises the read's 404 when there is nothing to read."""
    build: Callable[[Repository], Any]


def init_reads(app: Flask) -> None:
    """The shared answers, read slots and read load of `app`."""
    settings = app.extensions["fenix"].settings
    app.extensions[_ANSWERS] = AnswerCache()
    app.extensions[_READ_SLOTS] = threading.BoundedSemaphore(settings.read_slots)
    app.extensions[_READ_LOAD] = ReadLoad(settings.busy_reads, settings.busy_read_max_age)


def count_the_read() -> None:
    """Before each request to the reads' blueprint: a GET is one more read."""
    if request.method == "GET":
        _read_load().counted()


def note_an_admins_change(response: Response) -> Response:
    """After each request to the reads' blueprint: a write shows at once in what follows."""
    if request.method not in ("GET", "HEAD"):
        session_id = (request.view_args or {}).get("session_id")
        if session_id is not None:
            _read_load().written(session_id)
        _read_load().written(SESSION_LIST)
    return response


def conditional_read(read: Read) -> ResponseReturnValue:
    """A 304 when the client holds the answer, else the answer (fenix.api.read_load)."""
    window = _read_load().window(read.subject)
    if window is None:
        return _from_database(read)
    answers = _answers()
    recent = answers.recent(read.kind, window.not_before)
    if recent is not None and recent[1].as_of >= window.refresh_before:
        return _given_again(*recent)
    # The first to find it old reads it again; the others are given the recent one
    # meanwhile, or wait for the new one when there is none recent enough.
    refreshing = answers.refreshing(read.kind)
    if recent is not None and not refreshing.acquire(blocking=False):
        return _given_again(*recent)
    if recent is None:
        refreshing.acquire()
    try:
        newer = answers.recent(read.kind, window.refresh_before)
        return _given_again(*newer) if newer is not None else _from_database(read)
    finally:
        refreshing.release()


def _given_again(tag: str, answer: Any) -> ResponseReturnValue:
    if held := still_fresh(tag):
        return not_modified(held)
    return _answers().respond(tag, answer)


def _from_database(read: Read) -> ResponseReturnValue:
    with _read_slot(), runtime().db.transaction() as repo:
        as_of = time.monotonic()
        tag = read.tag_of(repo)
        if held := still_fresh(tag):
            _answers().confirm(read.kind, tag, as_of)
            return not_modified(held)  # decided from the tag alone: no host or instance read
        response = _answers().answer(tag, lambda: read.build(repo), as_of)
        _answers().confirm(read.kind, tag, as_of)
        return response


@contextlib.contextmanager
def _read_slot() -> Iterator[None]:
    with current_app.extensions[_READ_SLOTS]:
        yield


def _read_load() -> ReadLoad:
    return current_app.extensions[_READ_LOAD]


def _answers() -> AnswerCache:
    return current_app.extensions[_ANSWERS]
