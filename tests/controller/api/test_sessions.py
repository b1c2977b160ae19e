"""The admin API over a real app, database and simulated cloud: sessions from create to delete."""

from __future__ import annotations

import socket

import pytest

from fenix.app import create_app
from fenix.config import Settings
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.states import SessionState
from fenix.timeutil import utcnow

from .conftest import runtime_with
from .helpers import ADMIN_TOKEN, SAMPLE_CREATE, error_message


# -- create ------------------------------------------------------------------------------------
def test_create_with_fenix_sample_body_stores_everything_it_names(client):
    response = client.post("/v1/maintenance", json=SAMPLE_CREATE)

    assert response.status_code == 200
    session_id = response.get_json()["session_id"]
    assert list(response.get_json()) == ["session_id"]
    detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()
    assert detail["state"] == "MAINTENANCE"
    assert detail["workflow"] == "default"
    assert detail["maintenance_at"] == "2018-02-28T06:06:03+00:00"
    assert detail["metadata"] == {"openstack_release": "Queens"}
    assert detail["download"] == SAMPLE_CREATE["download"]
    assert [h["name"] for h in detail["hosts"]] == ["compute-1", "compute-2"]
    assert {h["kind"] for h in detail["hosts"]} == {"compute"}
    assert detail["action_plugins"] == [
        {"plugin": "prepare", "type": "pre", "metadata": {}},
        {"plugin": "os_upgrade", "type": "host", "metadata": {"upgrade": "SW1"}},
        {"plugin": "finalize", "type": "post", "metadata": {}},
    ]
    assert detail["percent_done"] == 0


def test_the_contracts_own_sample_is_taken_as_written_when_unverified_downloads_are_allowed(
    database_url, sim_url
):
    as_written = {**SAMPLE_CREATE, "download": ["https://example.com/plugins1.tar.gz"]}
    for runtime in runtime_with(database_url, sim_url, allow_unverified_downloads=True):
        client = create_app(runtime).test_client()
        client.environ_base["HTTP_X_AUTH_TOKEN"] = ADMIN_TOKEN

        response = client.post("/v1/maintenance", json=as_written)

        assert response.status_code == 200, response.get_json()
        session_id = response.get_json()["session_id"]
        detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()
        assert detail["download"] == ["https://example.com/plugins1.tar.gz"]


def test_create_with_defaults_takes_every_compute_host_and_starts_now(client):
    before = utcnow().replace(microsecond=0)

    response = client.post("/v1/maintenance", json={"state": "MAINTENANCE"})

    assert response.status_code == 200
    detail = client.get(f"/v1/maintenance/{response.get_json()['session_id']}/detail").get_json()
    assert [h["name"] for h in detail["hosts"]] == ["compute-1", "compute-2", "compute-3"]
    assert detail["workflow"] == "default"
    assert detail["metadata"] == {}
    assert detail["action_plugins"] == []
    assert detail["maintenance_at"] >= before.isoformat()


def test_create_accepts_iso_8601_with_offset_and_stores_utc(client, create_session):
    session_id = create_session(maintenance_at="2030-01-02T03:04:05+02:00")

    summary = client.get(f"/v1/maintenance/{session_id}").get_json()

    assert summary["maintenance_at"] == "2030-01-02T01:04:05+00:00"


def test_create_may_name_a_controller_host_and_records_its_kind(client, create_session):
    session_id = create_session(hosts=["controller-1", "compute-3"])

    hosts = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["hosts"]

    assert [(h["name"], h["kind"]) for h in hosts] == [
        ("controller-1", "controller"),
        ("compute-3", "compute"),
    ]


def test_create_records_the_creation_and_notifies_admin_subscribers(client, count_rows):
    client.post(
        "/v1/subscriptions",
        json={"event_types": ["maintenance.session"], "callback_url": "http://127.0.0.1:9/x"},
    )

    session_id = client.post("/v1/maintenance", json=SAMPLE_CREATE).get_json()["session_id"]

    events = client.get(f"/v1/maintenance/{session_id}/events").get_json()["events"]
    assert [e["kind"] for e in events] == ["session.created", "notification"]
    assert events[1]["data"]["event_type"] == "maintenance.session"
    assert events[1]["data"]["subscribers"] == 1
    assert count_rows()["outbox"] == 1


