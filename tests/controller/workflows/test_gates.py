"""Health gates on a live controller: a Prometheus gate before each host (a real HTTP server
speaking /api/v1/query) and a `gate` playbook after each host. A gate that keeps failing past
its timeout pauses the session with its reason; it neither fails it nor moves on; once healthy
and resumed, the session finishes."""

from __future__ import annotations

import pytest

from tests.controller.gates.prometheus_server import FakePrometheus
from tests.controller.live import wait_until
from tests.controller.workflows.test_pause import _ids_of, _put, _started_between

pytestmark = pytest.mark.slow

CRITICAL = 'ALERTS{alertstate="firing",severity="critical"}'

AFTER_GATE = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Check the workloads came back
      ansible.builtin.fail:
        msg: workloads on {{ inventory_hostname }} not ready
      when: fenix_gate_stage == 'after' and (flag is exists)
"""


@pytest.fixture
def prometheus():
    server = FakePrometheus()
    yield server
    server.stop()


def _started(events: list[dict]) -> list[dict]:
    return [e for e in events if e["kind"] == "host.state" and e["old"] == "PENDING"]


def test_a_failing_prometheus_gate_holds_the_first_host_then_pauses_the_session(
    live_stack, prometheus
):
    prometheus.firing = ["NodeDown"]
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 2},
        gate_allow_networks=["127.0.0.0/8"],
    )
    session_id = live.create_session(
        gates=[{"name": "critical-alerts", "url": prometheus.url, "query": CRITICAL}],
        gate_timeout=2,
        gate_interval=1,
    )

    paused = wait_until(lambda: live.detail(session_id)["paused"], what="paused by the gate")

    assert paused["by"] == "gate:critical-alerts"
    assert "NodeDown" in paused["reason"] and "before compute-" in paused["reason"]
    detail = live.detail(session_id)
    assert detail["state"] not in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")
    assert {h["state"] for h in detail["hosts"]} == {"PENDING"}  # it did not move on
    assert CRITICAL in prometheus.queries
    failed = [e for e in live.events(session_id) if e["kind"] == "gate.failed"]
    assert failed and failed[0]["data"]["stage"] == "before"

    prometheus.firing = []
    _put(live, session_id, {"action": "resume"})
    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = live.events(session_id)
    assert len(_started(events)) == 3
    (resumed,) = _ids_of(events, "session.resumed")
    assert all(e["id"] > resumed for e in _started(events))
    assert [e for e in events if e["kind"] == "gate.passed"]


def test_a_failing_gate_playbook_after_a_host_pauses_the_vnf_session_until_resumed(
    live_stack, tmp_path
):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "workloads_ready.yml").write_text(AFTER_GATE)
    flag = tmp_path / "not-ready"
    flag.touch()
    live = live_stack.start(
        cloud={"hosts": 4, "projects": 1, "instances": 4}, action_dirs=[str(plugins)]
    )
    session_id = live.create_session(
        workflow="vnf",
        actions=[{"plugin": "workloads_ready", "type": "gate", "metadata": {"flag": str(flag)}}],
        gate_timeout=2,
        gate_interval=1,
    )

    paused = wait_until(lambda: live.detail(session_id)["paused"], what="paused by the gate")

    assert paused["by"] == "gate:playbook"
    assert "workloads on compute-" in paused["reason"] and "not ready" in paused["reason"]
    assert "after compute-" in paused["reason"]
    held_at = max(_ids_of(live.events(session_id), "session.paused"))
    wait_until(
        lambda: (
            not any(h["state"] in ("IN_MAINTENANCE",) for h in live.detail(session_id)["hosts"])
        ),
        what="maintenance in flight ended",
    )
    assert live.detail(session_id)["state"] not in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")

    flag.unlink()
    _put(live, session_id, {"action": "resume"})
    detail = live.wait_for(session_id, timeout=120)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = live.events(session_id)
    (resumed,) = _ids_of(events, "session.resumed")
    assert _started_between(events, held_at, resumed) == []
    gate_runs = [r for r in detail["action_runs"] if r["type"] == "gate"]
    assert any(r["state"] == "FAILED" for r in gate_runs)
    assert gate_runs[-1]["state"] == "DONE"
    report = live.cloud_report()
    assert all(len(h["maintenance"]) == 1 for h in report["hosts"].values())
