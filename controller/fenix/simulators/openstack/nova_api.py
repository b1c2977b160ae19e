"""Nova's compute API: the calls a maintenance driver makes, with microversions.

Every call but version discovery needs a Keystone token; the microversion comes from the
``OpenStack-API-Version`` (or ``X-OpenStack-Nova-API-Version``) header, is answered in the
response, defaults to 2.1 and is refused (406) past the announced maximum. Routes: services
(update by id from 2.53, the legacy ``disable-log-reason``/``enable`` actions before),
hypervisors, servers and their move actions, instance actions, flavors, server groups and
migrations.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request

from . import views
from ._request import base_url, json_body
from .cloud import COMPUTE, ApiError, SimulatedOpenStack

MIN_MICROVERSION = (2, 1)
_LEGACY_SERVICE_ACTIONS = ("enable", "disable", "disable-log-reason", "force-down")


def _parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.strip().partition(".")
    return int(major), int(minor or 0)


def _is_all_tenants(args) -> bool:
    """nova.api.openstack.common.is_all_tenants: present and empty, or true."""
    if "all_tenants" not in args:
        return False
    value = args["all_tenants"].strip().lower()
    if value == "":
        return True
    if value in ("1", "t", "true", "on", "y", "yes"):
        return True
    if value in ("0", "f", "false", "off", "n", "no"):
        return False
    raise ApiError(400, f"Invalid input received: Unrecognized value '{value}'")


def nova_blueprint(cloud: SimulatedOpenStack) -> Blueprint:
    max_version = _parse_version(cloud.config.max_microversion)

    nova = Blueprint("nova", __name__, url_prefix="/compute")

    def compute_version() -> dict:
        return {
            "id": "v2.1",
            "status": "CURRENT",
            "version": "{}.{}".format(*max_version),
            "min_version": "{}.{}".format(*MIN_MICROVERSION),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base_url()}/compute/v2.1/"}],
            "media-types": [
                {
                    "base": "application/json",
                    "type": "application/vnd.openstack.compute+json;version=2.1",
                }
            ],
        }

    @nova.get("/")
    def compute_versions():
        return jsonify({"versions": [compute_version()]})

    @nova.get("/v2.1")
    def compute_v21():
        return jsonify({"version": compute_version()})

    @nova.before_request
    def _authenticate_and_negotiate():
        if request.path.rstrip("/") in ("/compute", "/compute/v2.1"):
            return
        g.project_id = cloud.project_of(request.headers.get("X-Auth-Token"))
        requested = _requested_microversion()
        if requested is None:
            g.mv = MIN_MICROVERSION
        elif requested == "latest":
            g.mv = max_version
        else:
            g.mv = _parse_version(requested)
            if not MIN_MICROVERSION <= g.mv <= max_version:
                raise ApiError(
                    406,
                    f"Version {requested} is not supported by the API. Minimum is "
                    f"{MIN_MICROVERSION[0]}.{MIN_MICROVERSION[1]} and maximum is "
                    f"{max_version[0]}.{max_version[1]}.",
                )

    @nova.after_request
    def _answer_microversion(response):
        mv = g.get("mv")
        if mv is not None:
            text = f"{mv[0]}.{mv[1]}"
            response.headers["OpenStack-API-Version"] = f"compute {text}"
            response.headers["X-OpenStack-Nova-API-Version"] = text
            response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return response

    v21 = "/v2.1"

    @nova.get(f"{v21}/os-services")
    def list_services():
        services = cloud.find_services(request.args.get("binary"), request.args.get("host"))
        with cloud.lock:
            return jsonify({"services": [views.service(s, g.mv) for s in services]})

    @nova.put(f"{v21}/os-services/<service_id>")
    def update_service(service_id: str):
        body = json_body()
        if g.mv < (2, 53):
            if service_id not in _LEGACY_SERVICE_ACTIONS:
                raise ApiError(404, "Unknown action")
            return jsonify({"service": _legacy_service_action(cloud, service_id, body)})
        with cloud.lock:
            service = cloud.service_by_id(service_id)
            unknown = set(body) - {"status", "disabled_reason", "forced_down"}
            if unknown or not body:
                raise ApiError(400, f"Invalid input for update: {sorted(unknown) or 'empty'}")
            if service.binary != COMPUTE:
                raise ApiError(
                    400,
                    f"Updating a {service.binary} service is not supported. Only nova-compute "
                    "services can be updated.",
                )
            cloud.set_service_status(
                service, body.get("status"), body.get("disabled_reason"), body.get("forced_down")
            )
            return jsonify({"service": views.service(service, g.mv)})

    @nova.get(f"{v21}/os-aggregates")
    def list_aggregates():
        with cloud.lock:
            return jsonify({"aggregates": [views.aggregate(a, g.mv) for a in cloud.aggregates]})

    @nova.get(f"{v21}/os-hypervisors/detail")
    def list_hypervisors():
        with cloud.lock:
            hypervisors = []
            for name, hv in sorted(cloud.hypervisors.items()):
                service = cloud.find_services(COMPUTE, name)[0]
                running = sum(1 for s in cloud.servers.values() if s.host == name)
                hypervisors.append(
                    views.hypervisor(hv, service, cloud.used_vcpus(name), running, g.mv)
                )
            return jsonify({"hypervisors": hypervisors})

    def server_view(server) -> dict:
        return views.server(server, f"{base_url()}/compute/v2.1", g.mv, views.server_status(server))

    @nova.get(f"{v21}/servers/detail")
    def list_servers():
        args = request.args
        with cloud.lock:
            servers = list(cloud.servers.values())
            if _is_all_tenants(args):
                project = args.get("project_id") or args.get("tenant_id")
            else:
                project = g.project_id
            shown = [
                server_view(s)
                for s in servers
                if (project is None or s.project_id == project)
                and ("host" not in args or s.host == args["host"])
                and ("name" not in args or args["name"] in s.name)
            ]
            if "status" in args:
                shown = [s for s in shown if s["status"] == args["status"].upper()]
            return jsonify({"servers": shown})

    @nova.get(f"{v21}/servers/<server_id>")
    def show_server(server_id: str):
        with cloud.lock:
            return jsonify({"server": server_view(cloud.get_server(server_id))})

    @nova.delete(f"{v21}/servers/<server_id>")
    def delete_server(server_id: str):
        cloud.delete_server(server_id)
        return "", 204

    @nova.post(f"{v21}/servers/<server_id>/action")
    def server_action(server_id: str):
        body = json_body()
        if len(body) != 1:
            raise ApiError(400, "There is either no action or more than one action in the body")
        ((name, args),) = body.items()
        if name == "os-migrateLive":
            host, block, force = _live_migrate_args(args, g.mv)
            cloud.live_migrate(server_id, host, block, force)
            return "", 202
        if name == "migrate":
            host = None
            if args is not None:
                if g.mv < (2, 56) or not isinstance(args, dict) or set(args) - {"host"}:
                    raise ApiError(400, "Invalid input for field/attribute migrate.")
                host = args.get("host")
            cloud.migrate(server_id, host)
            return "", 202
        if name == "confirmResize":
            cloud.confirm_resize(server_id)
            return "", 204
        raise ApiError(400, f"There is no such action: {name}")

    @nova.get(f"{v21}/servers/<server_id>/os-instance-actions")
    def list_instance_actions(server_id: str):
        with cloud.lock:
            cloud.get_server(server_id)
            actions = [a for a in reversed(cloud.actions) if a.instance_uuid == server_id]
            shown = [views.instance_action(a, g.mv, with_events=False) for a in actions]
            return jsonify({"instanceActions": shown})

    @nova.get(f"{v21}/servers/<server_id>/os-instance-actions/<request_id>")
    def show_instance_action(server_id: str, request_id: str):
        with cloud.lock:
            for action in cloud.actions:
                if action.instance_uuid == server_id and action.request_id == request_id:
                    shown = views.instance_action(action, g.mv, with_events=True)
                    return jsonify({"instanceAction": shown})
        raise ApiError(404, f"Action for request_id {request_id} on instance {server_id} not found")

    @nova.get(f"{v21}/flavors/<flavor_id>")
    def show_flavor(flavor_id: str):
        flavor = cloud.flavors.get(flavor_id)
        if flavor is None:
            raise ApiError(404, f"Flavor {flavor_id} could not be found.")
        return jsonify({"flavor": views.flavor(flavor, f"{base_url()}/compute/v2.1", g.mv)})

    @nova.get(f"{v21}/os-server-groups")
    def list_server_groups():
        all_projects = request.args.get("all_projects", "").lower() in ("1", "true", "yes")
        with cloud.lock:
            groups = [
                views.server_group(group, g.mv)
                for group in cloud.groups.values()
                if all_projects or group.project_id == g.project_id
            ]
            return jsonify({"server_groups": groups})

    @nova.get(f"{v21}/os-migrations")
    def list_migrations():
        args = request.args
        filters = {
            "instance_uuid": "instance_uuid",
            "source_compute": "source",
            "status": "status",
            "migration_type": "migration_type",
        }
        with cloud.lock:
            shown = []
            # Newest first, as nova sorts them (created_at, id descending) since 2.59.
            for migration in reversed(cloud.migrations):
                if any(
                    key in args and getattr(migration, attr) != args[key]
                    for key, attr in filters.items()
                ):
                    continue
                if "host" in args and args["host"] not in (migration.source, migration.dest):
                    continue
                shown.append(views.migration(migration, f"{base_url()}/compute/v2.1", g.mv))
            return jsonify({"migrations": shown})

    return nova


def _requested_microversion() -> str | None:
    for part in request.headers.get("OpenStack-API-Version", "").split(","):
        service, _, version = part.strip().partition(" ")
        if service == "compute" and version:
            return version.strip()
    return request.headers.get("X-OpenStack-Nova-API-Version") or None


def _live_migrate_args(args: Any, mv: tuple[int, int]) -> tuple[str | None, bool | None, bool]:
    """os-migrateLive's body by microversion; returns (host, block_migration or None, force)."""
    allowed = {"host", "block_migration"}
    if mv < (2, 25):
        allowed.add("disk_over_commit")
    elif (2, 30) <= mv < (2, 68):
        allowed.add("force")
    if (
        not isinstance(args, dict)
        or set(args) - allowed
        or not {"host", "block_migration"} <= set(args)
    ):
        raise ApiError(400, f"Invalid input for field/attribute os-migrateLive: {args!r}")
    block = args["block_migration"]
    if block == "auto" and mv >= (2, 25):
        block = None
    elif not isinstance(block, bool):
        raise ApiError(400, f"Invalid input for field/attribute block_migration: {block!r}")
    host = args["host"]
    force = bool(args.get("force", False)) or (host is not None and mv < (2, 30))
    if force and host is None:
        raise ApiError(400, "Can't force to a non-provided destination")
    return host, block, force


def _legacy_service_action(cloud: SimulatedOpenStack, action: str, body: dict) -> dict:
    """Before 2.53: PUT /os-services/{enable,disable,disable-log-reason} by host and binary."""
    host, binary = body.get("host"), body.get("binary")
    with cloud.lock:
        found = cloud.find_services(binary, host) if host and binary else []
        if not found:
            raise ApiError(404, f"Service {binary} on host {host} could not be found.")
        service = found[0]
        if action == "force-down":
            cloud.set_service_status(service, None, None, bool(body.get("forced_down")))
            return {"host": host, "binary": binary, "forced_down": service.forced_down}
        if action == "disable-log-reason" and not body.get("disabled_reason"):
            raise ApiError(400, "Missing disabled reason field")
        status = "enabled" if action == "enable" else "disabled"
        cloud.set_service_status(service, status, body.get("disabled_reason"), None)
        shown = {"host": host, "binary": binary, "status": status}
        if action == "disable-log-reason":
            shown["disabled_reason"] = service.disabled_reason
        return shown