def test_create_rejects_unknown_hosts_with_404_naming_them(client):
    response = client.post(
        "/v1/maintenance", json={"state": "MAINTENANCE", "hosts": ["compute-1", "compute-9"]}
    )

    assert response.status_code == 404
    message = error_message(response)
    assert "compute-9" in message
    assert "compute-1, compute-2, compute-3" in message


def test_create_rejects_a_host_held_by_another_active_session(client, create_session):
    first = create_session(hosts=["compute-1", "compute-2"])

    response = client.post(
        "/v1/maintenance", json={"state": "MAINTENANCE", "hosts": ["compute-2", "compute-3"]}
    )

    assert response.status_code == 409
    message = error_message(response)
    assert f"host compute-2 is in session {first}" in message
    assert "compute-3" not in message


def test_hosts_of_a_finished_session_are_free_again(client, create_session, set_session):
    first = create_session(hosts=["compute-1"])
    set_session(first, state=SessionState.MAINTENANCE_DONE)

    response = client.post("/v1/maintenance", json={"state": "MAINTENANCE", "hosts": ["compute-1"]})

    assert response.status_code == 200


def test_a_deleted_session_holds_its_hosts_until_the_engine_stops_it(client, create_session):
    first = create_session(hosts=["compute-1"])
    client.delete(f"/v1/maintenance/{first}")

    response = client.post("/v1/maintenance", json={"state": "MAINTENANCE", "hosts": ["compute-1"]})

    assert response.status_code == 409
    assert "(deleted, stopping)" in error_message(response)


REJECTED_CREATES = [
    # (body, status, words the message must contain)
    ({"hosts": ["compute-1"]}, 400, ["state: Field required"]),
    ({"state": "SCALE_IN"}, 400, ["state:", "'MAINTENANCE'"]),
    ({"state": "MAINTENANCE", "hosts": "compute-1"}, 400, ["hosts:", "valid list"]),
    ({"state": "MAINTENANCE", "hosts": ["compute-1", 5]}, 400, ["hosts.1:", "valid string"]),
    ({"state": "MAINTENANCE", "hosts": [""]}, 400, ["hosts.0:", "at least 1 character"]),
    (
        {"state": "MAINTENANCE", "hosts": ["compute-1", "compute-1"]},
        400,
        ["hosts:", "more than once: compute-1"],
    ),
    ({"state": "MAINTENANCE", "maintenance_at": "tomorrow"}, 400, ["maintenance_at:", "tomorrow"]),
    ({"state": "MAINTENANCE", "maintenance_at": 1700000000}, 400, ["maintenance_at:"]),
    ({"state": "MAINTENANCE", "workflow": "nope"}, 400, ["workflow:", "'nope'", "known: default"]),
    ({"state": "MAINTENANCE", "metadata": []}, 400, ["metadata:", "valid dictionary"]),
    ({"state": "MAINTENANCE", "maintenance_At": "x"}, 400, ["maintenance_At: unknown field"]),
    (
        {"state": "MAINTENANCE", "actions": [{"plugin": "", "type": "pre"}]},
        400,
        ["actions.0.plugin:"],
    ),
    (
        {"state": "MAINTENANCE", "actions": [{"plugin": "dummy", "type": "Pre Host"}]},
        400,
        ["actions.0.type:", "not an action type", "pre, host, post"],
    ),
    (
        {"state": "MAINTENANCE", "actions": [{"plugin": "no_such_upgrade", "type": "host"}]},
        400,
        ["actions.0.plugin:", "no action plug-in 'no_such_upgrade'", "FENIX_ACTION_DIRS"],
    ),
    (
        {
            "state": "MAINTENANCE",
            "download": [f"https://example.com/p.tgz#sha256={'a' * 64}"],
            "actions": [
                {"plugin": "dummy", "type": "pre"},
                {"plugin": "../../etc/passwd", "type": "host"},
            ],
        },
        400,
        ["actions.1.plugin:", "'../../etc/passwd' is not a plug-in name"],
    ),
    (
        {
            "state": "MAINTENANCE",
            "download": [f"https://example.com/p.tgz#sha256={'a' * 64}"],
            "actions": [{"plugin": "fenix.maintenance.actions.nope", "type": "post"}],
        },
        400,
        ["actions.0.plugin:", "no action plug-in 'nope'"],
    ),
    (
        {"state": "MAINTENANCE", "actions": [{"plugin": "dummy", "type": "pre", "meta": {}}]},
        400,
        ["actions.0.meta: unknown field"],
    ),
    (
        {"state": "MAINTENANCE", "download": ["ftp://example.com/p.tgz"]},
        400,
        ["download.0:", "http:// or https://"],
    ),
    (
        {"state": "MAINTENANCE", "download": ["https://example.com/p.tgz"]},
        400,
        ["download.0:", "has no checksum", "#sha256=", "FENIX_ALLOW_UNVERIFIED_DOWNLOADS"],
    ),
    (
        {"state": "MAINTENANCE", "download": [f"http://example.com/p.tgz#sha256={'a' * 64}"]},
        400,
        ["download.0:", "https only", "FENIX_ALLOW_HTTP_DOWNLOADS"],
    ),
    ({"state": "MAINTENANCE", "hosts": ["compute-7"]}, 404, ["compute-7"]),
]


