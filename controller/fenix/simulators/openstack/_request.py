"""What every simulated API reads from the request: the server's own URL and a JSON body."""

from __future__ import annotations

from typing import Any

from flask import request

from .cloud import ApiError


def base_url() -> str:
    """The URL clients reached us by, for links and the catalog (no port known in advance)."""
    return request.host_url.rstrip("/")


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data
