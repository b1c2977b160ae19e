"""The request body cap: a body over `Settings.max_body_bytes` is a 413 before it is read.

waitress refuses such a body at its header when it serves the app (`fenix.wsgi`); this check
answers the same for any other server, and werkzeug's MAX_CONTENT_LENGTH stops a chunked
body that grows past the cap while it is read.
"""

from __future__ import annotations

from flask import Flask, request

from fenix.api.errors import ApiError
from fenix.config import Settings


def init_app(app: Flask, settings: Settings) -> None:
    limit = settings.max_body_bytes
    app.config["MAX_CONTENT_LENGTH"] = limit

    @app.before_request
    def _refuse_large_bodies() -> None:
        length = request.content_length
        if length is not None and length > limit:
            raise ApiError(
                413,
                f"the request body is {length} bytes; this controller takes at most {limit} "
                "(FENIX_MAX_BODY_BYTES)",
            )