@pytest.mark.parametrize(("body", "status", "words"), REJECTED_CREATES)
def test_a_rejected_create_says_why_and_leaves_nothing_in_the_database(
    client, count_rows, create_session, body, status, words
):
    create_session(hosts=["compute-3"])  # something already there, to see it is untouched
    before = count_rows()

    response = client.post("/v1/maintenance", json=body)

    assert response.status_code == status
    message = error_message(response)
    for word in words:
        assert word in message
    assert count_rows() == before


def test_a_409_create_leaves_nothing_in_the_database(client, count_rows, create_session):
    create_session(hosts=["compute-1"])
    before = count_rows()

    response = client.post(
        "/v1/maintenance", json={**SAMPLE_CREATE, "hosts": ["compute-2", "compute-1"]}
    )

    assert response.status_code == 409
    assert count_rows() == before


def test_create_answers_502_when_the_cloud_cannot_be_reached(tmp_path):
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fenix.db'}", run_engine=False)
    runtime = Runtime(settings, driver=SimulatedDriver(dead_url, timeout=2.0))
    try:
        client = create_app(runtime).test_client()

        response = client.post("/v1/maintenance", json={"state": "MAINTENANCE"})

        assert response.status_code == 502
        assert "could not list the cloud's hosts" in error_message(response)
        assert client.get("/v1/maintenance").get_json()["sessions"] == []
    finally:
        runtime.stop()


# -- read ----------------------------------------------------------------------------------------
def test_list_gives_both_keys_in_creation_order(client, create_session):
    first = create_session(hosts=["compute-1"])
    second = create_session(hosts=["compute-2"])

    body = client.get("/v1/maintenance").get_json()

    assert body == {"sessions": [first, second], "session_id": [first, second]}


def test_list_is_empty_at_first(client):
    assert client.get("/v1/maintenance").get_json() == {"sessions": [], "session_id": []}


def test_get_answers_the_summary(client, create_session):
    session_id = create_session()

    response = client.get(f"/v1/maintenance/{session_id}")

    assert response.status_code == 200
    body = response.get_json()
    assert body["session_id"] == session_id
    assert body["state"] == "MAINTENANCE"
    assert set(body) == {
        "session_id",
        "state",
        "workflow",
        "maintenance_at",
        "created_at",
        "updated_at",
        "percent_done",
        "error",
    }


def test_detail_shows_projects_and_instances_as_the_engine_records_them(
    client, create_session, ask_project, runtime
):
    session_id = create_session()
    ask_project(session_id, "project-1", "MAINTENANCE", ["project-1-vm-1"])
    with runtime.db.transaction() as repo:
        session = repo.get_session(session_id)
        repo.add_instance(
            session,
            instance_id="project-1-vm-1",
            name="project-1-vm-1",
            project_id="project-1",
            host="compute-1",
        )

    detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()

    assert detail["projects"][0]["project_id"] == "project-1"
    assert detail["projects"][0]["step"] == "MAINTENANCE"
    assert detail["projects"][0]["instance_ids"] == ["project-1-vm-1"]
    assert detail["projects"][0]["notified_at"].endswith("+00:00")
    assert detail["instances"][0]["host"] == "compute-1"
    assert detail["instances"][0]["state"] == "ACTIVE"
    assert detail["action_runs"] == []


