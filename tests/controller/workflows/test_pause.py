"""Pause and resume through the API on a live controller, in both workflows.

A pause is judged from the event log: once the engine records that it holds (`session.held`),
no host is taken out of service and no move starts until the admin resumes; what was in flight
finishes; the session then ends MAINTENANCE_DONE with every host maintained once. A controller
restarted while the session is paused keeps it paused.
"""

from __future__ import annotations

import pytest

from fenix.app import create_app
from fenix.config import Settings
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.wsgi import serve_in_thread
from tests.controller.live import LiveController, wait_until

pytestmark = pytest.mark.slow


def _put(live: LiveController, session_id: str, body: dict) -> dict:
    response = live.http.put(f"{live.url}/v1/maintenance/{session_id}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _ids_of(events: list[dict], kind: str) -> list[int]:
    return [e["id"] for e in events if e["kind"] == kind]


def _started_between(events: list[dict], first: int, last: int) -> list[dict]:
    """Hosts started (out of PENDING) and moves begun between two event ids."""
    return [
        e
        for e in events
        if first < e["id"] < last
        and (
            (e["kind"] == "host.state" and e["old"] == "PENDING")
            or (e["kind"] == "instance.action" and e["new"] == "STARTING")
        )
    ]


def _nothing_in_flight(detail: dict) -> bool:
    return not any(h["state"] == "IN_MAINTENANCE" for h in detail["hosts"]) and not any(
        i["action_state"] in ("STARTING", "RUNNING") for i in detail["instances"]
    )


def _held(live: LiveController, session_id: str, after: int = 0) -> dict | None:
    held = [e for e in live.events(session_id) if e["kind"] == "session.held" and e["id"] > after]
    return held[-1] if held else None


def _restart(live_stack, live: LiveController) -> LiveController:
    """Stop the controller's engine and API and start new ones on the same database and cloud."""
    live.runtime.stop()
    settings = Settings(**{**live.runtime.settings.model_dump(), "public_url": None})
    runtime = Runtime(settings, driver=SimulatedDriver(live.sim_url))
    api = serve_in_thread(create_app(runtime), name="api-restarted")
    runtime.settings.public_url = api.url
    runtime.start()
    live_stack._stops += [runtime.stop, api.stop]
    return LiveController(api.url, live.sim_url, runtime, live.cloud)


def test_default_workflow_pauses_at_the_next_host_survives_a_restart_and_resumes(live_stack):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 2, "maintain_seconds": 0.3}
    )
    session_id = live.create_session()
    wait_until(
        lambda: any(h["state"] != "PENDING" for h in live.detail(session_id)["hosts"]),
        what="a first host started",
    )

    _put(live, session_id, {"action": "pause", "reason": "change freeze"})
    held = wait_until(lambda: _held(live, session_id), what="the engine holds the session")

    assert held["data"]["why"] == "paused"
    assert "change freeze" in held["data"]["reason"]
    waiting_host = held["data"]["before"]
    # In-flight work finishes: no host stays out of service while the session is held.
    wait_until(
        lambda: (
            not any(
                h["state"] in ("PREPARING", "IN_MAINTENANCE")
                for h in live.detail(session_id)["hosts"]
            )
        ),
        what="the host in work finished",
    )
    detail = live.detail(session_id)
    assert detail["state"] not in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")
    assert {h["name"]: h["state"] for h in detail["hosts"]}[waiting_host] == "PENDING"
    assert detail["held"]["why"] == "paused"

    runs_before = _ids_of(live.events(session_id), "engine.run")
    restarted = _restart(live_stack, live)
    # The new engine's run: the held event to wait for is the one it records after it.
    engine_runs = wait_until(
        lambda: (
            (runs := _ids_of(restarted.events(session_id), "engine.run")) != runs_before and runs
        ),
        what="the restarted engine takes the session",
    )
    held_again = wait_until(
        lambda: _held(restarted, session_id, after=engine_runs[-1]),
        what="the restarted engine holds the session",
    )
    assert held_again["data"]["why"] == "paused"
    assert restarted.detail(session_id)["paused"]["reason"] == "change freeze"

    _put(restarted, session_id, {"action": "resume"})
    detail = restarted.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = restarted.events(session_id)
    first_held = _ids_of(events, "session.held")[0]
    (resumed,) = _ids_of(events, "session.resumed")
    assert _started_between(events, first_held, resumed) == []
    assert [e["new"] for e in events if e["kind"] == "host.state"].count("IN_MAINTENANCE") == 3
    assert _ids_of(events, "session.hold_ended")[-1] > resumed
    (pause,) = detail["pauses"]
    assert pause["reason"] == "change freeze" and pause["resumed_at"] is not None
    assert detail["paused"] is None and detail["held"] is None
    report = restarted.cloud_report()
    assert all(len(h["maintenance"]) == 1 for h in report["hosts"].values())


def test_vnf_workflow_starts_no_host_and_no_move_while_paused(live_stack):
    # 30 instances on 6 hosts of 6: room to empty one host at a time, so hosts are still due
    # when the session is paused the second time (with more room, a fast machine may have
    # started them all already, and then the session rightly finishes while paused).
    live = live_stack.start(
        cloud={"hosts": 6, "projects": 1, "instances": 30, "maintain_seconds": 0.5}
    )
    session_id = live.create_session(workflow="vnf")
    _put(live, session_id, {"action": "pause", "reason": "before it starts"})

    first = wait_until(lambda: _held(live, session_id), what="the engine holds the session")

    detail = live.detail(session_id)
    assert {h["state"] for h in detail["hosts"]} == {"PENDING"}
    assert not [i for i in detail["instances"] if i["action_state"]]

    _put(live, session_id, {"action": "resume"})
    wait_until(
        lambda: any(h["state"] == "IN_MAINTENANCE" for h in live.detail(session_id)["hosts"]),
        what="a host in maintenance",
    )
    _put(live, session_id, {"action": "pause", "reason": "look at the dashboards"})
    second = wait_until(
        lambda: _held(live, session_id, after=first["id"]), what="held a second time"
    )
    # What is in flight finishes (maintenance, moves begun); a host whose moves had not begun
    # stays out of service, its instances where they are, until the session is resumed.
    wait_until(lambda: _nothing_in_flight(live.detail(session_id)), what="in-flight work ended")
    assert live.detail(session_id)["state"] not in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")

    _put(live, session_id, {"action": "resume"})
    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = live.events(session_id)
    resumed = _ids_of(events, "session.resumed")
    assert len(resumed) == 2
    assert _started_between(events, first["id"], resumed[0]) == []
    assert _started_between(events, second["id"], resumed[1]) == []
    assert [p["reason"] for p in detail["pauses"]] == ["before it starts", "look at the dashboards"]
    report = live.cloud_report()
    assert all(len(h["maintenance"]) == 1 for h in report["hosts"].values())
