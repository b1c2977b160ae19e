"""Guards for open mode (no tokens): only this machine's own callers, never a web page's.

With no token configured every caller is the admin, which the controller allows only on a
loopback address. That alone does not keep browsers out: a page the admin visits may POST to
127.0.0.1 (a `text/plain` form post needs no CORS preflight), or rebind its own DNS name to
127.0.0.1 and read the answers. So in open mode:

- `Host` must be a loopback name or address (a rebound name is not);
- a request with an `Origin` must come from this controller's own origin (the UI);
- a request with a body must say `Content-Type: application/json`, which a page can send
  cross-site only after a preflight that this API never answers.

With tokens configured none of this applies: managers built for Fenix send what they always
sent, and a page cannot know a token.
"""

from __future__ import annotations

import ipaddress

from flask import Request

from fenix.api.errors import ApiError, forbidden

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def check_open_mode_request(request: Request) -> None:
    """An ApiError for a request open mode does not take from a browser page."""
    host = request.host
    if not _is_loopback(_host_name(host)):
        raise ApiError(
            400,
            f"Host {host!r} is not this machine: without API tokens the controller answers only "
            "requests to localhost or a loopback address (configure tokens to serve others)",
        )
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{host}":
        raise forbidden(
            f"requests from the web page at {origin!r} are refused: without API tokens only "
            "this controller's own pages may call it"
        )
    if request.method in _BODY_METHODS and request.mimetype != "application/json":
        raise ApiError(
            415,
            f"send the body as Content-Type: application/json (got "
            f"{request.content_type or 'none'}); without API tokens no other type is taken",
        )


def _host_name(host: str) -> str:
    """The name or address of a Host header, without its port or IPv6 brackets."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_loopback(name: str) -> bool:
    if name.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
