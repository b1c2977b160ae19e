"""Keystone v3 and Nova's compute API on one port, as openstacksdk meets them.

Keystone is at ``/`` (auth_url ``<url>/v3``), Nova at ``/compute`` (found through the token's
catalog). Errors use each service's own shape: keystone's ``{"error": {...}}`` for a 401, nova's
``{"badRequest": {"code": 400, "message": ...}}`` for the rest, which is what the SDK reads
the message from.
"""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from fenix.wsgi import ServerHandle, serve_in_thread

from .cloud import ApiError, SimulatedOpenStack, SimulatorConfig
from .keystone import keystone_blueprint
from .nova_api import nova_blueprint

_ERROR_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    406: "computeFault",
    409: "conflictingRequest",
}


def create_simulator_app(cloud: SimulatedOpenStack) -> Flask:
    app = Flask(__name__)
    app.url_map.strict_slashes = False

    @app.errorhandler(ApiError)
    def _nova_error(exc: ApiError):
        if exc.status == 401:  # keystone's and keystonemiddleware's shape
            body = {"error": {"code": 401, "title": "Unauthorized", "message": exc.message}}
            return jsonify(body), 401
        key = _ERROR_KEYS.get(exc.status, "computeFault")
        return jsonify({key: {"code": exc.status, "message": exc.message}}), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        key = _ERROR_KEYS.get(code, "computeFault")
        return jsonify({key: {"code": code, "message": exc.description or exc.name}}), code

    app.register_blueprint(keystone_blueprint(cloud))
    app.register_blueprint(nova_blueprint(cloud))
    return app


def start_simulator(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> tuple[SimulatedOpenStack, ServerHandle]:
    """A simulated OpenStack served on a background thread (port 0 takes a free port)."""
    cloud = SimulatedOpenStack(config)
    return cloud, serve_in_thread(
        create_simulator_app(cloud), host=host, port=port, name="openstack-sim"
    )