@pytest.mark.parametrize("suffix", ["", "/detail", "/events"])
def test_unknown_session_is_404(client, suffix):
    response = client.get(f"/v1/maintenance/no-such-session{suffix}")

    assert response.status_code == 404
    assert "no maintenance session no-such-session" in error_message(response)


def test_events_after_an_id_gives_only_later_events(client, create_session):
    session_id = create_session()
    client.put(f"/v1/maintenance/{session_id}", json={"metadata": {"a": 1}})
    events = client.get(f"/v1/maintenance/{session_id}/events").get_json()["events"]

    later = client.get(f"/v1/maintenance/{session_id}/events?after={events[0]['id']}")

    assert [e["id"] for e in later.get_json()["events"]] == [e["id"] for e in events[1:]]
    assert events[-1]["kind"] == "session.updated"


def test_events_after_must_be_a_number(client, create_session):
    session_id = create_session()

    response = client.get(f"/v1/maintenance/{session_id}/events?after=last")

    assert response.status_code == 400
    assert "after:" in error_message(response)


@pytest.mark.parametrize("after", [str(2**31), "9430465120967888092545417216", "-1"])
def test_events_after_outside_an_event_id_is_400_not_500(client, create_session, after):
    # Found by fuzzing (test_fuzz.py): past the INTEGER id column's range, SQLite (64 bits)
    # and PostgreSQL (32) failed the query, a 500.
    session_id = create_session()

    response = client.get(f"/v1/maintenance/{session_id}/events?after={after}")

    assert response.status_code == 400
    assert f"from 0 to {2**31 - 1}" in error_message(response)


def test_events_after_the_largest_event_id_is_an_empty_list(client, create_session):
    session_id = create_session()

    response = client.get(f"/v1/maintenance/{session_id}/events?after={2**31 - 1}")

    assert response.status_code == 200
    assert response.get_json()["events"] == []


# -- update --------------------------------------------------------------------------------------
def test_put_changes_start_time_and_metadata(client, create_session):
    session_id = create_session()

    response = client.put(
        f"/v1/maintenance/{session_id}",
        json={"maintenance_at": "2031-05-06 07:08:09", "metadata": {"openstack": "upgrade"}},
    )

    assert response.status_code == 200
    assert response.get_json()["maintenance_at"] == "2031-05-06T07:08:09+00:00"
    detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()
    assert response.get_json()["updated_at"] == detail["updated_at"]
    assert detail["metadata"] == {"openstack": "upgrade"}
    assert detail["maintenance_at"] == "2031-05-06T07:08:09+00:00"


def test_put_resumes_a_failed_session_and_clears_its_error(client, create_session, set_session):
    session_id = create_session()
    set_session(
        session_id,
        state=SessionState.MAINTENANCE_FAILED,
        failed_in="PLANNED_MAINTENANCE",
        error="compute-1 did not come back",
    )

    response = client.put(f"/v1/maintenance/{session_id}", json={"state": "PLANNED_MAINTENANCE"})

    assert response.status_code == 200
    assert response.get_json()["state"] == "PLANNED_MAINTENANCE"
    assert response.get_json()["error"] is None
    events = client.get(f"/v1/maintenance/{session_id}/events").get_json()["events"]
    resumed = [e for e in events if e["kind"] == "session.state"][-1]
    assert (resumed["old"], resumed["new"]) == ("MAINTENANCE_FAILED", "PLANNED_MAINTENANCE")
    assert resumed["data"] == {"reason": "resumed by admin"}


def test_put_state_is_refused_unless_the_session_failed(client, create_session):
    session_id = create_session()

    response = client.put(f"/v1/maintenance/{session_id}", json={"state": "SCALE_IN"})

    assert response.status_code == 409
    message = error_message(response)
    assert "is in MAINTENANCE" in message
    assert "only to resume a MAINTENANCE_FAILED session" in message
    assert client.get(f"/v1/maintenance/{session_id}").get_json()["state"] == "MAINTENANCE"


def test_put_cannot_resume_into_a_final_state(client, create_session, set_session):
    session_id = create_session()
    set_session(session_id, state=SessionState.MAINTENANCE_FAILED, failed_in="SCALE_IN")

    response = client.put(f"/v1/maintenance/{session_id}", json={"state": "MAINTENANCE_DONE"})

    assert response.status_code == 400
    message = error_message(response)
    assert "MAINTENANCE_DONE is final" in message
    assert "it failed in SCALE_IN" in message


