"""What Nova shows of each resource at a given microversion (a ``(2, minor)`` tuple).

Only the fields and microversion changes a client of these calls meets are kept: service and
hypervisor ids become UUIDs in 2.53, servers embed their flavor from 2.47, hypervisors lose
their resource counts in 2.88, server groups trade ``policies`` for ``policy`` in 2.64,
migrations gain ``uuid`` in 2.59, action events gain ``details`` in 2.84.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .resources import (
    Aggregate,
    Flavor,
    Hypervisor,
    InstanceAction,
    Migration,
    Server,
    ServerGroup,
    Service,
)

Version = tuple[int, int]

_TASK_STATUS = {
    "migrating": "MIGRATING",
    "resize_prep": "RESIZE",
    "resize_migrating": "RESIZE",
    "resize_migrated": "RESIZE",
    "resize_finish": "RESIZE",
}
_VM_STATUS = {
    "resized": "VERIFY_RESIZE",
    "stopped": "SHUTOFF",
    "paused": "PAUSED",
    "error": "ERROR",
    "building": "BUILD",
}


def server_status(server: Server) -> str:
    """Nova's status from vm_state and task_state (nova.api.openstack.common's state map)."""
    if server.vm_state in ("active", "stopped") and server.task_state in _TASK_STATUS:
        return _TASK_STATUS[server.task_state]
    return _VM_STATUS.get(server.vm_state, "ACTIVE")


def service(s: Service, mv: Version) -> dict:
    body: dict[str, Any] = {
        "id": s.uuid if mv >= (2, 53) else s.number,
        "binary": s.binary,
        "host": s.host,
        "zone": s.zone,
        "status": s.status,
        "state": "up" if s.up and not s.forced_down else "down",
        "disabled_reason": s.disabled_reason,
        "updated_at": s.updated_at,
    }
    if mv >= (2, 11):
        body["forced_down"] = s.forced_down
    return body


def aggregate(a: Aggregate, mv: Version) -> dict:
    """GET /os-aggregates: the zone is also in the metadata, as nova keeps it; uuid from 2.41."""
    metadata = dict(a.metadata)
    if a.availability_zone is not None:
        metadata["availability_zone"] = a.availability_zone
    body: dict[str, Any] = {
        "id": a.number,
        "name": a.name,
        "availability_zone": a.availability_zone,
        "hosts": list(a.hosts),
        "metadata": metadata,
        "created_at": a.created_at,
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
    }
    if mv >= (2, 41):
        body["uuid"] = a.uuid
    return body


def hypervisor(h: Hypervisor, s: Service, used_vcpus: int, running: int, mv: Version) -> dict:
    body: dict[str, Any] = {
        "id": h.uuid if mv >= (2, 53) else h.number,
        "hypervisor_hostname": h.host,
        "hypervisor_type": "QEMU",
        "hypervisor_version": 8002000,
        "host_ip": "192.0.2.10",
        "state": "up" if s.up and not s.forced_down else "down",
        "status": s.status,
        "service": {
            "host": s.host,
            "id": s.uuid if mv >= (2, 53) else s.number,
            "disabled_reason": s.disabled_reason,
        },
    }
    if mv >= (2, 88):
        body["uptime"] = None
        return body
    return body | {
        "vcpus": h.vcpus,
        "vcpus_used": used_vcpus,
        "memory_mb": 65536,
        "memory_mb_used": 512 * running,
        "free_ram_mb": 65536 - 512 * running,
        "local_gb": 1000,
        "local_gb_used": running,
        "free_disk_gb": 1000 - running,
        "disk_available_least": 1000 - running,
        "current_workload": 0,
        "running_vms": running,
        "cpu_info": "{}",
    }


def flavor(f: Flavor, base: str, mv: Version) -> dict:
    body: dict[str, Any] = {
        "id": f.id,
        "name": f.name,
        "vcpus": f.vcpus,
        "ram": f.ram,
        "disk": f.disk,
        "swap": 0 if mv >= (2, 75) else "",
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": True,
        "rxtx_factor": 1.0,
        "links": [{"rel": "self", "href": f"{base}/flavors/{f.id}"}],
    }
    if mv >= (2, 55):
        body["description"] = None
    if mv >= (2, 61):
        body["extra_specs"] = {}
    return body


def server(s: Server, base: str, mv: Version, status: str) -> dict:
    if mv >= (2, 47):
        flavor_ref: dict = {
            "original_name": s.flavor.name,
            "vcpus": s.flavor.vcpus,
            "ram": s.flavor.ram,
            "disk": s.flavor.disk,
            "ephemeral": 0,
            "swap": 0,
            "extra_specs": {},
        }
    else:
        flavor_ref = {
            "id": s.flavor.id,
            "links": [{"rel": "bookmark", "href": f"{base}/flavors/{s.flavor.id}"}],
        }
    host_id = hashlib.sha224((s.project_id + (s.host or "")).encode()).hexdigest()
    body: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "status": status,
        "tenant_id": s.project_id,
        "user_id": s.user_id,
        "metadata": {},
        "hostId": host_id if s.host else "",
        "image": {"id": "0b7f1c2e-9d6a-4c55-8a3e-2f1d6c0e9a11", "links": []},
        "flavor": flavor_ref,
        "created": s.created.split(".")[0] + "Z",
        "updated": s.updated.split(".")[0] + "Z",
        "addresses": {},
        "accessIPv4": "",
        "accessIPv6": "",
        "links": [{"rel": "self", "href": f"{base}/servers/{s.id}"}],
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": s.zone,
        "config_drive": "",
        "key_name": None,
        "OS-SRV-USG:launched_at": s.created,
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-SRV-ATTR:host": s.host,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host,
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{s.number:08x}",
        "OS-EXT-STS:task_state": s.task_state,
        "OS-EXT-STS:vm_state": s.vm_state,
        "OS-EXT-STS:power_state": 1 if s.vm_state in ("active", "resized") else 4,
        "os-extended-volumes:volumes_attached": [],
        "security_groups": [{"name": "default"}],
        "progress": 0,
    }
    if status in ("ERROR", "DELETED") and s.fault is not None:
        body["fault"] = dict(s.fault)  # nova shows the fault in these states only
    for version, key, value in (
        ((2, 9), "locked", False),
        ((2, 16), "host_status", "UP" if s.host else ""),
        ((2, 19), "description", None),
        ((2, 26), "tags", []),
        ((2, 71), "server_groups", [s.group_id] if s.group_id else []),
        ((2, 73), "locked_reason", None),
        ((2, 96), "pinned_availability_zone", None),
    ):
        if mv >= version:
            body[key] = value
    return body


def server_group(g: ServerGroup, mv: Version) -> dict:
    body: dict[str, Any] = {
        "id": g.id,
        "name": g.name,
        "members": list(g.members),
        "project_id": g.project_id,
        "user_id": g.user_id,
    }
    if mv >= (2, 64):
        return body | {"policy": g.policy, "rules": {}}
    return body | {"policies": [g.policy], "metadata": {}}


def migration(m: Migration, base: str, mv: Version) -> dict:
    body: dict[str, Any] = {
        "id": m.number,
        "instance_uuid": m.instance_uuid,
        "source_compute": m.source,
        "source_node": m.source,
        "dest_compute": m.dest,
        "dest_node": m.dest,
        "dest_host": "192.0.2.10",
        "status": m.status,
        "old_instance_type_id": m.flavor_number,
        "new_instance_type_id": m.flavor_number,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }
    if mv >= (2, 23):
        body["migration_type"] = m.migration_type
        if m.migration_type == "live-migration" and m.status in ("queued", "preparing", "running"):
            href = f"{base}/servers/{m.instance_uuid}/migrations/{m.number}"
            body["links"] = [{"rel": "self", "href": href}]
    if mv >= (2, 59):
        body["uuid"] = m.uuid
    if mv >= (2, 80):
        body["user_id"] = m.user_id
        body["project_id"] = m.project_id
    return body


def instance_action(a: InstanceAction, mv: Version, with_events: bool) -> dict:
    body: dict[str, Any] = {
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "request_id": a.request_id,
        "project_id": a.project_id,
        "user_id": a.user_id,
        "start_time": a.start_time,
        "message": a.message,
    }
    if mv >= (2, 58):
        body["updated_at"] = a.updated_at
    if with_events:
        events = []
        for event in a.events:
            shown: dict[str, Any] = {
                k: event[k] for k in ("event", "start_time", "finish_time", "result")
            }
            shown["traceback"] = event["traceback"]
            if mv >= (2, 84):
                shown["details"] = event["details"]
            events.append(shown)
        body["events"] = events
    return body
