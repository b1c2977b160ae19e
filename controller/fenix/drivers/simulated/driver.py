"""The CloudDriver for the simulated cloud, over HTTP.

Talking HTTP (not calling the model in-process) keeps the cloud alive across controller
restarts and makes demos and tests use the same path a real driver does: remote calls that
can fail, and moves that are started and then waited on.
"""

from __future__ import annotations

import json as jsonlib
import time
from urllib.parse import quote, urlencode

import urllib3

from fenix.drivers.base import (
    ActionResult,
    ActionStatus,
    CloudDriver,
    DriverError,
    HostInfo,
    HostKind,
    InstanceInfo,
    UnknownHostError,
    UnknownInstanceError,
)

WAIT_CHUNK_SECONDS = 25.0
"""Longest single long poll; below the server's 30 s cap."""

_ERRORS_BY_TITLE: dict[str, type[DriverError]] = {
    "HostNotFound": UnknownHostError,
    "InstanceNotFound": UnknownInstanceError,
}


def _q(value: str) -> str:
    return quote(value, safe="")


class SimulatedDriver(CloudDriver):
    """Drive a simulated cloud served at ``url`` (one of ``fenix.simulators.cloud``)."""

    name = "simulated"

    def __init__(self, url: str, timeout: float = 10.0, maintain_timeout: float = 600.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.maintain_timeout = maintain_timeout
        # urllib3 straight, not requests: the simulated cloud is reached directly (no proxy,
        # netrc or CA bundle from the environment), and the engine calls it a few times per
        # instance moved, where requests' own preparation of each call was most of its cost.
        self._pool = urllib3.PoolManager(maxsize=8, retries=False)

    # -- HTTP -------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        params: dict | None = None,
        timeout: float | None = None,
    ) -> dict | None:
        url = self.url + path + (f"?{urlencode(params)}" if params else "")
        body = headers = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers = {"Content-Type": "application/json"}
        try:
            response = self._pool.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=timeout if timeout is not None else self.timeout,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise DriverError(f"simulated cloud at {self.url} unreachable: {exc}") from exc
        if response.status >= 400:
            title, message = "", f"HTTP {response.status} from {method} {path}"
            try:
                error = response.json().get("error") or {}
                title = error.get("title") or ""
                message = error.get("message") or message
            except (ValueError, AttributeError):
                pass
            raise _ERRORS_BY_TITLE.get(title, DriverError)(message)
        if response.status == 204 or not response.data:
            return None
        return response.json()

    # -- CloudDriver ------------------------------------------------------------------------

    def list_hosts(self) -> list[HostInfo]:
        data = self._request("GET", "/v1/hosts") or {}
        return [_host_info(h) for h in data["hosts"]]

    def get_host(self, host: str) -> HostInfo:
        return _host_info(self._request("GET", f"/v1/hosts/{_q(host)}") or {})

    def disable_host(self, host: str, reason: str) -> None:
        self._request("POST", f"/v1/hosts/{_q(host)}/disable", json={"reason": reason})

    def enable_host(self, host: str) -> None:
        self._request("POST", f"/v1/hosts/{_q(host)}/enable", json={})

    def list_instances(
        self, host: str | None = None, project_id: str | None = None
    ) -> list[InstanceInfo]:
        params = {k: v for k, v in (("host", host), ("project_id", project_id)) if v is not None}
        data = self._request("GET", "/v1/instances", params=params) or {}
        return [_instance_info(i) for i in data["instances"]]

    def migrate(self, instance_id: str, target_host: str | None = None) -> str:
        return self._move(instance_id, live=False, target_host=target_host)

    def live_migrate(self, instance_id: str, target_host: str | None = None) -> str:
        return self._move(instance_id, live=True, target_host=target_host)

    def _move(self, instance_id: str, live: bool, target_host: str | None) -> str:
        body = {"live": live, "target_host": target_host}
        data = self._request("POST", f"/v1/instances/{_q(instance_id)}/migrate", json=body)
        return data["action_id"]  # type: ignore[index]

    def evict(self, instance_id: str) -> str:
        data = self._request("POST", f"/v1/instances/{_q(instance_id)}/evict", json={})
        return data["action_id"]  # type: ignore[index]

    def wait_action(self, action_id: str, timeout: float) -> ActionResult:
        """Long-poll in chunks until the action ends or ``timeout`` passes (then RUNNING)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            chunk = min(remaining, WAIT_CHUNK_SECONDS)
            data = self._request(
                "GET",
                f"/v1/actions/{_q(action_id)}",
                params={"wait": f"{chunk:.3f}"},
                timeout=chunk + self.timeout,
            )
            result = _action_result(data or {})
            if result.status is not ActionStatus.RUNNING or remaining <= chunk:
                return result

    def maintain_host(self, host: str) -> None:
        self._request("POST", f"/v1/hosts/{_q(host)}/maintain", timeout=self.maintain_timeout)

    def close(self) -> None:
        self._pool.clear()

    # -- extras for the sample VNFM, the demo and tests ----------------------------------------

    def create_instance(
        self, project_id: str, name: str | None = None, host: str | None = None
    ) -> InstanceInfo:
        body = {"project_id": project_id, "name": name, "host": host}
        return _instance_info(self._request("POST", "/v1/instances", json=body) or {})

    def delete_instance(self, instance_id: str) -> None:
        self._request("DELETE", f"/v1/instances/{_q(instance_id)}")

    def get_instance(self, instance_id: str) -> InstanceInfo:
        return _instance_info(self._request("GET", f"/v1/instances/{_q(instance_id)}") or {})

    def report(self) -> dict:
        return self._request("GET", "/v1/report") or {}

    def inject_fault(
        self,
        kind: str,
        instance_id: str | None = None,
        count: int = 1,
        message: str | None = None,
        host: str | None = None,
    ) -> dict:
        body = {
            "kind": kind,
            "instance_id": instance_id,
            "count": count,
            "message": message,
            "host": host,
        }
        return self._request("POST", "/v1/faults", json=body) or {}


def _host_info(data: dict) -> HostInfo:
    details = {
        k: data[k]
        for k in ("disabled_reason", "used", "reserved", "free", "maintained", "in_maintenance")
        if k in data
    }
    return HostInfo(
        name=data["name"],
        kind=HostKind(data["kind"]),
        enabled=data["enabled"],
        capacity=data["capacity"],
        details=details,
        zone=data.get("zone"),
    )


def _instance_info(data: dict) -> InstanceInfo:
    details = {k: data[k] for k in ("task", "action_id", "serving") if k in data}
    return InstanceInfo(
        instance_id=data["instance_id"],
        name=data["name"],
        project_id=data["project_id"],
        host=data["host"],
        size=data.get("size", 1),
        state=data.get("state", "ACTIVE"),
        details=details,
    )


def _action_result(data: dict) -> ActionResult:
    return ActionResult(
        action_id=data["action_id"],
        status=ActionStatus(data["status"]),
        instance_id=data["instance_id"],
        host=data.get("host"),
        error=data.get("error"),
        target_refused=bool(data.get("refused")),
    )
