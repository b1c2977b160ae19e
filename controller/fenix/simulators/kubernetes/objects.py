"""Kubernetes API shapes for the simulator: selectors, Status errors, list envelopes.

Kept apart from the cluster model so that the model reads as behaviour and this file as the
wire format. Shapes follow the public API reference closely enough for the official client's
deserializer (required fields present: a container's name, a condition's type and status, a
taint's key and effect, every field of a node's nodeInfo).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from datetime import UTC, datetime


class ApiError(Exception):
    """A refused request, answered with a ``Status`` object like the API server's."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(kind: str, name: str) -> ApiError:
    """``pods "web-1" not found``, as the API server words it."""
    return ApiError(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind})


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def timestamp(epoch: float) -> str:
    """RFC 3339 in UTC with second precision, the API server's format."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_object(kind: str, api_version: str, items: list[dict], resource_version: int) -> dict:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"resourceVersion": str(resource_version)},
        "items": items,
    }


def paginate(items: list[dict], limit: str | None, token: str | None) -> tuple[list[dict], str]:
    """One page of ``items`` and the ``continue`` token for the next ("" when done)."""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError:
            raise bad_request(f"continue key is not valid: {token}") from None
    if not limit:
        return items[start:], ""
    try:
        size = int(limit)
    except ValueError:
        raise bad_request(f"limit must be an integer, got {limit!r}") from None
    if size <= 0:
        return items[start:], ""
    end = start + size
    if end >= len(items):
        return items[start:], ""
    return items[start:end], base64.urlsafe_b64encode(str(end).encode()).decode()


# -- label selectors ------------------------------------------------------------------------

_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside ``( ... )``."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def label_selector_matches(selector: str | None, labels: dict) -> bool:
    """The string form (``app=web,tier!=db,env in (a,b),!legacy``) against ``labels``."""
    if not selector:
        return True
    for term in _split_terms(selector):
        found = _SET_TERM.match(term)
        if found:
            key, op, values = found.groups()
            wanted = {v.strip() for v in values.split(",") if v.strip()}
            inside = key in labels and labels[key] in wanted
            if inside != (op == "in"):
                return False
        elif "!=" in term:
            key, value = (part.strip() for part in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (part.strip() for part in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def selector_object_matches(selector: dict | None, labels: dict) -> bool:
    """A ``LabelSelector`` object (matchLabels, matchExpressions); null matches nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, op = expression["key"], expression["operator"]
        values = set(expression.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# -- field selectors ------------------------------------------------------------------------

POD_FIELDS = {
    "metadata.name": lambda pod: pod["metadata"]["name"],
    "metadata.namespace": lambda pod: pod["metadata"]["namespace"],
    "spec.nodeName": lambda pod: pod["spec"].get("nodeName", ""),
    "status.phase": lambda pod: pod["status"].get("phase", ""),
}
NODE_FIELDS = {
    "metadata.name": lambda node: node["metadata"]["name"],
    "spec.unschedulable": lambda node: str(bool(node["spec"].get("unschedulable"))).lower(),
}


def field_selector(text: str | None, fields: dict) -> list[tuple[str, bool, str]]:
    """Parse ``a=b,c!=d`` into (field, equal, value) terms; unknown fields are a 400."""
    terms = []
    for term in _split_terms(text or ""):
        equal = "!=" not in term
        field, value = term.replace("!=", "=").replace("==", "=").split("=", 1)
        field = field.strip()
        if field not in fields:
            raise bad_request(f"field label not supported: {field}")
        terms.append((field, equal, value.strip()))
    return terms


def field_selector_matches(terms: Iterable[tuple[str, bool, str]], obj: dict, fields) -> bool:
    return all((fields[field](obj) == value) == equal for field, equal, value in terms)


# -- objects --------------------------------------------------------------------------------

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def namespace_object(meta: dict) -> dict:
    meta["labels"] = {"kubernetes.io/metadata.name": meta["name"]}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta,
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node_object(
    meta: dict, index: int, control_plane: bool, max_pods: int, ids: tuple[str, str, str]
) -> dict:
    """A kubeadm-like node; ``ids`` are its boot id, machine id and system UUID."""
    name, stamp = meta["name"], meta["creationTimestamp"]
    meta["labels"] = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    meta["annotations"] = {}
    spec: dict = {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]}
    if control_plane:
        meta["labels"][CONTROL_PLANE_LABEL] = ""
        spec["taints"] = [{"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}]
    resources = {"cpu": "4", "memory": "16331776Ki", "pods": str(max_pods)}
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "kubelet is posting ready status",
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": stamp,
    }
    node_info = {
        "architecture": "amd64",
        "bootID": ids[0],
        "containerRuntimeVersion": "containerd://1.7.13",
        "kernelVersion": "6.1.0-18-amd64",
        "kubeProxyVersion": "v1.30.2",
        "kubeletVersion": "v1.30.2",
        "machineID": ids[1].replace("-", ""),
        "operatingSystem": "linux",
        "osImage": "Debian GNU/Linux 12 (bookworm)",
        "systemUUID": ids[2],
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta,
        "spec": spec,
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [ready],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": node_info,
        },
    }


def pod_object(meta: dict, owner: dict | None, daemon: bool = False) -> dict:
    """A new, unscheduled pod; a DaemonSet pod tolerates every taint."""
    spec: dict = {
        "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}],
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
    }
    if owner is not None:
        meta["ownerReferences"] = [owner]
    if daemon:
        spec["tolerations"] = [{"operator": "Exists"}]
    status = {
        "phase": "Pending",
        "qosClass": "BestEffort",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def make_mirror(pod: dict, config_hash: str, node: str, node_uid: str) -> None:
    """Turn ``pod`` into the mirror the kubelet posts for a static pod: annotated, node-owned."""
    pod["metadata"]["annotations"] = {
        MIRROR_ANNOTATION: config_hash,
        "kubernetes.io/config.hash": config_hash,
        "kubernetes.io/config.source": "file",
    }
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid, "controller": True}
    ]


def budget_object(
    meta: dict,
    match_labels: dict,
    min_available: int | str | None,
    max_unavailable: int | str | None,
) -> dict:
    spec: dict = {"selector": {"matchLabels": dict(match_labels)}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    else:
        spec["maxUnavailable"] = max_unavailable
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": spec,
    }


# -- changing objects -----------------------------------------------------------------------


def sync_unschedulable_taint(node: dict, stamp: str) -> None:
    """The node lifecycle controller's taint that mirrors ``spec.unschedulable``."""
    spec = node["spec"]
    taints = [t for t in spec.get("taints") or [] if t["key"] != UNSCHEDULABLE_TAINT]
    if spec.get("unschedulable"):
        taints.append({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": stamp})
    else:
        spec.pop("unschedulable", None)
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)


def merge_patch(target: dict, patch: dict) -> dict:
    """RFC 7386 JSON merge patch: null deletes, objects merge, anything else replaces.

    A strategic merge patch means the same for maps and scalars (it differs for some lists).
    """
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        elif isinstance(value, dict):
            target[key] = merge_patch({}, value)
        else:
            target[key] = value
    return target


def copy_json(value):
    """A deep copy of plain JSON data (cheaper than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value
