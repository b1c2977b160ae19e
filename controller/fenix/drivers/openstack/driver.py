"""The CloudDriver for OpenStack, through openstacksdk.

Hosts are nova's: a host with a ``nova-compute`` service is a compute host (its capacity is
its hypervisor's vCPUs), a host with only other nova services is a controller. Taking a host
out of service disables its ``nova-compute`` service with a reason, as an operator would.

Moves are nova's own (live migration, cold migration then resize confirm, delete for an
eviction). Nova has no handle for a move that outlives the request, so an action id is
``"<kind>:<server id>:<source host>"`` and wait_action watches the server: a move is done when
the server is ACTIVE (or SHUTOFF) on another host, and failed when the server is in ERROR
(nova's fault message is the error) or back on its source with its migration in error (the
reason then comes from the instance action's events, shown from microversion 2.84).

It is over 300 lines because telling how a move ended takes the server, its migration records
and its action events, each read the way the cloud's microversion allows.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

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

try:
    import openstack
    from keystoneauth1 import exceptions as ks_exceptions
    from openstack import exceptions as os_exceptions
    from openstack import utils as os_utils
except ImportError:  # pragma: no cover - openstacksdk is an optional dependency
    openstack = None  # type: ignore[assignment]

LOG = logging.getLogger(__name__)

COMPUTE_BINARY = "nova-compute"
LIVE, COLD, EVICT = "live", "cold", "evict"
_MIGRATION_TYPE = {LIVE: "live-migration", COLD: "migration"}
_ACTION_NAME = {LIVE: "live-migration", COLD: "migrate"}
_WHAT = {LIVE: "live migration", COLD: "cold migration", EVICT: "eviction"}
_FAILED_MIGRATION = ("error", "failed", "cancelled", "reverted")
_SETTLED = ("ACTIVE", "SHUTOFF")
_HYPERVISOR_RESOURCES_UNTIL = "2.87"
"""Nova dropped vcpus from hypervisors in 2.88; every newer nova still serves 2.87."""


@contextlib.contextmanager
def _cloud_call(what: str, not_found: type[DriverError] = DriverError) -> Iterator[None]:
    """Turn SDK and keystoneauth errors into DriverError carrying nova's own message."""
    try:
        yield
    except os_exceptions.NotFoundException as exc:
        raise not_found(f"{what}: {_message(exc)}") from exc
    except os_exceptions.SDKException as exc:
        raise DriverError(f"{what}: {_message(exc)}") from exc
    except ks_exceptions.ClientException as exc:
        raise DriverError(f"{what}: {exc}") from exc


