"""Polls answered before Flask while the API is busy: the recent answer, or its 304.

While an API process is busy (fenix.api.read_load), most session reads are given an answer
already built: the newest of their kind, a moment old, or a 304 for it. Flask's routing,
hooks and response objects then cost more CPU than the answer itself, CPU taken from the GIL
that the managers' replies need. So this WSGI layer, inside authentication middleware
(keystonemiddleware) and outside Flask, answers such a poll itself when:

- `conditional_read` answered the same URL (path and query string) before and learned what it
  reads: parsing and validating the query stay Flask's;
- the caller's headers prove the admin, by the authenticator Flask's own hook uses (a member,
  a bad token or open mode go to Flask, which answers them);
- an answer of that kind is recent enough to be given without a read, as `conditional_read`
  would give it (fenix.api.shared_reads.given_without_a_read).

Everything else, and every request while the API is quiet, goes to Flask unchanged. The
answer is the bytes and headers Flask would send (`AnswerCache.representation`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from flask import Flask
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import parse_accept_header, parse_etags

from fenix.api.auth import authenticator_of, is_open
from fenix.api.conditional import held_tag, not_modified_headers
from fenix.api.replies_first import RepliesFirst
from fenix.api.shared_reads import answers_of, given_without_a_read, is_busy, learned_read

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Answered = tuple[str, list[tuple[str, str]], bytes]


def init_app(app: Flask) -> None:
    """Put the layer in front of `app`'s Flask, once its reads and authentication are set up
    and before authentication middleware wraps it (that must stay outermost)."""
    app.wsgi_app = FastReads(app, app.wsgi_app)  # type: ignore[method-assign]


class FastReads:
    """The WSGI layer (see the module's docstring), and where the requests that are not polls
    go first while the API is busy (fenix.api.replies_first)."""

    def __init__(self, app: Flask, flask: WsgiApp) -> None:
        self.app = app
        self.flask = flask
        self.replies_first = RepliesFirst()
        self.authenticator = authenticator_of(app)
        self.open_mode = is_open(app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        read = _a_poll(self.app, environ)
        if read is None:
            self.replies_first.started()
            try:
                return self.flask(environ, start_response)
            finally:
                self.replies_first.ended()
        if is_busy(self.app):
            self.replies_first.step_aside()
            answered = self._answer(environ, read)
            if answered is not None:
                status, headers, body = answered
                start_response(status, headers)
                return [body]
        return self.flask(environ, start_response)

    def _answer(self, environ: dict[str, Any], read: tuple[Hashable, str]) -> Answered | None:
        if not self._is_the_admin(environ):
            return None
        recent = given_without_a_read(self.app, read)
        if recent is None:
            return None
        tag, answer = recent
        if held := held_tag(tag, parse_etags(environ.get("HTTP_IF_NONE_MATCH"))):
            return "304 NOT MODIFIED", not_modified_headers(held), b""
        accepts_gzip = parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING"))["gzip"] > 0
        body, headers = answers_of(self.app).representation(tag, answer, accepts_gzip)
        return "200 OK", headers, body

    def _is_the_admin(self, environ: dict[str, Any]) -> bool:
        if self.open_mode:
            return False  # open mode's checks of a browser's requests are Flask's
        identity = self.authenticator.identify(EnvironHeaders(environ))
        return not isinstance(identity, str) and identity.is_admin


def _a_poll(app: Flask, environ: dict[str, Any]) -> tuple[Hashable, str] | None:
    """What the request reads, when it is a poll: a GET, without a body, of a URL a session read
    answered before."""
    if environ.get("REQUEST_METHOD") != "GET" or _has_body(environ):
        return None
    return learned_read(app, environ)


def _has_body(environ: dict[str, Any]) -> bool:
    return environ.get("CONTENT_LENGTH", "") not in ("", "0") or (
        "HTTP_TRANSFER_ENCODING" in environ
    )
