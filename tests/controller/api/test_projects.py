"""The project API: affected instances, and replies taken only when the engine waits for them."""

from __future__ import annotations

import pytest

from fenix.notify import notifier
from fenix.states import EventType, SessionState

from .helpers import error_message

VMS = ["project-1-vm-1", "project-1-vm-2"]


@pytest.fixture
def session_id(create_session) -> str:
    return create_session(hosts=["compute-1", "compute-2"])


def events_of(client, session_id: str, kind: str) -> list[dict]:
    events = client.get(f"/v1/maintenance/{session_id}/events").get_json()["events"]
    return [event for event in events if event["kind"] == kind]


# -- affected instances --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["/v1/maintenance/{sid}/project-1", "/v1/project/project-1/maintenance/{sid}"]
)
def test_get_gives_the_instances_of_the_current_step(client, session_id, ask_project, url):
    ask_project(session_id, "project-1", "PLANNED_MAINTENANCE", VMS)

    response = client.get(url.format(sid=session_id))

    assert response.status_code == 200
    assert response.get_json() == {"instance_ids": VMS}


def test_get_for_a_project_not_in_the_session_is_404(client, session_id, ask_project):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)

    response = client.get(f"/v1/maintenance/{session_id}/project-2")

    assert response.status_code == 404
    assert "project project-2" in error_message(response)


def test_get_for_an_unknown_session_is_404(client):
    response = client.get("/v1/project/project-1/maintenance/nope")

    assert response.status_code == 404
    assert "no maintenance session nope" in error_message(response)


# -- replies -------------------------------------------------------------------------------------
def test_reply_with_fenix_sample_body_is_recorded(client, session_id, ask_project):
    ask_project(session_id, "project-1", "PLANNED_MAINTENANCE", VMS)
    body = {"instance_actions": {VMS[0]: "MIGRATE"}, "state": "ACK_PLANNED_MAINTENANCE"}

    response = client.put(f"/v1/maintenance/{session_id}/project-1", json=body)

    assert response.status_code == 200
    assert response.get_json() == {
        "session_id": session_id,
        "project_id": "project-1",
        "state": "ACK_PLANNED_MAINTENANCE",
    }
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert project["reply"] == "ACK_PLANNED_MAINTENANCE"
    assert project["replied_at"].endswith("+00:00")
    assert project["instance_actions"] == {VMS[0]: "MIGRATE"}
    (event,) = events_of(client, session_id, "project.reply")
    assert (event["subject"], event["new"], event["data"]) == (
        "project-1",
        "ACK_PLANNED_MAINTENANCE",
        body,
    )


def test_nack_is_recorded_as_such(client, session_id, ask_project):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)

    response = client.put(
        f"/v1/maintenance/{session_id}/project-1", json={"state": "NACK_MAINTENANCE"}
    )

    assert response.status_code == 200
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert project["reply"] == "NACK_MAINTENANCE"


def test_reply_for_another_step_is_409_saying_what_the_session_waits_for(
    client, session_id, ask_project
):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)

    response = client.put(f"/v1/maintenance/{session_id}/project-1", json={"state": "ACK_SCALE_IN"})

    assert response.status_code == 409
    message = error_message(response)
    assert "not waiting for ACK_SCALE_IN" in message
    assert "the session waits for ACK_MAINTENANCE or NACK_MAINTENANCE" in message
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert project["reply"] is None
    (rejected,) = events_of(client, session_id, "project.reply.rejected")
    assert (rejected["old"], rejected["new"]) == ("MAINTENANCE", "ACK_SCALE_IN")
    assert rejected["data"]["reason"] == message


def test_repeated_reply_is_409_and_keeps_the_first(client, session_id, ask_project):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)
    url = f"/v1/maintenance/{session_id}/project-1"
    assert client.put(url, json={"state": "ACK_MAINTENANCE"}).status_code == 200

    response = client.put(url, json={"state": "NACK_MAINTENANCE"})

    assert response.status_code == 409
    message = error_message(response)
    assert "waits for nothing from it now" in message
    assert "it answered ACK_MAINTENANCE" in message
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert project["reply"] == "ACK_MAINTENANCE"
    assert len(events_of(client, session_id, "project.reply.rejected")) == 1


def test_reply_before_the_project_was_asked_anything_is_409(client, session_id, runtime):
    with runtime.db.transaction() as repo:  # the engine knows the project but told it nothing
        repo.project(repo.get_session(session_id), "project-1")

    response = client.put(
        f"/v1/maintenance/{session_id}/project-1", json={"state": "ACK_MAINTENANCE"}
    )

    assert response.status_code == 409
    assert "waits for nothing from it now" in error_message(response)


