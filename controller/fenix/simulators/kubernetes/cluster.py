"""An in-memory Kubernetes cluster whose controllers react on a clock, for driver tests.

It models what draining depends on and nothing else: nodes that can be cordoned, pods owned by
ReplicaSets, StatefulSets and DaemonSets (each re-created by its controller after a delay and
Ready after another), mirror pods of static pods, bare pods, and PodDisruptionBudgets that the
Eviction API enforces the way kube-apiserver does (429 TooManyRequests when an eviction would
leave fewer healthy pods than the budget asks).

Time is a discrete-event simulation with no thread of its own: every API call first runs the
events that fell due (pod gone, replacement created, pod Ready) at their own instants, so the
outcome does not depend on how often a client polls.

Simplifications, each one a place where the real cluster does more:
- the scheduler only checks cordons, NoSchedule taints and the ``pods`` allocatable; it
  spreads a workload's pods over the nodes (fewest of the same workload, then fewest pods);
- a pod is healthy when it is Running and Ready and not terminating; a PDB's expected count is
  the sum of its pods' controllers' replicas (the number of matching pods for bare pods);
- a not-Ready pod is evicted under the default IfHealthyBudget policy;
- terminating pods take ``terminate_seconds`` to go, whatever their grace period says.

The module is longer than most because the controllers and the API calls share one state and
one lock; the wire shapes (``objects.py``), the budget arithmetic (``budgets.py``) and the
downtime ledger (``ledger.py``) live beside it.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from .budgets import budget_status, check_eviction
from .ledger import PodLedger
from .objects import (
    CONTROL_PLANE_LABEL,
    NODE_FIELDS,
    POD_FIELDS,
    REGION_LABEL,
    ZONE_LABEL,
    ApiError,
    bad_request,
    budget_object,
    copy_json,
    field_selector,
    field_selector_matches,
    label_selector_matches,
    make_mirror,
    merge_patch,
    namespace_object,
    node_object,
    not_found,
    pod_object,
    selector_object_matches,
    sync_unschedulable_taint,
    timestamp,
)

MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
TERMINAL_PHASES = ("Succeeded", "Failed")
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of generated names


@dataclass
class SimClusterConfig:
    """The shape of the simulated cluster and how fast its controllers react (seconds)."""

    nodes: int = 4
    """Worker nodes ``node-1`` ... ``node-N``."""
    control_planes: int = 1
    """Nodes ``control-plane-1`` ..., labelled and tainted as kubeadm does."""
    max_pods: int = 10
    """Each node's allocatable ``pods``."""
    zones: int = 0
    """Zones ``zone-1`` ... ``zone-Z`` the worker nodes are dealt into, round robin, as the
    well-known label ``topology.kubernetes.io/zone`` (and the region ``region-1``); 0: none."""
    create_seconds: float = 0.5
    """From a pod's eviction (its deletion, for a StatefulSet) to its replacement existing."""
    ready_seconds: float = 0.5
    """From a pod being scheduled to it being Ready."""
    terminate_seconds: float = 0.5
    """From an eviction or a delete to the pod being gone."""
    workloads: bool = True
    """Seed the example namespaces, workloads and budgets (see ``SimCluster.seed``)."""
    token: str | None = None
    """When set, every request needs ``Authorization: Bearer <token>``."""
    seed: int = 0


