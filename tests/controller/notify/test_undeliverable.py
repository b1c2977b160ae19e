"""A manager that cannot be reached: its dead deliveries are shown, and nobody waits for it."""

from __future__ import annotations

import socket
import time

import pytest

from tests.controller.live import wait_until

pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_manager_whose_notice_is_dead_counts_as_not_answering_at_once(live_stack):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 2, "instances": 2},
        reply_window=30.0,
        long_reply_window=6.0,  # MAINTENANCE_COMPLETE's: waited out even for a dead manager
        delivery_max_attempts=2,
        delivery_backoff=0.05,
        delivery_timeout=0.5,
    )
    gone = f"http://127.0.0.1:{_closed_port()}/maintenance"
    subscribed = live.http.post(
        f"{live.url}/v1/subscriptions",
        json={
            "event_types": ["maintenance.planned"],
            "project_id": "project-1",
            "callback_url": gone,
        },
        headers={"X-Auth-Token": live.token_for("project-1")},
        timeout=10,
    )
    assert subscribed.status_code == 201, subscribed.text
    answering = live.add_manager("project-2")
    started = time.monotonic()
    session_id = live.create_session()

    detail = live.wait_for(session_id, timeout=25)

    # Waiting out even one 30 s reply window for project-1 would have taken longer.
    assert time.monotonic() - started < 25
    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = live.events(session_id)
    given_up = [e for e in events if e["kind"] == "project.reply.undeliverable"]
    assert {e["subject"] for e in given_up} == {"project-1"}
    assert "MAINTENANCE" in {e["new"] for e in given_up}
    assert "MAINTENANCE_COMPLETE" not in {e["new"] for e in given_up}
    # The session does not end while a manager may still scale back: that window is waited
    # out, even for a manager that cannot be reached.
    timeouts = [e for e in events if e["kind"] == "project.reply.timeout"]
    assert [(e["subject"], e["new"]) for e in timeouts] == [("project-1", "MAINTENANCE_COMPLETE")]
    done_at = next(
        e["at"] for e in events if e["kind"] == "session.state" and e["new"] == "MAINTENANCE_DONE"
    )
    assert done_at >= timeouts[0]["data"]["reply_at"]
    assert any(e["kind"] == "notification.dead" and e["subject"] == "project-1" for e in events)
    project_1 = next(p for p in detail["projects"] if p["project_id"] == "project-1")
    assert project_1["has_manager"] is True
    dead = detail["dead_notifications"]
    assert dead and {d["project_id"] for d in dead} == {"project-1"}
    first = dead[0]
    assert (first["event_type"], first["state"], first["callback_url"]) == (
        "maintenance.planned",
        "MAINTENANCE",
        gone,
    )
    assert first["attempts"] == 2 and "Cannot connect" in first["last_error"]
    assert "secret" not in first
    assert detail["deliveries"]["dead"] == len(dead)
    assert detail["deliveries"]["delivered"] > 0
    received = wait_until(
        lambda: (
            [m["state"] for m in answering.messages if m["direction"] == "received"]
            if any(m["state"] == "MAINTENANCE_DONE" for m in answering.messages)
            else None
        ),
        what="the answering manager told the session is done",
    )
    assert received[0] == "MAINTENANCE"
