"""How the driver sees nodes and pods: which pods are instances, and what a host is.

The rules follow ``kubectl drain``: mirror pods are skipped (the kubelet runs them from a file
and the API cannot move them); DaemonSet pods are left alone (their controller ignores cordons
and would put them straight back; they stop with the node); finished pods have nothing to move;
pods with no controller are moved only by force, since nothing would re-create them.

Works on the official client's models (attribute access only, which every client version from
29 on shares).
"""

from __future__ import annotations

from fenix.drivers.base import HostInfo, HostKind, InstanceInfo

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
"""A node with either label is a CONTROLLER host (``master`` is the pre-1.24 kubeadm name)."""
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
REASON_ANNOTATION = "fenix.maintenance/disabled-reason"
ZONE_LABEL = "topology.kubernetes.io/zone"
"""The well-known label of a node's zone, set by the cloud provider or the admin."""
"""Set on a node by disable_host (with the reason it was cordoned), removed by enable_host."""
REPLICA_KEEPERS = frozenset({"ReplicaSet", "ReplicationController", "StatefulSet"})
"""Controllers that keep a replica count: an evicted pod of theirs gets a replacement."""
FINISHED_PHASES = ("Succeeded", "Failed")
NOT_FINISHED = "status.phase!=Succeeded,status.phase!=Failed"
"""The field selector that leaves finished pods out on the server side."""


def controller_of(pod):
    """The pod's managing owner reference (``controller: true``), or None for a bare pod."""
    return next((o for o in pod.metadata.owner_references or [] if o.controller), None)


def is_mirror(pod) -> bool:
    return MIRROR_ANNOTATION in (pod.metadata.annotations or {})


def is_daemon(pod) -> bool:
    owner = controller_of(pod)
    return owner is not None and owner.kind == "DaemonSet"


def is_finished(pod) -> bool:
    return (pod.status.phase if pod.status else None) in FINISHED_PHASES


def is_terminating(pod) -> bool:
    return pod.metadata.deletion_timestamp is not None


def is_ready(pod) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def is_serving(pod) -> bool:
    """Running, Ready and not on its way out: what a replacement must be."""
    return (
        pod.status is not None
        and pod.status.phase == "Running"
        and is_ready(pod)
        and not is_terminating(pod)
        and bool(pod.spec.node_name)
    )


def is_instance(pod) -> bool:
    """A pod the maintenance moves: bound to a node, not a mirror, DaemonSet or finished pod."""
    return (
        bool(pod.spec.node_name)
        and not is_mirror(pod)
        and not is_daemon(pod)
        and not is_finished(pod)
    )


def state_of(pod) -> str:
    """The pod's state in the engine's (Nova-like) words."""
    if is_terminating(pod):
        return "DELETING"
    phase = pod.status.phase if pod.status else None
    return {"Running": "ACTIVE", "Pending": "BUILD"}.get(phase or "", "UNKNOWN")


def instance_info(pod) -> InstanceInfo:
    meta = pod.metadata
    owner = controller_of(pod)
    return InstanceInfo(
        instance_id=meta.uid,
        name=meta.name,
        project_id=meta.namespace,
        host=pod.spec.node_name,
        size=1,
        state=state_of(pod),
        details={
            "pod": f"{meta.namespace}/{meta.name}",
            "owner": f"{owner.kind}/{owner.name}" if owner else None,
            "phase": pod.status.phase if pod.status else None,
            "ready": is_ready(pod),
        },
    )


def host_info(node) -> HostInfo:
    meta, spec, status = node.metadata, node.spec, node.status
    labels = meta.labels or {}
    allocatable = (status.allocatable if status else None) or {}
    conditions = (status.conditions if status else None) or []
    ready = next((c.status == "True" for c in conditions if c.type == "Ready"), None)
    node_info = status.node_info if status else None
    unschedulable = bool(spec and spec.unschedulable)
    return HostInfo(
        name=meta.name,
        kind=(
            HostKind.CONTROLLER
            if any(label in labels for label in CONTROL_PLANE_LABELS)
            else HostKind.COMPUTE
        ),
        enabled=not unschedulable,
        capacity=_pod_count(allocatable.get("pods")),
        details={
            "unschedulable": unschedulable,
            "disabled_reason": (meta.annotations or {}).get(REASON_ANNOTATION),
            "ready": ready,
            "kubelet_version": node_info.kubelet_version if node_info else None,
            "taints": [f"{t.key}:{t.effect}" for t in (spec.taints if spec else None) or []],
            "allocatable": dict(allocatable),
        },
        zone=labels.get(ZONE_LABEL) or None,
    )


def _pod_count(quantity: str | None) -> int:
    """``pods`` is a plain integer quantity in practice; a suffixed one is still parsed."""
    if not quantity:
        return 0
    try:
        return int(quantity)
    except ValueError:
        from kubernetes.utils import parse_quantity

        return int(parse_quantity(quantity))
