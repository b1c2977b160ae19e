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
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Response, jsonify, request

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