@dataclass
class Workload:
    """A pod controller: ReplicaSet, StatefulSet or DaemonSet."""

    kind: str
    namespace: str
    name: str
    uid: str
    replicas: int
    labels: dict
    pending: list = field(default_factory=list)
    """Creations scheduled but not yet due: ordinals (StatefulSet), nodes (DaemonSet), None."""

    def owner_reference(self) -> dict:
        return {
            "apiVersion": "apps/v1",
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass
class _Pod:
    obj: dict
    workload: Workload | None = None
    static_node: str | None = None
    """A mirror pod's node: the kubelet re-creates the pod there if it is deleted."""

    @property
    def key(self) -> tuple[str, str]:
        return self.obj["metadata"]["namespace"], self.obj["metadata"]["name"]

    @property
    def uid(self) -> str:
        return self.obj["metadata"]["uid"]

    @property
    def node(self) -> str | None:
        return self.obj["spec"].get("nodeName")

    @property
    def terminating(self) -> bool:
        return "deletionTimestamp" in self.obj["metadata"]

    @property
    def phase(self) -> str:
        return self.obj["status"]["phase"]

    @property
    def healthy(self) -> bool:
        return self.phase == "Running" and not self.terminating and _ready(self.obj)


def _ready(pod: dict) -> bool:
    conditions = pod["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


class SimCluster:
    """The cluster state and its controllers; every public method is thread-safe."""

    def __init__(self, config: SimClusterConfig | None = None) -> None:
        self.config = config or SimClusterConfig()
        self._lock = threading.RLock()
        self._rng = random.Random(self.config.seed)
        self._wall_offset = time.time() - time.monotonic()
        self._resource_version = 0
        self._sequence = itertools.count()
        self._events: list[tuple[float, int, object, tuple]] = []
        self.namespaces: dict[str, dict] = {}
        self.nodes: dict[str, dict] = {}
        self.pods: dict[tuple[str, str], _Pod] = {}
        self.workloads: dict[str, Workload] = {}
        self.budgets: dict[tuple[str, str], dict] = {}
        self.ledger = PodLedger(self._wall_offset)
        """The workloads' measured downtime (see ledger.py); read it with downtime_report()."""
        self.evictions: list[dict] = []
        """Every eviction request: ``{"pod": "ns/name", "code": 201 | 429 | ..., "at": t}``
        (``t`` on the ``time.monotonic`` clock)."""
        now = time.monotonic()
        for name in ("default", "kube-system"):
            self._add_namespace(name, now)
        for i in range(1, self.config.control_planes + 1):
            self._add_node(f"control-plane-{i}", now, control_plane=True)
        zones = self.config.zones
        for i in range(1, self.config.nodes + 1):
            zone = f"zone-{(i - 1) % zones + 1}" if zones else None
            self._add_node(f"node-{i}", now, control_plane=False, zone=zone)
        if self.config.workloads:
            self.seed()

    # -- clock and identity ---------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The last resourceVersion handed out (lists carry it)."""
        return self._resource_version

    def _now(self) -> float:
        return time.monotonic()

    def _stamp(self, t: float) -> str:
        return timestamp(self._wall_offset + t)

    def _uid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _suffix(self, length: int = 5) -> str:
        return "".join(self._rng.choice(_SUFFIX_CHARS) for _ in range(length))

    def _bump(self, obj: dict) -> None:
        self._resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self._resource_version)

    def _meta(self, name: str, t: float, namespace: str | None = None, **extra) -> dict:
        meta = {"name": name, "uid": self._uid(), "creationTimestamp": self._stamp(t)}
        if namespace is not None:
            meta["namespace"] = namespace
        meta.update(extra)
        return meta

    def _at(self, t: float, action, *args) -> None:
        heapq.heappush(self._events, (t, next(self._sequence), action, args))

    def _advance(self) -> float:
        """Run every event due by now, each at its own instant; returns now."""
        now = self._now()
        while self._events and self._events[0][0] <= now:
            t, _seq, action, args = heapq.heappop(self._events)
            action(t, *args)  # type: ignore[operator]
        return now

    # -- building the cluster -------------------------------------------------------------

    def seed(self) -> None:
        """The example cluster: system pods, a web shop with budgets (see the module doc).

        kube-system: DaemonSet ``kube-proxy`` on every node, a mirror pod
        ``kube-apiserver-<control plane>`` and ReplicaSet ``coredns-76f75df574`` (2 pods).
        shop: ReplicaSet ``web-7c5ddbdf54`` (3 pods, PDB ``web`` minAvailable 2) and
        StatefulSet ``db`` (2 pods, PDB ``db`` maxUnavailable 1).
        """
        self.add_workload("kube-system", "kube-proxy", kind="DaemonSet", labels={"k8s-app": "p"})
        for node in self.nodes.values():
            if CONTROL_PLANE_LABEL in node["metadata"]["labels"]:
                self.add_static_pod("kube-system", "kube-apiserver", node["metadata"]["name"])
        labels = {"k8s-app": "kube-dns", "pod-template-hash": "76f75df574"}
        self.add_workload("kube-system", "coredns-76f75df574", 2, labels=labels)
        self.add_namespace("shop")
        labels = {"app": "web", "pod-template-hash": "7c5ddbdf54"}
        self.add_workload("shop", "web-7c5ddbdf54", 3, labels=labels)
        self.add_budget("shop", "web", {"app": "web"}, min_available=2)
        self.add_workload("shop", "db", 2, kind="StatefulSet", labels={"app": "db"})
        self.add_budget("shop", "db", {"app": "db"}, max_unavailable=1)

    def add_namespace(self, name: str) -> None:
        with self._lock:
            self._add_namespace(name, self._advance())

    def _add_namespace(self, name: str, t: float) -> None:
        if name not in self.namespaces:
            obj = namespace_object(self._meta(name, t))
            self._bump(obj)
            self.namespaces[name] = obj

    def _add_node(self, name: str, t: float, control_plane: bool, zone: str | None = None) -> None:
        meta = self._meta(name, t)
        ids = (self._uid(), self._uid(), self._uid())
        obj = node_object(meta, len(self.nodes) + 1, control_plane, self.config.max_pods, ids)
        if zone is not None:
            meta["labels"][REGION_LABEL] = "region-1"
            meta["labels"][ZONE_LABEL] = zone
        self._bump(obj)
        self.nodes[name] = obj

    def add_workload(
        self,
        namespace: str,
        name: str,
        replicas: int = 1,
        *,
        kind: str = "ReplicaSet",
        labels: dict | None = None,
        nodes: list[str] | None = None,
    ) -> str:
        """A controller with its pods already Ready, put on ``nodes`` in turn if given (else
        scheduled).

        ``replicas`` is ignored for a DaemonSet (one pod per node). Returns the owner's uid.
        """
        if kind not in ("ReplicaSet", "StatefulSet", "DaemonSet"):
            raise ValueError(f"unsupported workload kind {kind!r}")
        with self._lock:
            t = self._advance()
            self._add_namespace(namespace, t)
            workload = Workload(kind, namespace, name, self._uid(), replicas, labels or {})
            self.workloads[workload.uid] = workload
            if kind == "DaemonSet":
                for node_name in self.nodes:
                    self._create(t, workload, node_name, ready=True)
            else:
                for i in range(replicas):
                    key = i if kind == "StatefulSet" else None
                    node = nodes[i % len(nodes)] if nodes else None
                    self._create(t, workload, key, ready=True, node=node)
            return workload.uid

    def add_static_pod(self, namespace: str, name: str, node: str) -> str:
        """A mirror pod ``<name>-<node>``, as the kubelet posts for a static pod."""
        with self._lock:
            t = self._advance()
            return self._start_pod(
                t,
                namespace,
                f"{name}-{node}",
                {"component": name},
                None,
                node,
                ready=True,
                static=True,
            ).uid

    def add_pod(self, namespace: str, name: str, node: str, labels: dict | None = None) -> str:
        """A bare pod (no controller), Ready on ``node`` (even a cordoned one)."""
        with self._lock:
            t = self._advance()
            self._add_namespace(namespace, t)
            return self._start_pod(t, namespace, name, labels or {}, None, node, ready=True).uid

    def add_budget(
        self,
        namespace: str,
        name: str,
        match_labels: dict,
        *,
        min_available: int | str | None = None,
        max_unavailable: int | str | None = None,
    ) -> None:
        """A PodDisruptionBudget over the pods with ``match_labels``."""
        if (min_available is None) == (max_unavailable is None):
            raise ValueError("give exactly one of min_available and max_unavailable")
        with self._lock:
            t = self._advance()
            meta = self._meta(name, t, namespace, generation=1)
            obj = budget_object(meta, match_labels, min_available, max_unavailable)
            self._bump(obj)
            self.budgets[(namespace, name)] = obj

    def delete_budget(self, namespace: str, name: str) -> None:
        with self._lock:
            self.budgets.pop((namespace, name))

    # -- the controllers ------------------------------------------------------------------

    def _start_pod(
        self,
        t: float,
        namespace: str,
        name: str,
        labels: dict,
        workload: Workload | None,
        node: str | None,
        *,
        ready: bool = False,
        static: bool = False,
    ) -> _Pod:
        meta = self._meta(name, t, namespace, labels=dict(labels), annotations={})
        owner = workload.owner_reference() if workload is not None else None
        obj = pod_object(meta, owner, daemon=workload is not None and workload.kind == "DaemonSet")
        if static:
            node_meta = self.nodes[node]["metadata"]  # type: ignore[index]
            make_mirror(obj, self._suffix(32), node_meta["name"], node_meta["uid"])
        pod = _Pod(obj, workload, static_node=node if static else None)
        self.pods[pod.key] = pod
        self.ledger.created(t, pod)
        self._bump(obj)
        if node is not None:  # a pod created with spec.nodeName bypasses the scheduler
            self._bind(t, pod, node, ready=ready)
        else:
            self._schedule(t, pod, ready=ready)
        return pod

    def _create(self, t: float, workload: Workload, key, *, ready=False, node=None) -> None:
        """The controller creates one pod: ``key`` is an ordinal, a node (DaemonSet) or None."""
        if workload.uid not in self.workloads:
            return
        if key in workload.pending:
            workload.pending.remove(key)
        if workload.kind == "StatefulSet":
            name = f"{workload.name}-{key}"
        else:
            name = f"{workload.name}-{self._suffix()}"
        if workload.kind == "DaemonSet":
            node = key
        self._start_pod(t, workload.namespace, name, workload.labels, workload, node, ready=ready)

    def _reconcile(self, t: float, workload: Workload | None) -> None:
        """Schedule the creations that bring ``workload`` back to its replicas."""
        if workload is None or workload.uid not in self.workloads:
            return
        due = t + self.config.create_seconds
        own = [p for p in self.pods.values() if p.workload is workload]
        if workload.kind == "ReplicaSet":
            active = [p for p in own if not p.terminating and p.phase not in TERMINAL_PHASES]
            for _ in range(workload.replicas - len(active) - len(workload.pending)):
                workload.pending.append(None)
                self._at(due, self._create, workload, None)
            return
        if workload.kind == "StatefulSet":
            # A StatefulSet waits until the old pod is gone: names are reused.
            wanted = range(workload.replicas)
            taken = {p.obj["metadata"]["name"] for p in own}
            keys: list = [i for i in wanted if f"{workload.name}-{i}" not in taken]
        else:
            covered = {p.node for p in own if not p.terminating}
            keys = [n for n in self.nodes if n not in covered]
        for key in keys:
            if key not in workload.pending:
                workload.pending.append(key)
                self._at(due, self._create, workload, key)

    def _fits(self, node_name: str, pod: _Pod) -> bool:
        node = self.nodes[node_name]
        if node["spec"].get("unschedulable"):
            return False
        tolerates_all = any(
            t.get("operator") == "Exists" and "key" not in t
            for t in pod.obj["spec"].get("tolerations") or []
        )
        taints = node["spec"].get("taints") or []
        if not tolerates_all and any(t["effect"] == "NoSchedule" for t in taints):
            return False
        used = sum(1 for p in self.pods.values() if p.node == node_name)
        return used < int(node["status"]["allocatable"]["pods"])

    def _schedule(self, t: float, pod: _Pod, *, ready: bool = False) -> bool:
        """Bind ``pod`` to the node with fewest pods of its workload, then fewest pods."""
        candidates = [name for name in self.nodes if self._fits(name, pod)]
        if not candidates:
            pod.obj["status"]["conditions"][0]["message"] = (
                f"0/{len(self.nodes)} nodes are available: no schedulable node has room."
            )
            return False

        def load(name: str) -> tuple[int, int]:
            on_node = [p for p in self.pods.values() if p.node == name]
            same = sum(1 for p in on_node if p.workload is not None and p.workload is pod.workload)
            return same, len(on_node)

        self._bind(t, pod, min(candidates, key=load), ready=ready)
        return True

    def _schedule_pending(self, t: float) -> None:
        for pod in list(self.pods.values()):
            if pod.node is None and not pod.terminating:
                self._schedule(t, pod)

    def _bind(self, t: float, pod: _Pod, node: str, *, ready: bool) -> None:
        pod.obj["spec"]["nodeName"] = node
        self.ledger.bound(pod, node)
        addresses = self.nodes[node]["status"]["addresses"]
        pod.obj["status"]["hostIP"] = addresses[0]["address"]
        pod.obj["status"]["conditions"] = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": self._stamp(t)}
        ]
        self._bump(pod.obj)
        if ready:
            self._ready(t, pod.uid, pod.key)
        else:
            self._at(t + self.config.ready_seconds, self._ready, pod.uid, pod.key)

    def _ready(self, t: float, uid: str, key: tuple[str, str]) -> None:
        pod = self.pods.get(key)
        if pod is None or pod.uid != uid or pod.terminating:
            return
        stamp = self._stamp(t)
        pod.obj["status"]["phase"] = "Running"
        pod.obj["status"]["startTime"] = stamp
        pod.obj["status"]["podIP"] = f"10.244.0.{len(self.pods) % 250 + 2}"
        pod.obj["status"]["conditions"] = [
            {"type": kind, "status": "True", "lastTransitionTime": stamp}
            for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
        self._bump(pod.obj)
        self.ledger.ready(t, pod, self._healthy(pod.workload))

    def _terminate(self, t: float, pod: _Pod, why: str = "deleted") -> None:
        """Start the pod's graceful deletion; its controller reacts at once."""
        if pod.terminating:
            return
        was_serving = pod.healthy
        grace = pod.obj["spec"]["terminationGracePeriodSeconds"]
        pod.obj["metadata"]["deletionTimestamp"] = self._stamp(t + grace)
        pod.obj["metadata"]["deletionGracePeriodSeconds"] = grace
        self._bump(pod.obj)
        healthy = self._healthy(pod.workload)
        self.ledger.terminating(t, pod, was_serving=was_serving, healthy=healthy, why=why)
        self._at(t + self.config.terminate_seconds, self._gone, pod.uid, pod.key)
        self._reconcile(t, pod.workload)

    def _gone(self, t: float, uid: str, key: tuple[str, str]) -> None:
        pod = self.pods.get(key)
        if pod is None or pod.uid != uid:
            return
        del self.pods[key]
        self.ledger.gone(t, uid)
        if pod.static_node is not None:  # the kubelet posts the mirror pod again
            name = pod.obj["metadata"]["name"]
            labels = pod.obj["metadata"]["labels"]
            self._at(
                t + self.config.create_seconds,
                self._restart_static,
                key[0],
                name,
                labels,
                pod.static_node,
            )
        self._reconcile(t, pod.workload)
        self._schedule_pending(t)

    def _restart_static(self, t: float, namespace: str, name: str, labels: dict, node: str):
        self._start_pod(t, namespace, name, labels, None, node, static=True)

    def _healthy(self, workload: Workload | None) -> int:
        if workload is None:
            return 0
        return sum(1 for p in self.pods.values() if p.workload is workload and p.healthy)

    # -- budgets --------------------------------------------------------------------------

    def _budget_status(self, budget: dict) -> dict:
        namespace = budget["metadata"]["namespace"]
        selector = budget["spec"].get("selector")
        pods = [
            p
            for (ns, _name), p in self.pods.items()
            if ns == namespace
            and p.phase not in TERMINAL_PHASES
            and selector_object_matches(selector, p.obj["metadata"].get("labels") or {})
        ]
        owners = {p.workload.uid: p.workload.replicas for p in pods if p.workload is not None}
        scale = sum(owners.values()) + sum(1 for p in pods if p.workload is None)
        healthy = sum(1 for p in pods if p.healthy)
        return budget_status(budget, healthy=healthy, matching=len(pods), scale=scale)

    def _budgets_for(self, pod: _Pod) -> list[dict]:
        labels = pod.obj["metadata"].get("labels") or {}
        return [
            b
            for (ns, _name), b in sorted(self.budgets.items())
            if ns == pod.key[0] and selector_object_matches(b["spec"].get("selector"), labels)
        ]

    # -- the API --------------------------------------------------------------------------

    def list_namespaces(self) -> list[dict]:
        with self._lock:
            self._advance()
            return [copy_json(n) for _name, n in sorted(self.namespaces.items())]

    def get_namespace(self, name: str) -> dict:
        with self._lock:
            self._advance()
            if name not in self.namespaces:
                raise not_found("namespaces", name)
            return copy_json(self.namespaces[name])

    def list_nodes(self, label_selector: str | None = None, fields: str | None = None):
        with self._lock:
            self._advance()
            terms = field_selector(fields, NODE_FIELDS)
            return [
                copy_json(n)
                for n in self.nodes.values()
                if label_selector_matches(label_selector, n["metadata"]["labels"])
                and field_selector_matches(terms, n, NODE_FIELDS)
            ]

    def get_node(self, name: str) -> dict:
        with self._lock:
            self._advance()
            return copy_json(self._node(name))

    def _node(self, name: str) -> dict:
        if name not in self.nodes:
            raise not_found("nodes", name)
        return self.nodes[name]

    def patch_node(self, name: str, patch, content_type: str) -> dict:
        """A merge or strategic merge patch (identical for a node's scalar fields and maps)."""
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in MERGE_PATCH_TYPES:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the simulator does not implement {media_type or 'this'} patches: use one of "
                + ", ".join(MERGE_PATCH_TYPES),
            )
        if not isinstance(patch, dict):
            raise bad_request("the patch must be a JSON object")
        with self._lock:
            t = self._advance()
            node = self._node(name)
            wanted_version = (patch.get("metadata") or {}).get("resourceVersion")
            if wanted_version and wanted_version != node["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on nodes "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    {"name": name, "kind": "nodes"},
                )
            patched = merge_patch(copy_json(node), patch)
            for key in ("name", "uid", "creationTimestamp", "resourceVersion"):
                patched["metadata"][key] = node["metadata"][key]
            patched["apiVersion"], patched["kind"] = node["apiVersion"], node["kind"]
            patched["status"] = node["status"]  # status is a subresource of its own
            patched.setdefault("spec", {})
            sync_unschedulable_taint(patched, self._stamp(t))
            self._bump(patched)
            self.nodes[name] = patched
            self._schedule_pending(t)
            return copy_json(patched)

    def list_pods(
        self,
        namespace: str | None = None,
        label_selector: str | None = None,
        fields: str | None = None,
    ) -> list[dict]:
        with self._lock:
            self._advance()
            terms = field_selector(fields, POD_FIELDS)
            return [
                copy_json(p.obj)
                for key, p in sorted(self.pods.items())
                if (namespace is None or key[0] == namespace)
                and label_selector_matches(label_selector, p.obj["metadata"].get("labels") or {})
                and field_selector_matches(terms, p.obj, POD_FIELDS)
            ]

    def get_pod(self, namespace: str, name: str) -> dict:
        with self._lock:
            self._advance()
            return copy_json(self._pod(namespace, name).obj)

    def _pod(self, namespace: str, name: str) -> _Pod:
        pod = self.pods.get((namespace, name))
        if pod is None:
            raise not_found("pods", name)
        return pod

    def delete_pod(self, namespace: str, name: str) -> dict:
        """Graceful deletion, no budget check (that is what eviction is for)."""
        with self._lock:
            t = self._advance()
            pod = self._pod(namespace, name)
            self._terminate(t, pod)
            return copy_json(pod.obj)

    def evict_pod(self, namespace: str, name: str, body) -> dict:
        """The Eviction subresource: a graceful deletion that honours disruption budgets."""
        with self._lock:
            t = self._advance()
            entry = {"pod": f"{namespace}/{name}", "code": 201, "at": t}
            self.evictions.append(entry)
            try:
                return self._evict(t, namespace, name, body)
            except ApiError as exc:
                entry["code"] = exc.code
                raise

    def _evict(self, t: float, namespace: str, name: str, body) -> dict:
        if not isinstance(body, dict) or body.get("kind") != "Eviction":
            raise bad_request("the request body must be a policy/v1 Eviction object")
        if (body.get("metadata") or {}).get("name") != name:
            raise bad_request("name in URL does not match name in Eviction object")
        pod = self._pod(namespace, name)
        preconditions = (body.get("deleteOptions") or {}).get("preconditions") or {}
        wanted_uid = preconditions.get("uid")
        if wanted_uid and wanted_uid != pod.uid:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on Pod "{name}": Precondition failed: '
                f"UID in precondition: {wanted_uid}, UID in object meta: {pod.uid}",
                {"name": name, "kind": "Pod"},
            )
        success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        if pod.terminating:
            return {**success, "code": 201}
        if pod.phase == "Running":
            budgets = self._budgets_for(pod)
            if len(budgets) > 1:
                raise ApiError(
                    500,
                    "InternalError",
                    "This pod has more than one PodDisruptionBudget, which the eviction "
                    "subresource does not support.",
                )
            if budgets:
                check_eviction(budgets[0], self._budget_status(budgets[0]), pod.healthy)
        self._terminate(t, pod, why="evicted")
        return {**success, "code": 201}

    def list_budgets(self, namespace: str | None = None) -> list[dict]:
        with self._lock:
            self._advance()
            return [
                {**copy_json(b), "status": self._budget_status(b)}
                for (ns, _name), b in sorted(self.budgets.items())
                if namespace is None or ns == namespace
            ]

    def get_budget(self, namespace: str, name: str) -> dict:
        with self._lock:
            self._advance()
            budget = self.budgets.get((namespace, name))
            if budget is None:
                raise not_found("poddisruptionbudgets.policy", name)
            return {**copy_json(budget), "status": self._budget_status(budget)}

    # -- for tests ------------------------------------------------------------------------

    def downtime_report(self) -> dict:
        """Each pod's and each workload's measured downtime (see ledger.py)."""
        with self._lock:
            return self.ledger.report(self._advance())

    def pods_of(self, namespace: str, workload: str) -> list[dict]:
        """The pods (terminating ones too) owned by the named controller."""
        with self._lock:
            self._advance()
            return [
                copy_json(p.obj)
                for key, p in sorted(self.pods.items())
                if key[0] == namespace and p.workload is not None and p.workload.name == workload
            ]

    def finish_pod(self, namespace: str, name: str, phase: str = "Succeeded") -> None:
        """End a pod's containers (a completed Job pod, say): it stays listed, finished."""
        if phase not in TERMINAL_PHASES:
            raise ValueError(f"phase must be one of {TERMINAL_PHASES}")
        with self._lock:
            self._advance()
            pod = self._pod(namespace, name)
            pod.obj["status"]["phase"] = phase
            for condition in pod.obj["status"].get("conditions") or []:
                if condition["type"] in ("Ready", "ContainersReady"):
                    condition["status"] = "False"
            self._bump(pod.obj)
