"""Keystone v3, as much as a password login needs: version discovery and tokens with a catalog.

``/`` and ``/v3`` answer version discovery; ``POST /v3/auth/tokens`` checks the one user's
password and project scope and returns a token (``X-Subject-Token``) with a catalog whose
compute endpoint is this server's ``/compute/v2.1``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import Blueprint, jsonify

from ._request import base_url, json_body
from .cloud import ApiError, SimulatedOpenStack


def keystone_blueprint(cloud: SimulatedOpenStack) -> Blueprint:
    keystone = Blueprint("keystone", __name__)
    config = cloud.config

    def identity_version() -> dict:
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{base_url()}/v3/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

    @keystone.get("/")
    def identity_versions():
        return jsonify({"versions": {"values": [identity_version()]}}), 300

    @keystone.get("/v3")
    def identity_v3():
        return jsonify({"version": identity_version()})

    @keystone.post("/v3/auth/tokens")
    def issue_token():
        auth = json_body().get("auth") or {}
        identity = auth.get("identity") or {}
        user = (identity.get("password") or {}).get("user") or {}
        token = cloud.authenticate(user.get("name"), user.get("password"))
        project = (auth.get("scope") or {}).get("project") or {}
        if project.get("name") not in (None, config.project_name) or project.get("id") not in (
            None,
            cloud.project_id,
        ):
            raise ApiError(401, "The request you have made requires authentication.")
        now = datetime.now(UTC)
        domain = {"id": "default", "name": config.domain}
        catalog = [
            _catalog_entry("identity", "keystone", base_url(), config.region),
            _catalog_entry("compute", "nova", f"{base_url()}/compute/v2.1", config.region),
        ]
        body = {
            "token": {
                "methods": ["password"],
                "audit_ids": [uuid.uuid4().hex[:22]],
                "issued_at": now.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                "expires_at": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                "user": {
                    "id": cloud.user_id,
                    "name": config.username,
                    "domain": domain,
                    "password_expires_at": None,
                },
                "project": {"id": cloud.project_id, "name": config.project_name, "domain": domain},
                "is_domain": False,
                "roles": [{"id": uuid.uuid4().hex, "name": name} for name in ("admin", "member")],
                "catalog": catalog,
            }
        }
        response = jsonify(body)
        response.status_code = 201
        response.headers["X-Subject-Token"] = token
        return response

    return keystone


def _catalog_entry(service_type: str, name: str, url: str, region: str) -> dict:
    return {
        "id": uuid.uuid4().hex,
        "type": service_type,
        "name": name,
        "endpoints": [
            {
                "id": uuid.uuid4().hex,
                "interface": interface,
                "region": region,
                "region_id": region,
                "url": url,
            }
            for interface in ("public", "internal", "admin")
        ],
    }


def clouds_yaml_entry(cloud: SimulatedOpenStack, url: str) -> dict:
    """The clouds.yaml entry (or ``openstack.connect`` keywords) that reaches the simulator."""
    config = cloud.config
    return {
        "auth_type": "password",
        "auth": {
            "auth_url": f"{url}/v3",
            "username": config.username,
            "password": config.password,
            "project_name": config.project_name,
            "user_domain_name": config.domain,
            "project_domain_name": config.domain,
        },
        "region_name": config.region,
        "identity_api_version": 3,
    }
