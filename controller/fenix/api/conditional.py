"""Conditional reads: an ETag from what an answer is made of, and 304 without building it.

A dashboard, `fenix session watch` and the modules poll a session every second or so, and most
polls find nothing changed. A session's answers carry a strong ETag computed from its change
counter (fenix.db.changes) and the query parameters that shape the body, so a poll whose
If-None-Match still matches is answered from one indexed row, never from the ~800 rows of a
200-host detail. The counter is read before the body, in the same transaction: a body may be
newer than its tag (the next poll fetches it again), never older.

A busy session changes several times a second, so flat-out pollers mostly get whole bodies:
each version is encoded, and gzipped for the clients that accept it (browsers, requests), once
per API process. The gzipped representation has a tag of its own (`<tag>-gzip`, as Apache's
mod_deflate does), as a strong tag names one representation. While the API is busy, a read
may be given the newest answer of its kind built a moment ago instead (fenix.api.read_load):
the cache remembers, for each kind (a session's detail of one shape, say), which answer is
the newest and when its rows were read.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson
from flask import Response, current_app, request
from werkzeug.datastructures import ETags
from werkzeug.http import quote_etag

CACHE_CONTROL = "private, no-cache"
"""Stored by the client only, and never used without asking again with If-None-Match."""


@cache
def _code_version() -> str:
    # A new controller may shape the same rows differently: its tags differ from the old one's.
    try:
        return version("fenix-ansible")
    except PackageNotFoundError:
        return "0+unknown"


def etag(*parts: Any) -> str:
    """A strong entity tag (without its quotes) for an answer made of exactly these parts."""
    digest = hashlib.sha256(repr((_code_version(), *parts)).encode()).hexdigest()
    return digest[:32]


GZIP_SUFFIX = "-gzip"
GZIP_FROM_BYTES = 1024
"""Smaller bodies are sent as they are: gzip would save less than its headers cost."""
GZIP_LEVEL = 5
"""A 180 KiB detail shrinks about tenfold in ~2 ms; higher levels cost more for little."""


def still_fresh(tag: str) -> str | None:
    """The tag of the representation the client holds, when its If-None-Match names this
    answer's tag or its gzipped one's (or is `*`): it has the answer already. Else None."""
    return held_tag(tag, request.if_none_match)


def held_tag(tag: str, if_none_match: ETags) -> str | None:
    """`still_fresh` for a parsed If-None-Match. It compares weakly (RFC 9110, 13.1.2), so
    W/"tag" matches too."""
    for held in (tag, tag + GZIP_SUFFIX):
        if if_none_match.contains_weak(held):
            return held
    return None


def not_modified(tag: str) -> Response:
    return Response(status=304, headers=not_modified_headers(tag))


def not_modified_headers(tag: str) -> list[tuple[str, str]]:
    return [("ETag", quote_etag(tag)), ("Cache-Control", CACHE_CONTROL)]


_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_DATETIME  # to Flask's provider, as jsonify renders them
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def encode_json(body: Any) -> bytes:
    """`body` as jsonify would send it (keys in the app's order, a final newline), by orjson: a
    200-host detail in ~2 ms instead of ~16. What orjson refuses (an integer beyond 64 bits
    in a tenant's metadata, a type only Flask's provider knows) goes through Flask's."""
    try:
        return orjson.dumps(
            body,
            default=current_app.json.default,
            option=_ORJSON_OPTIONS | (orjson.OPT_SORT_KEYS if current_app.json.sort_keys else 0),
        )
    except orjson.JSONEncodeError:
        return current_app.json.response(body).get_data()


@dataclass
class _Answer:
    body: bytes
    as_of: float = 0.0
    """When (time.monotonic) what it shows was last known current: its tag was read then."""
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


@dataclass
class _Kind:
    """What the cache knows of one kind of answer (a session's detail of one shape, say)."""

    tag: str | None = None
    """The newest answer's."""
    refreshing: threading.Lock = field(default_factory=threading.Lock)


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


class AnswerCache:
    """Encoded answers by their tag, shared by every request of this API process.

    A tag names exactly one body, so one built is good for everyone who asks for that tag:
    thirty-two dashboards polling one busy session build (and gzip) each of its versions once,
    not thirty-two times (a 200-host detail is ~150 KiB of JSON from ~800 rows). Requests that
    miss together wait for the first one's build instead of building it again. Least recently
    used answers go first past `max_bytes`.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, kinds_kept: int = 4096) -> None:
        self.max_bytes = max_bytes
        self.kinds_kept = kinds_kept
        self._answers: OrderedDict[str, _Answer] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}
        self._kinds: OrderedDict[Hashable, _Kind] = OrderedDict()

    def answer(self, tag: str, build: Callable[[], Any], as_of: float | None = None) -> Response:
        """The JSON answer tagged `tag`: from the cache, else built (once) and kept, current at
        `as_of` (time.monotonic: when its tag was read; now if not given); gzipped (under its
        own tag) for a client that accepts it."""
        return self.respond(tag, self.kept(tag, build, as_of))

    def kept(self, tag: str, build: Callable[[], Any], as_of: float | None = None) -> _Answer:
        """The answer tagged `tag`, from the cache, else built (once) and kept, current at
        `as_of` (now if not given): for a 304 that keeps it for the next poll."""
        return self._get_or_build(tag, build, time.monotonic() if as_of is None else as_of)

    def confirm(self, kind: Hashable, tag: str, as_of: float) -> None:
        """The answer tagged `tag`, if kept, is the newest of `kind`, still current at `as_of`
        (its tag was just read again)."""
        with self._lock:
            answer = self._answers.get(tag)
            if answer is None:
                return
            answer.as_of = max(answer.as_of, as_of)
            known = self._kinds.pop(kind, None) or _Kind()
            self._kinds[kind] = known
            newest = self._answers.get(known.tag or "")
            if newest is None or newest.as_of <= answer.as_of:
                known.tag = tag
            if len(self._kinds) > self.kinds_kept:
                self._kinds.popitem(last=False)

    def recent(self, kind: Hashable, not_before: float) -> tuple[str, _Answer] | None:
        """The newest answer of `kind` and its tag, if it is still kept and was current at
        `not_before` or later."""
        with self._lock:
            known = self._kinds.get(kind)
            answer = self._answers.get(known.tag or "") if known is not None else None
            if answer is None or answer.as_of < not_before:
                return None
            self._answers.move_to_end(known.tag)
            return known.tag, answer

    def refreshing(self, kind: Hashable) -> threading.Lock:
        """Held by the one request that reads a newer answer of `kind` while others are given
        the newest there is."""
        with self._lock:
            known = self._kinds.get(kind)
            if known is None:
                known = self._kinds[kind] = _Kind()
                if len(self._kinds) > self.kinds_kept:
                    self._kinds.popitem(last=False)
            return known.refreshing

    def respond(self, tag: str, answer: _Answer) -> Response:
        """The response carrying `answer`, gzipped for a client that accepts it."""
        body, headers = self.representation(tag, answer, _accepts_gzip())
        return Response(body, headers=headers)

    def representation(
        self, tag: str, answer: _Answer, accepts_gzip: bool
    ) -> tuple[bytes, list[tuple[str, str]]]:
        """The body and headers of a 200 carrying `answer` (fenix.api.fast_reads sends them
        without Flask)."""
        if accepts_gzip and len(answer.body) >= GZIP_FROM_BYTES:
            body = self._gzipped(tag, answer)
            tag, encoding = tag + GZIP_SUFFIX, [("Content-Encoding", "gzip")]
        else:
            body, encoding = answer.body, []
        return body, [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("ETag", quote_etag(tag)),
            *encoding,
            ("Vary", "Accept-Encoding"),
            ("Cache-Control", CACHE_CONTROL),
        ]

    def _get_or_build(self, tag: str, build: Callable[[], Any], as_of: float) -> _Answer:
        answer = self._lookup(tag)
        if answer is not None:
            return answer
        with self._lock:
            builder = self._building.setdefault(tag, threading.Lock())
        try:
            with builder:
                answer = self._lookup(tag)
                if answer is None:
                    answer = _Answer(encode_json(build()), as_of)
                    self._keep(tag, answer)
        finally:
            with self._lock:
                self._building.pop(tag, None)
        return answer

    def _gzipped(self, tag: str, answer: _Answer) -> bytes:
        if answer.gzipped is None:
            # Two requests may both compress a new version: the same bytes, kept once.
            gzipped = gzip.compress(answer.body, compresslevel=GZIP_LEVEL, mtime=0)
            with self._lock:
                if answer.gzipped is None:
                    answer.gzipped = gzipped
                    if self._answers.get(tag) is answer:
                        self._size += len(gzipped)
                        self._drop_oldest()
        return answer.gzipped

    def _lookup(self, tag: str) -> _Answer | None:
        with self._lock:
            answer = self._answers.get(tag)
            if answer is not None:
                self._answers.move_to_end(tag)
            return answer

    def _keep(self, tag: str, answer: _Answer) -> None:
        if answer.size > self.max_bytes:
            return
        with self._lock:
            if tag in self._answers:
                return
            self._answers[tag] = answer
            self._size += answer.size
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        while self._size > self.max_bytes and self._answers:
            _old, dropped = self._answers.popitem(last=False)
            self._size -= dropped.size
