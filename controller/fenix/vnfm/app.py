"""The sample VNFM's HTTP face: the callback the controller posts to, and what it has seen.

Kept apart from the manager so the conversation logic does not depend on Flask; the endpoint
answers at once and leaves the work to the manager's worker, so the controller never waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

if TYPE_CHECKING:
    from fenix.vnfm.manager import SampleVnfm


def create_vnfm_app(vnfm: SampleVnfm) -> Flask:
    """A Flask app serving one VNFM: POST /maintenance, GET /messages, GET /."""
    app = Flask("fenix.vnfm")

    @app.post("/maintenance")
    def maintenance() -> Any:
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
