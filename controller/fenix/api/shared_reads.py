"""The session reads' way to an answer: a 304, an answer built once per version, and, while
the API is busy, the newest of its kind if it is recent enough (fenix.api.read_load).

`conditional_read` is the one path for the list, a session, its detail and its events. The
database is read under one of `read_slots` (however many dashboards poll flat out, the CPU
their reads take is bounded, and the requests that move sessions on pass them); an answer
given again from the cache needs no slot. What it learns of each URL lets the layer in front
of Flask (fenix.api.fast_reads) give a recent answer without Flask.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, request
from flask.typing import ResponseReturnValue

from fenix.api import runtime
from fenix.api.conditional import AnswerCache, not_modified, still_fresh
from fenix.api.event_tails import EventTails
from fenix.api.read_load import Freshness, ReadLoad
from fenix.db.repository import Repository

_ANSWERS = "fenix.api.answers"
_READ_SLOTS = "fenix.api.read_slots"
_READ_LOAD = "fenix.api.read_load"
_LEARNED_URLS = "fenix.api.learned_urls"
_EVENT_TAILS = "fenix.api.event_tails"

LEARNED_URLS_KEPT = 4096
"""URLs whose read is remembered, least recently used dropped first: a client that sends
endless new query strings only sends others' polls back through Flask."""

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
    recent: Callable[[Freshness], Recent | None] | None = None
    """While the API is busy: the answer's tag, when its rows were read, and how its body is
    built, from what this process holds (fenix.api.event_tails); None: read the database."""


@dataclass(frozen=True)
class Recent:
    tag: str
    as_of: float
    build: Callable[[], Any]


def init_reads(app: Flask) -> None:
    """The shared answers, read slots and read load of `app`."""
    settings = app.extensions["fenix"].settings
    app.extensions[_ANSWERS] = AnswerCache()
    app.extensions[_READ_SLOTS] = threading.BoundedSemaphore(settings.read_slots)
    app.extensions[_READ_LOAD] = ReadLoad(settings.busy_reads, settings.busy_read_max_age)
    app.extensions[_LEARNED_URLS] = LearnedUrls()
    app.extensions[_EVENT_TAILS] = EventTails()


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
    current_app.extensions[_LEARNED_URLS].learn(request.environ, read.kind, read.subject)
    window = _read_load().window(read.subject)
    if window is None:
        return _from_database(read)
    if read.recent is not None and (held := read.recent(window)) is not None:
        return _from_what_is_held(read.kind, held)
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


def learned_read(app: Flask, environ: dict[str, Any]) -> tuple[Hashable, str] | None:
    """The kind and subject of the read `conditional_read` made for this URL, if it answered
    it before: a poll (fenix.api.fast_reads)."""
    return app.extensions[_LEARNED_URLS].of(environ)


def is_busy(app: Flask) -> bool:
    return app.extensions[_READ_LOAD].busy()


def given_without_a_read(app: Flask, read: tuple[Hashable, str]) -> tuple[str, Any] | None:
    """The answer (its tag and the cache's entry) `conditional_read` would give the admin's
    `read` (`learned_read`) without a read or a wait, if any; the read is counted when there
    is one. For fenix.api.fast_reads, in front of Flask."""
    kind, subject = read
    load: ReadLoad = app.extensions[_READ_LOAD]
    window = load.window(subject)
    if window is None:
        return None
    answers = answers_of(app)
    recent = answers.recent(kind, window.not_before)
    if recent is None:
        return None
    if recent[1].as_of < window.refresh_before and not answers.refreshing(kind).locked():
        return None  # Flask's path reads a newer one
    load.counted()
    return recent


def answers_of(app: Flask) -> AnswerCache:
    return app.extensions[_ANSWERS]


class LearnedUrls:
    """The kind and subject of the read each URL (path and query string) made."""

    def __init__(self, kept: int = LEARNED_URLS_KEPT) -> None:
        self.kept = kept
        self._urls: OrderedDict[tuple[str, str, str], tuple[Hashable, str]] = OrderedDict()
        self._lock = threading.Lock()

    def learn(self, environ: dict[str, Any], kind: Hashable, subject: str) -> None:
        url = _url_of(environ)
        with self._lock:
            self._urls[url] = (kind, subject)
            self._urls.move_to_end(url)
            if len(self._urls) > self.kept:
                self._urls.popitem(last=False)

    def of(self, environ: dict[str, Any]) -> tuple[Hashable, str] | None:
        with self._lock:
            return self._urls.get(_url_of(environ))


def _url_of(environ: dict[str, Any]) -> tuple[str, str, str]:
    return (
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
    )


def _given_again(tag: str, answer: Any) -> ResponseReturnValue:
    if held := still_fresh(tag):
        return not_modified(held)
    return _answers().respond(tag, answer)


def _from_what_is_held(kind: Hashable, held: Recent) -> ResponseReturnValue:
    answer = _answers().kept(held.tag, held.build, held.as_of)
    _answers().confirm(kind, held.tag, held.as_of)  # for the next poll of the URL
    return _given_again(held.tag, answer)


def in_a_read(read: Callable[[Repository], Any]) -> Any:
    """`read` in a transaction, under a read slot."""
    with _read_slot(), runtime().db.transaction() as repo:
        return read(repo)


def event_tails() -> EventTails:
    return current_app.extensions[_EVENT_TAILS]


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
    return answers_of(current_app)
