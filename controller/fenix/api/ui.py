"""GET /ui/: a page to watch maintenance sessions live, served as plain files.

The page is static (HTML, CSS and one vanilla JavaScript file in api/static/, no build step):
it holds no data of its own and reads everything from the JSON API in the browser, sending the
token the user pastes as X-Auth-Token. So it needs no access rule of its own, and it shows
exactly what the API would answer that token. The page and its files are served to anyone
(`public`): they hold no data.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, redirect, send_from_directory, url_for
from flask.typing import ResponseReturnValue

from fenix.api.auth import public

STATIC = Path(__file__).parent / "static"

blueprint = Blueprint("ui", __name__, static_folder=str(STATIC), static_url_path="/ui/static")

_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@blueprint.get("/ui")
@public
def bare() -> ResponseReturnValue:
    # Its own rule, so that /ui redirects for anyone (an unmatched URL is authenticated first).
    return redirect(url_for("ui.page"), code=308)


@blueprint.get("/ui/")
@public
def page() -> Response:
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Content-Security-Policy"] = _CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
