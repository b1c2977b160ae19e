"""The built-in Prometheus gate: an instant query and what its answer must be to pass.

`judge` is pure (an answer of /api/v1/query in, None or the reason out), so what counts as
healthy is tested alone; `ask` makes the one HTTP call, to an address the controller's
policy allows (the gate's URL is the admin's, but it is checked as a callback URL is: no
link-local metadata service, no loopback or private network unless FENIX_GATE_ALLOW_NETWORKS
lists it), and follows no redirect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import requests

from fenix.notify.callbacks import CallbackPolicy, CallbackRefused

ALLOW_SETTING = "FENIX_GATE_ALLOW_NETWORKS"
MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""An answer larger than this is not read: a gate's query should select a few series."""


@dataclass(frozen=True)
class PrometheusGate:
    name: str
    url: str
    """The Prometheus server's base URL (…/api/v1/query is appended)."""
    query: str
    healthy: str = "empty"
    """empty: no series (e.g. no firing critical ALERTS); below / above: every value strictly
    below / above `threshold` (an empty answer passes too)."""
    threshold: float | None = None
    stages: tuple[str, ...] = ("before", "after")

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> PrometheusGate:
        return cls(
            name=stored["name"],
            url=stored["url"],
            query=stored["query"],
            healthy=stored.get("healthy", "empty"),
            threshold=stored.get("threshold"),
            stages=tuple(stored.get("stages") or ("before", "after")),
        )


class GateError(Exception):
    """The gate could not be asked (refused address, no answer, not Prometheus' JSON): it
    counts as unhealthy; the message says why."""


def _samples(data: dict[str, Any]) -> list[tuple[str, float]]:
    """(series, value) of a vector, matrix (last value) or scalar result."""
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [("scalar", float(result[1]))]
    if kind in ("vector", "matrix"):
        samples = []
        for series in result:
            labels = series.get("metric") or {}
            name = labels.get("__name__", "")
            shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
            value = series["value"] if kind == "vector" else series["values"][-1]
            samples.append((f"{name}{{{shown}}}", float(value[1])))
        return samples
    raise GateError(f"the query answered a {kind!r} result; use a vector or scalar query")


def judge(gate: PrometheusGate, answer: dict[str, Any]) -> str | None:
    """None when the answer is healthy for the gate, else why not (naming a few series)."""
    if answer.get("status") != "success":
        raise GateError(f"Prometheus answered {answer.get('errorType')}: {answer.get('error')}")
    try:
        samples = _samples(answer["data"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise GateError(f"not an answer of /api/v1/query: {exc!r}") from None
    if gate.healthy == "empty":
        bad = samples
        rule = "no series"
    elif gate.healthy == "below":
        bad = [s for s in samples if not s[1] < gate.threshold or math.isnan(s[1])]
        rule = f"every value below {gate.threshold:g}"
    else:
        bad = [s for s in samples if not s[1] > gate.threshold or math.isnan(s[1])]
        rule = f"every value above {gate.threshold:g}"
    if not bad:
        return None
    shown = "; ".join(f"{series} = {value:g}" for series, value in bad[:3])
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    return f"gate {gate.name}: {gate.query!r} should give {rule}; got {shown}{more}"


def check_url(url: str, policy: CallbackPolicy) -> None:
    """GateError if the URL's host resolves to an address the policy refuses."""
    try:
        policy.check_url(url)
    except CallbackRefused as exc:
        message = str(exc).removeprefix("callback_url: ")
        message = message.replace("posts only to", "queries only").replace(
            "FENIX_CALLBACK_ALLOW_NETWORKS", ALLOW_SETTING
        )
        message = message.replace("give the manager's public address", "give another address")
        raise GateError(message) from None


def ask(gate: PrometheusGate, policy: CallbackPolicy, timeout: float) -> str | None:
    """Query Prometheus once: None when healthy, else why not (GateError: could not ask)."""
    check_url(gate.url, policy)
    try:
        response = requests.get(
            gate.url.rstrip("/") + "/api/v1/query",
            params={"query": gate.query},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
        raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
        response.close()
    except requests.RequestException as exc:
        raise GateError(f"gate {gate.name}: could not query {gate.url}: {exc}") from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise GateError(f"gate {gate.name}: the answer is over {MAX_ANSWER_BYTES} bytes")
    try:
        answer = requests.models.complexjson.loads(raw)
    except ValueError:
        raise GateError(
            f"gate {gate.name}: {gate.url} answered HTTP {response.status_code}, not JSON"
        ) from None
    try:
        return judge(gate, answer)
    except GateError as exc:
        raise GateError(f"gate {gate.name}: {exc}") from None
