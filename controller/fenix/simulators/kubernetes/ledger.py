"""What the simulated cluster's workloads saw while their pods were evicted: measured downtime.

A pod never moves: an evicted pod stops serving, and its controller's replacement starts
serving later, elsewhere. So downtime is measured two ways, both on the cluster's own clock:

- per pod: from the moment a serving pod (Running, Ready) starts terminating until a new pod
  of the same ReplicaSet or StatefulSet is Ready (replacements are matched to the pods that
  stopped first-come first-served). A pod that nothing replaces stays down until the report.
- per workload: the time it had fewer Ready pods than its replicas (reduced capacity), and the
  time it had none at all (what its users would call an outage).

DaemonSet and mirror pods are not counted: they are not instances, and stop with their node.
Not thread-safe by itself: the cluster calls it under its lock, with its event times.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MEASURE = (
    "per pod, from its eviction (it stops serving) until a replacement pod of its workload is "
    "Ready; per workload, the time with fewer Ready pods than replicas and the time with none"
)
REPLACED_KINDS = ("ReplicaSet", "StatefulSet")


@dataclass
class _Pod:
    pod: str
    namespace: str
    workload: str | None
    created_at: float
    nodes: list[str] = field(default_factory=list)
    fate: str = "running"
    ended_at: float | None = None
    down: list[list] = field(default_factory=list)
    replaced_by: str | None = None


@dataclass
class _Workload:
    kind: str
    replicas: int
    below_desired: list[list] = field(default_factory=list)
    none_ready: list[list] = field(default_factory=list)
    waiting: deque = field(default_factory=deque)
    """Uids of its pods that stopped serving and wait for a replacement, oldest first."""


class PodLedger:
    def __init__(self, wall_offset: float) -> None:
        self._wall_offset = wall_offset
        self._pods: dict[str, _Pod] = {}
        self._workloads: dict[str, _Workload] = {}

    # -- what the cluster reports (``pod`` is the cluster's _Pod, ``t`` its event time) ------

    def created(self, t: float, pod) -> None:
        workload = pod.workload
        if pod.static_node is not None or (workload and workload.kind not in REPLACED_KINDS):
            return
        namespace, name = pod.key
        owner = None
        if workload is not None:
            owner = _name(workload)
            self._workloads.setdefault(owner, _Workload(workload.kind, workload.replicas))
        self._pods[pod.uid] = _Pod(f"{namespace}/{name}", namespace, owner, t)

    def bound(self, pod, node: str) -> None:
        record = self._pods.get(pod.uid)
        if record is not None:
            record.nodes.append(node)

    def ready(self, t: float, pod, healthy: int) -> None:
        """``pod`` is Ready; ``healthy`` pods of its workload serve now."""
        if pod.uid not in self._pods or pod.workload is None:
            return
        workload = self._workloads[_name(pod.workload)]
        if workload.waiting:
            replaced = self._pods[workload.waiting.popleft()]
            _close(replaced.down, t)
            replaced.replaced_by = pod.uid
        self._health(t, workload, healthy)

    def terminating(self, t: float, pod, *, was_serving: bool, healthy: int, why: str) -> None:
        """``pod`` started terminating (``why``: evicted or deleted)."""
        record = self._pods.get(pod.uid)
        if record is None:
            return
        record.fate = why
        if not was_serving:
            return
        record.down.append([t, None])
        if pod.workload is not None:
            workload = self._workloads[_name(pod.workload)]
            workload.waiting.append(pod.uid)
            self._health(t, workload, healthy)

    def gone(self, t: float, uid: str) -> None:
        record = self._pods.get(uid)
        if record is not None:
            record.ended_at = t

    # -- the report -----------------------------------------------------------------------

    def report(self, now: float) -> dict:
        wall = self._wall_offset
        pods = {}
        for uid, record in self._pods.items():
            intervals = [
                [wall + start, wall + (end if end is not None else now)]
                for start, end in record.down
            ]
            pods[uid] = {
                "pod": record.pod,
                "namespace": record.namespace,
                "workload": record.workload,
                "nodes": list(record.nodes),
                "fate": record.fate,
                "created_at": wall + record.created_at,
                "ended_at": None if record.ended_at is None else wall + record.ended_at,
                "downtime_intervals": intervals,
                "downtime_seconds": _total(record.down, now),
                "replaced_by": record.replaced_by,
            }
        workloads = {
            name: {
                "kind": w.kind,
                "replicas": w.replicas,
                "below_desired_seconds": _total(w.below_desired, now),
                "none_ready_seconds": _total(w.none_ready, now),
            }
            for name, w in self._workloads.items()
        }
        return {"measure": MEASURE, "pods": pods, "workloads": workloads}

    @staticmethod
    def _health(t: float, workload: _Workload, healthy: int) -> None:
        for intervals, short in (
            (workload.below_desired, healthy < workload.replicas),
            (workload.none_ready, workload.replicas > 0 and healthy == 0),
        ):
            if short and not (intervals and intervals[-1][1] is None):
                intervals.append([t, None])
            elif not short:
                _close(intervals, t)


def _name(workload) -> str:
    return f"{workload.namespace}/{workload.name}"


def _close(intervals: list[list], t: float) -> None:
    """End the open interval at ``t``; one that lasted no time (a workload being built) goes."""
    if intervals and intervals[-1][1] is None:
        if intervals[-1][0] == t:
            intervals.pop()
        else:
            intervals[-1][1] = t


def _total(intervals: list[list], now: float) -> float:
    return sum((end if end is not None else now) - start for start, end in intervals)
