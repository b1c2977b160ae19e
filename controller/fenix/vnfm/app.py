"""The sample VNFM's HTTP face: the callback the controller posts to, and what it has seen.

Kept apart from the manager so the conversation logic does not depend on Flask; the endpoint
answers at once and leaves the work to the manager's worker, so the controller never waits.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from fenix.vnfm.config import VnfmConfig

logger = logging.getLogger("fenix.vnfm")
SIGNATURE_HEADER = "X-Fenix-Signature"


class Receiver(Protocol):
    """What the app needs of the manager behind it (fenix.vnfm.manager.SampleVnfm), named
    here so that the manager may import the app and not the other way round."""

    config: VnfmConfig

    @property
    def subscription_id(self) -> str | None: ...

    @property
    def messages(self) -> list[dict[str, Any]]: ...

    def signed_by_controller(self, body: bytes, header: str | None) -> bool: ...

    def receive(self, body: Any) -> bool: ...


def create_vnfm_app(vnfm: Receiver) -> Flask:
    """A Flask app serving one VNFM: POST /maintenance, GET /messages, GET /."""
    app = Flask("fenix.vnfm")

    @app.post("/maintenance")
    def maintenance() -> Any:
        raw = request.get_data()
        if not vnfm.signed_by_controller(raw, request.headers.get(SIGNATURE_HEADER)):
            # Anyone may post here; only the controller knows the subscription's secret.
            logger.warning(
                "project %s: ignored a post without a valid %s (from %s)",
                vnfm.config.project_id,
                SIGNATURE_HEADER,
                request.remote_addr,
            )
            return _error(401, "Unauthorized", f"a notification needs a valid {SIGNATURE_HEADER}")
        body = request.get_json(silent=True)
        try:
            accepted = vnfm.receive(body)
        except ValueError as exc:
            return _error(400, "Bad Request", str(exc))
        return jsonify({"accepted": accepted, "duplicate": not accepted})

    @app.get("/messages")
    def messages() -> Any:
        return jsonify({"project_id": vnfm.config.project_id, "messages": vnfm.messages})

    @app.get("/")
    def about() -> Any:
        return jsonify(
            {
                "project_id": vnfm.config.project_id,
                "controller_url": vnfm.config.controller_url,
                "subscription_id": vnfm.subscription_id,
                "instance_action": vnfm.config.instance_action,
            }
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return _error(exc.code or 500, exc.name, exc.description or exc.name)

    return app


def _error(code: int, title: str, message: str) -> Any:
    response = jsonify({"error": {"code": code, "title": title, "message": message}})
    response.status_code = code
    return response
