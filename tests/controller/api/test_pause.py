"""PUT /v1/maintenance/{id} with `action`: pause and resume, beside Fenix's PUT of a state.

The engine is off here: these tests hold the API to what it records (the session's row, its
event log, the maintenance.session notification) and to its answers. That the workflows stop
at a safe point is tested in tests/controller/workflows/test_pause.py.
"""

from __future__ import annotations

from sqlalchemy import select

from fenix.db import models

from .helpers import error_message


def _outbox(runtime, session_id: str) -> list[dict]:
    with runtime.db.transaction() as repo:
        query = select(models.OutboxMessage).where(models.OutboxMessage.session_id == session_id)
        return [row.body for row in repo.orm.scalars(query.order_by(models.OutboxMessage.id))]


def _subscribe_admin(client) -> None:
    response = client.post(
        "/v1/subscriptions",
        json={"event_types": ["maintenance.session"], "callback_url": "http://127.0.0.1:9/x"},
    )
    assert response.status_code == 201, response.get_json()


def test_pause_holds_the_session_with_who_when_and_why_and_resume_lets_it_go(
    client, create_session, runtime
):
    _subscribe_admin(client)
    session_id = create_session()
    url = f"/v1/maintenance/{session_id}"

    paused = client.put(url, json={"action": "pause", "reason": "change freeze"})

    assert paused.status_code == 200, paused.get_json()
    assert paused.get_json()["state"] == "MAINTENANCE"  # the contract's state is unchanged
    detail = client.get(f"{url}/detail").get_json()
    assert detail["paused"]["by"] == "admin"
    assert detail["paused"]["reason"] == "change freeze"
    assert detail["paused"]["at"]
    assert detail["pauses"] == [
        {
            "paused_at": detail["paused"]["at"],
            "paused_by": "admin",
            "reason": "change freeze",
            "resumed_at": None,
            "resumed_by": None,
        }
    ]

    resumed = client.put(url, json={"action": "resume"})

    assert resumed.status_code == 200, resumed.get_json()
    detail = client.get(f"{url}/detail").get_json()
    assert detail["paused"] is None
    (pause,) = detail["pauses"]
    assert pause["resumed_by"] == "admin" and pause["resumed_at"] >= pause["paused_at"]
    events = client.get(f"{url}/events").get_json()["events"]
    kinds = [(e["kind"], e["old"], e["new"]) for e in events if e["kind"].startswith("session.")]
    assert kinds[-2:] == [
        ("session.paused", None, "PAUSED"),
        ("session.resumed", "PAUSED", None),
    ]
    assert all(e["at"] for e in events)
    resumed_event = [e for e in events if e["kind"] == "session.resumed"][0]
    assert resumed_event["data"]["reason"] == "change freeze"
    assert resumed_event["data"]["paused_seconds"] >= 0
    payloads = [body["payload"] for body in _outbox(runtime, session_id)]
    assert [(p.get("paused"), p.get("reason")) for p in payloads] == [
        (None, None),  # created: the contract's payload, untouched
        (True, "change freeze"),
        (False, None),
    ]
    assert all(p["state"] == "MAINTENANCE" for p in payloads)


def test_a_pause_is_kept_in_the_database(client, create_session, runtime):
    session_id = create_session()
    client.put(f"/v1/maintenance/{session_id}", json={"action": "pause"})

    with runtime.db.transaction() as repo:
        session = repo.get_session(session_id)
        assert session.paused_at is not None
        assert session.paused_by == "admin"
        assert session.pause_reason is None


def test_pausing_twice_or_resuming_a_running_session_is_409_and_changes_nothing(
    client, create_session
):
    session_id = create_session()
    url = f"/v1/maintenance/{session_id}"

    not_paused = client.put(url, json={"action": "resume"})
    assert not_paused.status_code == 409
    assert "is not paused" in error_message(not_paused)

    client.put(url, json={"action": "pause", "reason": "first"})
    again = client.put(url, json={"action": "pause", "reason": "second", "metadata": {"a": 1}})

    assert again.status_code == 409
    assert "paused already" in error_message(again)
    detail = client.get(f"{url}/detail").get_json()
    assert detail["paused"]["reason"] == "first"
    assert detail["metadata"] == {}  # the refused PUT left nothing half-written
    assert len(detail["pauses"]) == 1


def test_an_ended_session_cannot_be_paused(client, create_session, set_session):
    session_id = create_session()
    set_session(session_id, state="MAINTENANCE_DONE")

    response = client.put(f"/v1/maintenance/{session_id}", json={"action": "pause"})

    assert response.status_code == 409
    assert "MAINTENANCE_DONE" in error_message(response)


def test_bad_pause_bodies_are_400_saying_what_is_wrong(client, create_session):
    session_id = create_session()
    url = f"/v1/maintenance/{session_id}"
    cases = {
        "stop": ({"action": "stop"}, "action"),
        "both": ({"action": "pause", "state": "MAINTENANCE"}, "not both"),
        "reason alone": ({"reason": "why"}, 'reason goes with action "pause"'),
        "reason on resume": ({"action": "resume", "reason": "why"}, "reason goes with"),
        "empty reason": ({"action": "pause", "reason": ""}, "reason"),
    }
    for name, (body, expected) in cases.items():
        response = client.put(url, json=body)
        assert response.status_code == 400, name
        assert expected in error_message(response), (name, error_message(response))
    assert client.get(f"{url}/detail").get_json()["paused"] is None


def test_fenix_put_of_a_state_behaves_as_before(client, create_session, set_session):
    session_id = create_session()
    url = f"/v1/maintenance/{session_id}"

    running = client.put(url, json={"state": "MAINTENANCE"})
    assert running.status_code == 409  # only a failed session takes a new state

    set_session(session_id, state="MAINTENANCE_FAILED", failed_in="PLANNED_MAINTENANCE")
    resumed = client.put(url, json={"state": "PLANNED_MAINTENANCE"})
    assert resumed.status_code == 200
    assert resumed.get_json()["state"] == "PLANNED_MAINTENANCE"
    assert client.get(f"{url}/detail").get_json()["paused"] is None


def test_a_deleted_session_cannot_be_paused(client, create_session):
    session_id = create_session()
    client.delete(f"/v1/maintenance/{session_id}")

    response = client.put(f"/v1/maintenance/{session_id}", json={"action": "pause"})

    assert response.status_code == 404


def test_a_project_member_cannot_pause(client_as, create_session):
    session_id = create_session()

    response = client_as("project-1-token").put(
        f"/v1/maintenance/{session_id}", json={"action": "pause"}
    )

    assert response.status_code == 403


def test_metrics_count_the_paused_sessions(client, create_session):
    paused = create_session(hosts=["compute-1"])
    create_session(hosts=["compute-2"])  # running: not counted
    client.put(f"/v1/maintenance/{paused}", json={"action": "pause"})

    text = client.get("/metrics").get_data(as_text=True)

    assert "fenix_sessions_paused 1.0" in text
    client.put(f"/v1/maintenance/{paused}", json={"action": "resume"})
    assert "fenix_sessions_paused 0.0" in client.get("/metrics").get_data(as_text=True)
