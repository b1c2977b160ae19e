"""The simulated cluster behind the Kubernetes REST paths the driver uses.

Served over real HTTP so that tests run the official client end to end: its URL building,
headers, content types, (de)serialization and exceptions. Errors are ``Status`` objects, as
kube-apiserver sends them; lists are paged with ``limit`` and ``continue``.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from fenix.wsgi import ServerHandle, serve_in_thread

from .cluster import SimCluster, SimClusterConfig
from .objects import ApiError, bad_request, list_object, paginate

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    415: "UnsupportedMediaType",
}


def _listing(kind: str, api_version: str, items: list[dict], cluster: SimCluster):
    page, token = paginate(items, request.args.get("limit"), request.args.get("continue"))
    body = list_object(kind, api_version, page, cluster.resource_version)
    if token:
        body["metadata"]["continue"] = token
    return jsonify(body)


def _json_body():
    # Patches come as application/*-patch+json, which Flask does not take for JSON by itself.
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise bad_request("the request body must be JSON")
    return body


def create_kube_app(cluster: SimCluster) -> Flask:
    """The HTTP face of ``cluster`` (the paths are those of the Kubernetes API reference)."""
    app = Flask(__name__)
    token = cluster.config.token

    @app.before_request
    def _check():
        if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if request.args.get("watch") in ("true", "1"):
            raise bad_request("the simulator does not serve watches; list instead")

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.status()), exc.code

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        message = "the server could not find the requested resource" if code == 404 else exc.name
        error = ApiError(code, _REASONS.get(code, "InternalError"), message)
        return jsonify(error.status()), code

    @app.get("/api/v1/namespaces")
    def list_namespaces():
        return _listing("NamespaceList", "v1", cluster.list_namespaces(), cluster)

    @app.get("/api/v1/namespaces/<name>")
    def get_namespace(name: str):
        return jsonify(cluster.get_namespace(name))

    @app.get("/api/v1/nodes")
    def list_nodes():
        nodes = cluster.list_nodes(
            request.args.get("labelSelector"), request.args.get("fieldSelector")
        )
        return _listing("NodeList", "v1", nodes, cluster)

    @app.get("/api/v1/nodes/<name>")
    def get_node(name: str):
        return jsonify(cluster.get_node(name))

    @app.patch("/api/v1/nodes/<name>")
    def patch_node(name: str):
        return jsonify(cluster.patch_node(name, _json_body(), request.content_type or ""))

    @app.get("/api/v1/pods")
    def list_all_pods():
        pods = cluster.list_pods(
            None, request.args.get("labelSelector"), request.args.get("fieldSelector")
        )
        return _listing("PodList", "v1", pods, cluster)

    @app.get("/api/v1/namespaces/<namespace>/pods")
    def list_pods(namespace: str):
        pods = cluster.list_pods(
            namespace, request.args.get("labelSelector"), request.args.get("fieldSelector")
        )
        return _listing("PodList", "v1", pods, cluster)

    @app.get("/api/v1/namespaces/<namespace>/pods/<name>")
    def get_pod(namespace: str, name: str):
        return jsonify(cluster.get_pod(namespace, name))

    @app.delete("/api/v1/namespaces/<namespace>/pods/<name>")
    def delete_pod(namespace: str, name: str):
        return jsonify(cluster.delete_pod(namespace, name))

    @app.post("/api/v1/namespaces/<namespace>/pods/<name>/eviction")
    def evict_pod(namespace: str, name: str):
        return jsonify(cluster.evict_pod(namespace, name, _json_body())), 201

    @app.get("/apis/policy/v1/poddisruptionbudgets")
    def list_all_budgets():
        budgets = cluster.list_budgets()
        return _listing("PodDisruptionBudgetList", "policy/v1", budgets, cluster)

    @app.get("/apis/policy/v1/namespaces/<namespace>/poddisruptionbudgets")
    def list_budgets(namespace: str):
        budgets = cluster.list_budgets(namespace)
        return _listing("PodDisruptionBudgetList", "policy/v1", budgets, cluster)

    @app.get("/apis/policy/v1/namespaces/<namespace>/poddisruptionbudgets/<name>")
    def get_budget(namespace: str, name: str):
        return jsonify(cluster.get_budget(namespace, name))

    return app


def start_sim_cluster(
    config: SimClusterConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    threads: int = 8,
) -> tuple[SimCluster, ServerHandle]:
    """A new simulated cluster served on a background thread; port 0 takes a free port.

    Stop it with ``handle.stop()``; the cluster itself runs no thread.
    """
    cluster = SimCluster(config)
    handle = serve_in_thread(
        create_kube_app(cluster), host=host, port=port, threads=threads, name="sim-kubernetes"
    )
    return cluster, handle