def test_put_cannot_resume_when_another_session_took_the_hosts(client, create_session, set_session):
    failed = create_session(hosts=["compute-1"])
    set_session(failed, state=SessionState.MAINTENANCE_FAILED)
    other = create_session(hosts=["compute-1"])

    response = client.put(f"/v1/maintenance/{failed}", json={"state": "MAINTENANCE"})

    assert response.status_code == 409
    assert f"host compute-1 is in session {other}" in error_message(response)
    assert client.get(f"/v1/maintenance/{failed}").get_json()["state"] == "MAINTENANCE_FAILED"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["at least one of state, maintenance_at, metadata"]),
        ({"state": "PAUSED"}, ["state:", "'MAINTENANCE'"]),
        ({"maintenance_at": "2020-13-45 00:00:00"}, ["maintenance_at:"]),
        ({"metadata": "x"}, ["metadata:"]),
        ({"hosts": ["compute-1"]}, ["hosts: unknown field"]),
    ],
)
def test_put_rejects_bad_bodies(client, create_session, body, words):
    session_id = create_session()

    response = client.put(f"/v1/maintenance/{session_id}", json=body)

    assert response.status_code == 400
    message = error_message(response)
    for word in words:
        assert word in message


def test_put_unknown_session_is_404(client):
    response = client.put("/v1/maintenance/nope", json={"metadata": {}})

    assert response.status_code == 404


# -- delete --------------------------------------------------------------------------------------
def test_delete_marks_the_session_for_stopping_and_hides_it(client, create_session, runtime):
    session_id = create_session()

    response = client.delete(f"/v1/maintenance/{session_id}")

    assert response.status_code == 200
    assert response.get_json() == {"session_id": session_id, "state": "MAINTENANCE"}
    with runtime.db.transaction() as repo:
        session = repo.get_session(session_id, with_deleted=True)
        assert session.deleted and session.stop_requested
    assert client.get(f"/v1/maintenance/{session_id}").status_code == 404
    assert client.get("/v1/maintenance").get_json()["sessions"] == []
    events = client.get(f"/v1/maintenance/{session_id}/events").get_json()["events"]
    assert events[-1]["kind"] == "session.deleted"


def test_delete_twice_or_unknown_is_404(client, create_session):
    session_id = create_session()
    client.delete(f"/v1/maintenance/{session_id}")

    assert client.delete(f"/v1/maintenance/{session_id}").status_code == 404
    assert client.delete("/v1/maintenance/nope").status_code == 404


@pytest.fixture
def roomy_client(runtime):
    """The admin's client of an app that takes bodies of up to 8 MiB (long host lists)."""
    runtime.settings.max_body_bytes = 8 * 1024 * 1024
    client = create_app(runtime).test_client()
    client.environ_base["HTTP_X_AUTH_TOKEN"] = ADMIN_TOKEN
    return client


def test_more_hosts_than_the_cap_are_refused_with_a_short_message(roomy_client, count_rows):
    before = count_rows()
    hosts = [f"h-{n}" for n in range(100_000)]

    response = roomy_client.post("/v1/maintenance", json={"state": "MAINTENANCE", "hosts": hosts})

    assert response.status_code == 400
    assert error_message(response) == (
        "hosts: 100000 names; a session takes at most 10000 (FENIX_MAX_HOSTS): "
        "split the maintenance into several sessions"
    )
    assert count_rows() == before


def test_duplicate_hosts_in_a_long_list_are_named_in_a_short_message(roomy_client):
    hosts = [f"h-{n % 5000}" for n in range(10_000)]

    response = roomy_client.post("/v1/maintenance", json={"state": "MAINTENANCE", "hosts": hosts})

    assert response.status_code == 400
    message = error_message(response)
    assert message.startswith("hosts: hosts listed more than once: h-0, h-1, h-10, h-100,")
    assert message.endswith("and 4990 more")
    assert len(message) < 300


def test_unknown_hosts_are_named_in_a_short_message(roomy_client):
    hosts = [f"nowhere-{n}" for n in range(5000)]

    response = roomy_client.post("/v1/maintenance", json={"state": "MAINTENANCE", "hosts": hosts})

    assert response.status_code == 404
    message = error_message(response)
    assert "the cloud has no host nowhere-0, nowhere-1," in message
    assert "and 4990 more; its hosts are: compute-1" in message
    assert len(message) < 600
