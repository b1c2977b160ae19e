"""Conditional reads: an ETag from what an answer is made of, and 304 without building it.

A dashboard, `fenix session watch` and the modules poll a session every second or so, and most
polls find nothing changed. A session's answers carry a strong ETag computed from its change
counter (fenix.db.changes) and the query parameters that shape the body, so a poll whose
If-None-Match still matches is answered from one indexed row, never from the ~800 rows of a
200-host detail. The counter is read before the body, in the same transaction: a body may be
newer than its tag (the next poll fetches it again), never older.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Response, current_app, jsonify, request

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


def still_fresh(tag: str) -> bool:
    """The client's If-None-Match names this tag (or is `*`): it has the answer already.

    If-None-Match compares weakly (RFC 9110, 13.1.2), so W/"tag" matches too.
    """
    return request.if_none_match.contains_weak(tag)


def not_modified(tag: str) -> Response:
    response = Response(status=304)
    response.set_etag(tag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def tagged_json(body: Any, tag: str) -> Response:
    response = jsonify(body)
    response.set_etag(tag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


class AnswerCache:
    """Encoded answers by their tag, shared by every request of this API process.

    A tag names exactly one body, so one built is good for everyone who asks for that tag:
    thirty-two dashboards polling one busy session build each of its versions once, not
    thirty-two times (a 200-host detail is ~150 KiB of JSON from ~800 rows). Requests that
    miss together wait for the first one's build instead of building it again. Least recently
    used answers go first past `max_bytes`.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._answers: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def answer(self, tag: str, build: Callable[[], Any]) -> Response:
        """The JSON answer tagged `tag`: from the cache, else built (once) and kept."""
        body = self._lookup(tag)
        if body is None:
            with self._lock:
                builder = self._building.setdefault(tag, threading.Lock())
            with builder:
                body = self._lookup(tag)
                if body is None:
                    body = current_app.json.response(build()).get_data()  # as jsonify
                    self._keep(tag, body)
            with self._lock:
                self._building.pop(tag, None)
        response = Response(body, mimetype="application/json")
        response.set_etag(tag)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response

    def _lookup(self, tag: str) -> bytes | None:
        with self._lock:
            body = self._answers.get(tag)
            if body is not None:
                self._answers.move_to_end(tag)
            return body

    def _keep(self, tag: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if tag in self._answers:
                return
            self._answers[tag] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _old, dropped = self._answers.popitem(last=False)
                self._size -= len(dropped)
