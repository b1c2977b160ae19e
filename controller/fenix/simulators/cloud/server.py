"""The simulated cloud as a small JSON-over-HTTP service.

It runs apart from the controller (its own thread, or its own process via
``python -m fenix.simulators.cloud``) so that the cloud and its downtime ledger outlive a
controller that is killed and resumed, and so the driver is exercised over real HTTP.
"""

from __future__ import annotations

import math

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from fenix.wsgi import ServerHandle, serve_in_thread

from .cloud import BadRequest, SimCloudError, SimulatedCloud, SimulatedCloudConfig

MAX_WAIT_SECONDS = 30.0


def _error(status: int, title: str, message: str):
    body = {"error": {"code": status, "title": title, "message": message}}
    return jsonify(body), status


def _body() -> dict:
    if not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def _optional_str(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key!r} must be a string or null.")
    return value or None


def create_sim_app(cloud: SimulatedCloud) -> Flask:
    """The HTTP face of ``cloud``; errors are ``{"error": {"code", "title", "message"}}``."""
    app = Flask(__name__)

    @app.errorhandler(SimCloudError)
    def _cloud_error(exc: SimCloudError):
        return _error(exc.status, exc.title, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.name, exc.description or exc.name)

    @app.get("/v1/hosts")
    def list_hosts():
        return jsonify({"hosts": cloud.list_hosts()})

    @app.get("/v1/hosts/<name>")
    def get_host(name: str):
        return jsonify(cloud.get_host(name))

    @app.post("/v1/hosts/<name>/disable")
    def disable_host(name: str):
        reason = _optional_str(_body(), "reason") or ""
        return jsonify(cloud.disable_host(name, reason))

    @app.post("/v1/hosts/<name>/enable")
    def enable_host(name: str):
        return jsonify(cloud.enable_host(name))

    @app.post("/v1/hosts/<name>/maintain")
    def maintain_host(name: str):
        return jsonify(cloud.maintain_host(name))

    @app.get("/v1/instances")
    def list_instances():
        host = request.args.get("host") or None
        project_id = request.args.get("project_id") or None
        return jsonify({"instances": cloud.list_instances(host=host, project_id=project_id)})

    @app.post("/v1/instances")
    def create_instance():
        data = _body()
        project_id = _optional_str(data, "project_id")
        if project_id is None:
            raise BadRequest("'project_id' is required.")
        instance = cloud.create_instance(
            project_id, name=_optional_str(data, "name"), host=_optional_str(data, "host")
        )
        return jsonify(instance), 201

    @app.get("/v1/instances/<instance_id>")
    def get_instance(instance_id: str):
        return jsonify(cloud.get_instance(instance_id))

    @app.delete("/v1/instances/<instance_id>")
    def delete_instance(instance_id: str):
        cloud.delete_instance(instance_id)
        return "", 204

    @app.post("/v1/instances/<instance_id>/migrate")
    def migrate(instance_id: str):
        data = _body()
        live = data.get("live", False)
        if not isinstance(live, bool):
            raise BadRequest("'live' must be a boolean.")
        target = _optional_str(data, "target_host")
        action_id = cloud.migrate(instance_id, target_host=target, live=live)
        return jsonify({"action_id": action_id}), 202

    @app.post("/v1/instances/<instance_id>/evict")
    def evict(instance_id: str):
        return jsonify({"action_id": cloud.evict(instance_id)}), 202

    @app.get("/v1/actions/<action_id>")
    def get_action(action_id: str):
        raw = request.args.get("wait")
        if raw is None:
            return jsonify(cloud.get_action(action_id))
        try:
            wait = float(raw)
        except ValueError:
            raise BadRequest("'wait' must be a number of seconds.") from None
        if math.isnan(wait) or wait < 0:
            raise BadRequest("'wait' must be a non-negative number of seconds.")
        return jsonify(cloud.wait_action(action_id, min(wait, MAX_WAIT_SECONDS)))

    @app.post("/v1/faults")
    def inject_fault():
        data = _body()
        kind = _optional_str(data, "kind")
        if kind is None:
            raise BadRequest("'kind' is required.")
        count = data.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool):
            raise BadRequest("'count' must be an integer.")
        fault = cloud.inject_fault(
            kind,
            instance_id=_optional_str(data, "instance_id"),
            count=count,
            message=_optional_str(data, "message"),
            host=_optional_str(data, "host"),
        )
        return jsonify(fault), 201

    @app.get("/v1/report")
    def report():
        return jsonify(cloud.report())

    return app


def start_sim_cloud(
    config: SimulatedCloudConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    threads: int = 16,
) -> tuple[SimulatedCloud, ServerHandle]:
    """A new cloud served on a background thread; port 0 takes a free port.

    Stop it with ``handle.stop()`` and ``cloud.close()``. Long polls and maintenance hold a
    server thread each, hence more threads than the default.
    """
    cloud = SimulatedCloud(config)
    handle = serve_in_thread(
        create_sim_app(cloud), host=host, port=port, threads=threads, name="simulated-cloud"
    )
    return cloud, handle