def test_the_same_reply_again_is_200_changes_nothing_and_is_recorded_once(
    client, session_id, ask_project
):
    ask_project(session_id, "project-1", "PLANNED_MAINTENANCE", VMS)
    url = f"/v1/maintenance/{session_id}/project-1"
    body = {"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {VMS[0]: "MIGRATE"}}
    assert client.put(url, json=body).status_code == 200
    replied_at = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0][
        "replied_at"
    ]

    again = client.put(url, json=body)
    other = client.put(url, json={**body, "instance_actions": {VMS[0]: "LIVE_MIGRATE"}})

    assert again.status_code == 200
    assert again.get_json()["state"] == "ACK_PLANNED_MAINTENANCE"
    assert other.status_code == 409
    assert 'with instance_actions {"project-1-vm-1": "MIGRATE"}' in error_message(other)
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert (project["instance_actions"], project["replied_at"]) == (
        {VMS[0]: "MIGRATE"},
        replied_at,
    )
    assert len(events_of(client, session_id, "project.reply")) == 1
    assert len(events_of(client, session_id, "project.reply.rejected")) == 1


def tell(runtime, session_id: str, project_id: str, step: str) -> None:
    """Tell the project a step that asks nothing, as the engine does."""
    with runtime.db.transaction() as repo:
        payload = {"session_id": session_id, "project_id": project_id, "state": step}
        notifier.emit(
            repo, EventType.PLANNED, payload, session_id=session_id, project_id=project_id
        )


@pytest.mark.parametrize("answer", ["ACK", "NACK"])
def test_an_acknowledged_instance_action_done_is_200_changes_nothing_and_is_noted_once(
    client, session_id, ask_project, runtime, answer
):
    # Tacker's plug-in acknowledges every notice it handles, INSTANCE_ACTION_DONE included.
    ask_project(session_id, "project-1", "PLANNED_MAINTENANCE", VMS)
    tell(runtime, session_id, "project-1", "INSTANCE_ACTION_DONE")
    tell(runtime, session_id, "project-1", "INSTANCE_ACTION_DONE")
    url = f"/v1/maintenance/{session_id}/project-1"
    body = {"state": f"{answer}_INSTANCE_ACTION_DONE", "session_id": session_id}

    answers = [client.put(url, json=body) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert (project["step"], project["reply"]) == ("PLANNED_MAINTENANCE", None)
    (noted,) = events_of(client, session_id, "project.reply.noted")
    assert (noted["subject"], noted["new"], noted["data"]["body"]) == (
        "project-1",
        f"{answer}_INSTANCE_ACTION_DONE",
        body,
    )
    assert events_of(client, session_id, "project.reply") == []
    # The question still open is still open: an ACK to it is taken.
    assert client.put(url, json={"state": "ACK_PLANNED_MAINTENANCE"}).status_code == 200


def test_an_acknowledgement_of_a_step_never_told_is_409_and_logged(
    client, session_id, ask_project, runtime
):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)
    tell(runtime, session_id, "project-2", "INSTANCE_ACTION_DONE")  # another project's notice

    response = client.put(
        f"/v1/maintenance/{session_id}/project-1", json={"state": "ACK_INSTANCE_ACTION_DONE"}
    )

    assert response.status_code == 409
    assert "project-1 was not told INSTANCE_ACTION_DONE" in error_message(response)
    (rejected,) = events_of(client, session_id, "project.reply.rejected")
    assert rejected["new"] == "ACK_INSTANCE_ACTION_DONE"


def test_reply_to_an_informational_step_is_409(client, session_id, ask_project):
    ask_project(session_id, "project-1", "IN_MAINTENANCE", VMS)

    response = client.put(
        f"/v1/maintenance/{session_id}/project-1", json={"state": "ACK_MAINTENANCE"}
    )

    assert response.status_code == 409


def test_reply_to_a_failed_session_is_409(client, session_id, ask_project, set_session):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)
    set_session(session_id, state=SessionState.MAINTENANCE_FAILED)

    response = client.put(
        f"/v1/maintenance/{session_id}/project-1", json={"state": "ACK_MAINTENANCE"}
    )

    assert response.status_code == 409
    assert "over: MAINTENANCE_FAILED" in error_message(response)


def test_reply_with_the_singular_instance_action_maps_to_the_one_instance(
    client, session_id, ask_project
):
    ask_project(session_id, "project-1", "PLANNED_MAINTENANCE", [VMS[1]])

    response = client.put(
        f"/v1/maintenance/{session_id}/project-1",
        json={
            "state": "ACK_PLANNED_MAINTENANCE",
            "instance_action": "MIGRATE",
            "session_id": session_id,  # OPNFV Doctor's manager sends these two as well
            "instance_ids": [VMS[1]],
        },
    )

    assert response.status_code == 200
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert project["instance_actions"] == {VMS[1]: "MIGRATE"}