def _message(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    return str(details) if details else str(exc)


class OpenStackDriver(CloudDriver):
    """Drive an OpenStack cloud named in clouds.yaml, or set up by the ``OS_*`` environment.

    ``connection`` (an ``openstack.connection.Connection``) replaces ``cloud``/``region``;
    the caller then keeps ownership of it. ``poll_interval`` is how often wait_action looks.
    """

    name = "openstack"

    def __init__(
        self,
        cloud: str | None = None,
        connection: Any = None,
        region: str | None = None,
        *,
        poll_interval: float = 1.0,
    ) -> None:
        if openstack is None:
            raise DriverError(
                "the openstack driver needs openstacksdk: pip install 'fenix-ansible[openstack]'"
            )
        self._owned = connection is None
        if connection is None:
            try:
                connection = openstack.connect(cloud=cloud, region_name=region)
            except os_exceptions.SDKException as exc:
                raise DriverError(
                    f"cannot set up the OpenStack connection ({exc}); name a cloud of your "
                    "clouds.yaml (or set OS_CLOUD), or export OS_AUTH_URL and the other OS_* "
                    "variables"
                ) from exc
        self.connection = connection
        self.poll_interval = poll_interval
        self._flavors: dict[str, tuple[int, str | None]] = {}
        self._confirmed: set[str] = set()

    @property
    def _compute(self):
        return self.connection.compute

    def _supports(self, microversion: str) -> bool:
        with _cloud_call("asking nova for its microversions"):
            return os_utils.supports_microversion(self._compute, microversion)

    # -- hosts ------------------------------------------------------------------------------

    def list_hosts(self) -> list[HostInfo]:
        with _cloud_call("listing nova services"):
            services = list(self._compute.services())
        hypervisors = self._hypervisors()
        binaries: dict[str, list[Any]] = {}
        for service in services:
            binaries.setdefault(service.host, []).append(service)
        hosts = []
        for host, host_services in binaries.items():
            compute = next((s for s in host_services if s.binary == COMPUTE_BINARY), None)
            if compute is None:
                hosts.append(
                    HostInfo(
                        name=host,
                        kind=HostKind.CONTROLLER,
                        enabled=all(s.status == "enabled" for s in host_services),
                        capacity=0,
                        details={"services": sorted(s.binary for s in host_services)},
                    )
                )
                continue
            hypervisor = hypervisors.get(host, {})
            hosts.append(
                HostInfo(
                    name=host,
                    kind=HostKind.COMPUTE,
                    enabled=compute.status == "enabled",
                    capacity=int(hypervisor.get("vcpus") or 0),
                    details={
                        "service_id": compute.id,
                        "disabled_reason": compute.disabled_reason,
                        "state": compute.state,
                        "zone": compute.availability_zone,
                        "hypervisor_hostname": hypervisor.get("hypervisor_hostname"),
                        "vcpus_used": hypervisor.get("vcpus_used"),
                    },
                    zone=compute.availability_zone or None,
                )
            )
        order = {HostKind.COMPUTE: 0, HostKind.CONTROLLER: 1}
        return sorted(hosts, key=lambda h: (order[h.kind], h.name))

    def _hypervisors(self) -> dict[str, dict]:
        """Hypervisors by their service's host, read raw at <= 2.87 where vcpus still shows."""
        pinned = self._supports(_HYPERVISOR_RESOURCES_UNTIL)
        with _cloud_call("listing nova hypervisors"):
            response = self._compute.get(
                "/os-hypervisors/detail",
                microversion=_HYPERVISOR_RESOURCES_UNTIL if pinned else None,
            )
            os_exceptions.raise_from_response(response)
            listed = response.json().get("hypervisors", [])
        return {(h.get("service") or {}).get("host") or h["hypervisor_hostname"]: h for h in listed}

    def _compute_service(self, host: str):
        """The host's nova-compute service; None for a controller; UnknownHostError else."""
        with _cloud_call(f"looking up the services of host {host}"):
            services = list(self._compute.services(host=host))
        for service in services:
            if service.binary == COMPUTE_BINARY:
                return service
        if services:
            return None
        known = sorted({h.name for h in self.list_hosts()})
        raise UnknownHostError(
            f"nova has no service on host {host}; its hosts are: {', '.join(known) or 'none'}"
        )

    def disable_host(self, host: str, reason: str) -> None:
        service = self._compute_service(host)
        if service is None:
            return  # a controller: nothing is scheduled onto it
        with _cloud_call(f"disabling nova-compute on {host}", UnknownHostError):
            self._compute.disable_service(
                service, host=host, binary=COMPUTE_BINARY, disabled_reason=reason or None
            )

    def enable_host(self, host: str) -> None:
        service = self._compute_service(host)
        if service is None:
            return
        with _cloud_call(f"enabling nova-compute on {host}", UnknownHostError):
            self._compute.enable_service(service, host=host, binary=COMPUTE_BINARY)

    # -- instances --------------------------------------------------------------------------

    def list_instances(
        self, host: str | None = None, project_id: str | None = None
    ) -> list[InstanceInfo]:
        query: dict[str, Any] = {"all_projects": True}
        if host is not None:
            query["compute_host"] = host
        if project_id is not None:
            query["project_id"] = project_id
        with _cloud_call("listing servers"):
            servers = list(self._compute.servers(details=True, **query))
        # A server with no host (shelved, or never scheduled) takes no room anywhere.
        return [self._instance_info(s) for s in servers if s.compute_host]

    def _instance_info(self, server) -> InstanceInfo:
        vcpus, flavor_name = self._flavor(server.flavor)
        return InstanceInfo(
            instance_id=server.id,
            name=server.name,
            project_id=server.project_id,
            host=server.compute_host,
            size=vcpus,
            state=server.status,
            details={
                "task_state": server.task_state,
                "vm_state": server.vm_state,
                "flavor": flavor_name,
                "hypervisor_hostname": server.hypervisor_hostname,
            },
        )

    def _flavor(self, flavor) -> tuple[int, str | None]:
        """vCPUs and name: embedded in the server from 2.47, looked up (once) before."""
        if flavor is None:
            return 1, None
        if flavor.vcpus:
            return int(flavor.vcpus), flavor.original_name
        flavor_id = flavor.id
        if flavor_id not in self._flavors:
            try:
                with _cloud_call(f"looking up flavor {flavor_id}"):
                    found = self._compute.get_flavor(flavor_id)
            except DriverError as exc:  # deleted since: nova < 2.47 cannot say any more
                LOG.warning("counting 1 vCPU for flavor %s: %s", flavor_id, exc)
                return 1, None
            self._flavors[flavor_id] = (int(found.vcpus or 1), found.name)
        return self._flavors[flavor_id]

    def _server(self, instance_id: str):
        with _cloud_call(f"server {instance_id}", UnknownInstanceError):
            return self._compute.get_server(instance_id)

    # -- moves ------------------------------------------------------------------------------

    def live_migrate(self, instance_id: str, target_host: str | None = None) -> str:
        server = self._server(instance_id)
        # "auto" has nova use block migration for local disks and not for shared storage.
        block_migration: str | bool = "auto" if self._supports("2.25") else False
        # Before 2.30 naming a host skips the scheduler anyway; the SDK wants that said.
        force = target_host is not None and not self._supports("2.30")
        with _cloud_call(f"live migration of {instance_id} refused by nova", UnknownInstanceError):
            try:
                self._compute.live_migrate_server(
                    server, host=target_host, force=force, block_migration=block_migration
                )
            except os_exceptions.BadRequestException as exc:
                if block_migration is not False or "not on shared storage" not in _message(exc):
                    raise
                # Before 2.25 there is no "auto": nova said the disks are local, so ask for
                # the block migration it needs.
                self._compute.live_migrate_server(
                    server, host=target_host, force=force, block_migration=True
                )
        return _action_id(LIVE, server)

    def migrate(self, instance_id: str, target_host: str | None = None) -> str:
        server = self._server(instance_id)
        if target_host is not None and not self._supports("2.56"):
            LOG.warning(
                "nova before 2.56 cannot cold-migrate to a named host; letting its scheduler "
                "choose instead of %s for %s",
                target_host,
                instance_id,
            )
            target_host = None
        with _cloud_call(f"cold migration of {instance_id} refused by nova", UnknownInstanceError):
            self._compute.migrate_server(server, host=target_host)
        return _action_id(COLD, server)

    def evict(self, instance_id: str) -> str:
        server = self._server(instance_id)
        with _cloud_call(f"deleting server {instance_id}", UnknownInstanceError):
            self._compute.delete_server(server)
        return _action_id(EVICT, server)

    def wait_action(self, action_id: str, timeout: float) -> ActionResult:
        """Poll the server every ``poll_interval`` until the move ends or ``timeout`` passes."""
        kind, server_id, source = _parse_action_id(action_id)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            result = self._check(action_id, kind, server_id, source)
            remaining = deadline - time.monotonic()
            if result.status is not ActionStatus.RUNNING or remaining <= 0:
                return result
            time.sleep(min(self.poll_interval, remaining))

    def _check(self, action_id: str, kind: str, server_id: str, source: str) -> ActionResult:
        def result(status: ActionStatus, host: str | None, error: str | None = None):
            refused = status is ActionStatus.FAILED and _target_refused(error)
            return ActionResult(
                action_id, status, server_id, host=host, error=error, target_refused=refused
            )

        what = f"{_WHAT[kind]} of {server_id} from {source}"
        try:
            server = self._server(server_id)
        except UnknownInstanceError:
            if kind == EVICT:
                return result(ActionStatus.DONE, None)
            return result(ActionStatus.FAILED, None, f"{what} failed: the server was deleted")
        status, host, task_state = server.status, server.compute_host, server.task_state
        if kind == EVICT:
            if status in ("DELETED", "SOFT_DELETED"):
                return result(ActionStatus.DONE, None)
            if status == "ERROR" and task_state is None:
                return result(ActionStatus.FAILED, host, f"{what} failed: {_fault(server)}")
            return result(ActionStatus.RUNNING, host)
        if status == "ERROR":
            return result(ActionStatus.FAILED, host, f"{what} failed: {_fault(server)}")
        if kind == COLD and status == "VERIFY_RESIZE" and host != source:
            self._confirm(action_id, server)
            return result(ActionStatus.RUNNING, host)
        if status in _SETTLED and task_state is None:
            if host != source:
                self._confirmed.discard(action_id)
                return result(ActionStatus.DONE, host)
            error = self._failed_migration(kind, server_id, source)
            if error is not None:
                return result(ActionStatus.FAILED, host, f"{what} failed: {error}")
        return result(ActionStatus.RUNNING, host)

    def _confirm(self, action_id: str, server) -> None:
        if action_id in self._confirmed:
            return  # nova shows VERIFY_RESIZE until the source host has cleaned up
        try:
            with _cloud_call(f"confirming the resize of {server.id}"):
                self._compute.confirm_server_resize(server)
        except DriverError as exc:
            # Confirmed by someone else (or nova's resize_confirm_window) meanwhile: nova
            # answers "Instance has not been resized."; the next poll shows where it is.
            LOG.info("%s", exc)
        self._confirmed.add(action_id)

    def _failed_migration(self, kind: str, server_id: str, source: str) -> str | None:
        """Why the server's latest migration from ``source`` failed; None if it did not."""
        with _cloud_call(f"listing the migrations of {server_id}"):
            migrations = [
                m
                for m in self._compute.migrations(
                    server_id=server_id, migration_type=_MIGRATION_TYPE[kind]
                )
                if m.source_compute == source
            ]
        if not migrations:
            return None
        # Newest first: nova sorts so from 2.59; the stable sort keeps that order on ties.
        latest = sorted(migrations, key=lambda m: m.created_at or "", reverse=True)[0]
        if latest.status not in _FAILED_MIGRATION:
            return None
        reason = self._action_error(kind, server_id)
        if reason is not None:
            return reason
        return (
            f"nova put migration {latest.id} in status {latest.status}; see its reason with "
            f"`openstack server event list {server_id}`"
        )

    def _action_error(self, kind: str, server_id: str) -> str | None:
        """The details of the failed event of the server's latest move action (2.84+)."""
        with _cloud_call(f"listing the instance actions of {server_id}"):
            actions = [a for a in self._compute.server_actions(server_id)]
            latest = next((a for a in actions if a.action == _ACTION_NAME[kind]), None)
            if latest is None:
                return None
            action = self._compute.get_server_action(latest.request_id, server_id)
        for event in action.events or []:
            if event.result == "Error" and event.details:
                return str(event.details)
        return None

    # -- extras -----------------------------------------------------------------------------

    def server_groups(self) -> list[dict]:
        """Nova server groups of every project, for instance groups (anti-affinity) when a
        project gave no constraints: ``group_id``, ``name``, ``policy``, ``policies``,
        ``members`` and ``project_id``."""
        with _cloud_call("listing server groups"):
            groups = list(self._compute.server_groups(all_projects=True))
        listed = []
        for group in groups:
            policies = list(group.policies or ([group.policy] if group.policy else []))
            listed.append(
                {
                    "group_id": group.id,
                    "name": group.name,
                    "policy": group.policy or (policies[0] if policies else None),
                    "policies": policies,
                    "members": list(group.member_ids or []),
                    "project_id": group.project_id,
                }
            )
        return listed

    def close(self) -> None:
        if self._owned:
            self.connection.close()


def _action_id(kind: str, server) -> str:
    return f"{kind}:{server.id}:{server.compute_host}"


def _parse_action_id(action_id: str) -> tuple[str, str, str]:
    kind, _, rest = action_id.partition(":")
    server_id, _, source = rest.partition(":")
    if kind not in _WHAT or not server_id:
        raise DriverError(
            f"{action_id!r} is not an action id of the openstack driver "
            "(expected '<live|cold|evict>:<server id>:<source host>')"
        )
    return kind, server_id, source


def _fault(server) -> str:
    fault = server.fault or {}
    message = fault.get("message") if isinstance(fault, dict) else None
    return message or f"nova put the server in {server.status} without a fault message"


_TARGET_REFUSALS = ("No valid host was found", "is unavailable at this time")


def _target_refused(error: str | None) -> bool:
    """Nova's scheduler and conductor say so when the target cannot take the server: it stays
    where it was, and another target may do."""
    return bool(error) and any(words in error for words in _TARGET_REFUSALS)
