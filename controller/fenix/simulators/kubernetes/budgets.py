"""PodDisruptionBudget arithmetic, as the disruption controller and the Eviction API do it.

A budget's ``desiredHealthy`` comes from ``minAvailable`` (a count, or a percentage of the
expected pods) or from ``maxUnavailable`` (expected pods less that many); ``disruptionsAllowed``
is how far the healthy pods exceed it. An eviction of a healthy pod needs one disruption
allowed; a pod that is not healthy may go while the budget is met (the default
IfHealthyBudget policy).
"""

from __future__ import annotations

import math

from .objects import ApiError, bad_request

PDB_REFUSAL = "Cannot evict pod as it would violate the pod's disruption budget."


def scaled(value: int | str, total: int) -> int:
    """An IntOrString count: ``2``, or ``"50%"`` of ``total`` rounded up."""
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise bad_request(f"invalid value for IntOrString: {value!r}")
    return math.ceil(int(value[:-1]) * total / 100)


def budget_status(budget: dict, *, healthy: int, matching: int, scale: int) -> dict:
    """The budget's status: ``matching`` pods select it, ``scale`` is their owners' replicas."""
    spec = budget["spec"]
    if "minAvailable" in spec:
        value = spec["minAvailable"]
        expected = matching if isinstance(value, int) else scale
        desired = scaled(value, expected)
    else:
        expected = scale
        desired = max(0, expected - scaled(spec["maxUnavailable"], expected))
    allowed = max(0, healthy - desired)
    condition = {
        "type": "DisruptionAllowed",
        "status": "True" if allowed else "False",
        "reason": "SufficientPods" if allowed else "InsufficientPods",
        "message": "",
        "lastTransitionTime": budget["metadata"]["creationTimestamp"],
        "observedGeneration": 1,
    }
    return {
        "observedGeneration": 1,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "disruptionsAllowed": allowed,
        "conditions": [condition],
    }


def check_eviction(budget: dict, status: dict, pod_healthy: bool) -> None:
    """Raise the API server's 429 if evicting the pod would break the budget."""
    healthy, desired = status["currentHealthy"], status["desiredHealthy"]
    if healthy > desired if pod_healthy else healthy >= desired:
        return
    cause = (
        f"The disruption budget {budget['metadata']['name']} needs {desired} healthy pods "
        f"and has {healthy} currently"
    )
    details = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    raise ApiError(429, "TooManyRequests", PDB_REFUSAL, details)