def test_singular_instance_action_needs_exactly_one_instance(client, session_id, ask_project):
    ask_project(session_id, "project-1", "PLANNED_MAINTENANCE", VMS)

    response = client.put(
        f"/v1/maintenance/{session_id}/project-1",
        json={"state": "ACK_PLANNED_MAINTENANCE", "instance_action": "MIGRATE"},
    )

    assert response.status_code == 400
    assert "instance_action: this step names 2 instances" in error_message(response)


def test_reply_naming_instances_outside_the_step_is_400_and_not_recorded(
    client, session_id, ask_project
):
    ask_project(session_id, "project-1", "PREPARE_MAINTENANCE", [VMS[0]])
    url = f"/v1/maintenance/{session_id}/project-1"

    response = client.put(
        url,
        json={
            "state": "ACK_PREPARE_MAINTENANCE",
            "instance_actions": {VMS[0]: "LIVE_MIGRATE", "project-2-vm-1": "MIGRATE"},
        },
    )

    assert response.status_code == 400
    assert "instance_actions: project-2-vm-1 not among" in error_message(response)
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert project["reply"] is None
    assert client.put(url, json={"state": "ACK_PREPARE_MAINTENANCE"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["state: Field required"]),
        ({"state": "ACK_IN_SERVICE"}, ["state:", "not a reply", "PLANNED_MAINTENANCE"]),
        ({"state": "YES_MAINTENANCE"}, ["state:", "not a reply"]),
        ({"state": 1}, ["state:", "valid string"]),
        (
            {"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {VMS[0]: "REBOOT"}},
            [f"instance_actions.{VMS[0]}:", "'MIGRATE'"],
        ),
        (
            {"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": [VMS[0]]},
            ["instance_actions:", "valid dictionary"],
        ),
        (
            {
                "state": "ACK_PLANNED_MAINTENANCE",
                "instance_actions": {VMS[0]: "MIGRATE"},
                "instance_action": "MIGRATE",
            },
            ["not both"],
        ),
        ({"state": "ACK_PLANNED_MAINTENANCE", "session_id": "other"}, ["session_id:"]),
    ],
)
def test_bad_replies_are_400_naming_the_field(client, session_id, ask_project, body, words):
    ask_project(session_id, "project-1", "PLANNED_MAINTENANCE", VMS)

    response = client.put(f"/v1/maintenance/{session_id}/project-1", json=body)

    assert response.status_code == 400
    message = error_message(response)
    for word in words:
        assert word in message


def test_reply_for_unknown_session_or_project_is_404(client, session_id, ask_project):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)
    reply = {"state": "ACK_MAINTENANCE"}

    assert client.put("/v1/maintenance/nope/project-1", json=reply).status_code == 404
    assert client.put(f"/v1/maintenance/{session_id}/project-9", json=reply).status_code == 404


def test_reply_wakes_the_engine(client, session_id, ask_project, runtime, monkeypatch):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)
    woken = []
    monkeypatch.setattr(runtime, "wake", lambda sid=None: woken.append(sid))

    client.put(f"/v1/maintenance/{session_id}/project-1", json={"state": "ACK_MAINTENANCE"})

    assert woken == [session_id]


def test_a_large_refused_reply_is_logged_cut_to_4_kib_and_counted(
    client, session_id, ask_project, runtime
):
    ask_project(session_id, "project-1", "MAINTENANCE", VMS)
    url = f"/v1/maintenance/{session_id}/project-1"
    assert client.put(url, json={"state": "ACK_MAINTENANCE"}).status_code == 200
    # A different answer to the question answered: the same one again is taken (see below).
    late = {"state": "NACK_MAINTENANCE", "padding": "y" * 500_000}

    first = client.put(url, json=late)
    second = client.put(url, json={"state": "NACK_MAINTENANCE"})

    assert first.status_code == second.status_code == 409
    large, small = events_of(client, session_id, "project.reply.rejected")
    assert len(large["data"]["body_excerpt"].encode()) <= 4096
    assert large["data"]["body_excerpt"].startswith('{"state":"NACK_MAINTENANCE","padding":"yy')
    assert large["data"]["body_bytes"] > 500_000
    assert "body" not in large["data"]
    assert small["data"]["body"] == {"state": "NACK_MAINTENANCE"}
    assert runtime.metrics.registry.get_sample_value("fenix_project_replies_rejected_total") == 2
