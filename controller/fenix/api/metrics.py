"""GET /metrics: the controller's figures for Prometheus (fenix.metrics).

Authenticated like the API (any valid token; the figures are counts that name no session,
host or project): configure the scrape to send X-Auth-Token (Prometheus' `http_headers`).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from fenix.api import runtime

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    body, content_type = runtime().metrics.exposition(request.headers.get("Accept"))
    return Response(body, content_type=content_type)
