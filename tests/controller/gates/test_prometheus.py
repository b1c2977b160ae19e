"""The Prometheus gate: what counts as healthy (pure), and one query to a real HTTP server."""

from __future__ import annotations

import pytest

from fenix.gates.prometheus import GateError, PrometheusGate, ask, judge
from fenix.notify.callbacks import CallbackPolicy

CRITICAL = 'ALERTS{alertstate="firing",severity="critical"}'
LOOPBACK = CallbackPolicy(["127.0.0.0/8"])


def _vector(*values: float) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"__name__": "up", "job": f"j{n}"}, "value": [0, str(v)]}
                for n, v in enumerate(values)
            ],
        },
    }


def _gate(**fields) -> PrometheusGate:
    return PrometheusGate(**{"name": "g", "url": "http://p", "query": "up", **fields})


def test_empty_passes_only_without_series():
    assert judge(_gate(), _vector()) is None
    reason = judge(_gate(), _vector(1))
    assert reason == "gate g: 'up' should give no series; got up{job=\"j0\"} = 1"


def test_below_and_above_compare_every_value():
    assert judge(_gate(healthy="below", threshold=0.9), _vector(0.1, 0.5)) is None
    assert 'got up{job="j1"} = 0.95' in judge(
        _gate(healthy="below", threshold=0.9), _vector(0.1, 0.95)
    )
    assert judge(_gate(healthy="above", threshold=0), _vector(1, 1)) is None
    assert judge(_gate(healthy="above", threshold=0), _vector(1, float("nan"))) is not None


def test_a_scalar_answer_is_judged_and_many_bad_series_are_counted():
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [0, "3"]}}
    assert judge(_gate(healthy="below", threshold=5), scalar) is None
    assert judge(_gate(), _vector(*range(5))).endswith("and 2 more")


def test_an_error_or_a_strange_answer_is_a_gate_error():
    with pytest.raises(GateError, match="bad_data"):
        judge(_gate(), {"status": "error", "errorType": "bad_data", "error": "parse error"})
    with pytest.raises(GateError, match="'string' result"):
        judge(_gate(), {"status": "success", "data": {"resultType": "string", "result": []}})
    with pytest.raises(GateError, match="not an answer"):
        judge(_gate(), {"status": "success", "data": {"resultType": "vector", "result": [{}]}})


def test_ask_queries_a_real_server_and_judges_its_answer(prometheus):
    gate = _gate(url=prometheus.url, query=CRITICAL)

    assert ask(gate, LOOPBACK, timeout=5) is None
    prometheus.firing = ["NodeDown"]
    reason = ask(gate, LOOPBACK, timeout=5)

    assert "NodeDown" in reason and "should give no series" in reason
    assert prometheus.queries == [CRITICAL, CRITICAL]


def test_ask_refuses_addresses_the_policy_does_not_allow(prometheus):
    with pytest.raises(GateError, match="loopback") as refused:
        ask(_gate(url=prometheus.url), CallbackPolicy(), timeout=5)
    assert "FENIX_GATE_ALLOW_NETWORKS" in str(refused.value)
    with pytest.raises(GateError, match="link-local"):
        ask(_gate(url="http://169.254.169.254"), LOOPBACK, timeout=5)
    assert prometheus.queries == []


def test_a_server_that_is_not_prometheus_is_a_gate_error(prometheus):
    with pytest.raises(GateError, match="not_found"):
        ask(_gate(url=prometheus.url + "/nowhere"), LOOPBACK, timeout=5)
