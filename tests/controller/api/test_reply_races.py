"""Replies, pauses and constraint writes sent at the same moment, over a real threaded server.

Tacker's plug-in sends each reply twice within milliseconds; a busy manager may send an ACK and
a NACK together. Whatever the backend, of writes that race exactly one is first: the others see
its result (the same reply again is taken and changes nothing, a different one is refused)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from fenix.wsgi import serve_in_thread

from .helpers import ADMIN_TOKEN, PROJECT_TOKENS

VMS = ["project-1-vm-1", "project-1-vm-2"]


@pytest.fixture
def base_url(app) -> Iterator[str]:
    handle = serve_in_thread(app, threads=12, name="fenix-race-test")
    yield handle.url
    handle.stop()


def at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run the calls on threads released together by a barrier; their answers, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def put(url: str, body: dict[str, Any], token: str) -> Callable[[], requests.Response]:
    return lambda: requests.put(url, json=body, headers={"X-Auth-Token": token}, timeout=30)


def events_of(client, session_id: str, kind: str) -> list[dict]:
    events = client.get(f"/v1/maintenance/{session_id}/events?limit=1000").get_json()["events"]
    return [event for event in events if event["kind"] == kind]


@pytest.fixture
def session_id(create_session) -> str:
    return create_session(hosts=["compute-1", "compute-2"])


def test_ten_identical_replies_at_once_are_all_200_and_recorded_once(
    base_url, client, session_id, ask_project
):
    ask_project(session_id, "project-1", "PLANNED_MAINTENANCE", VMS)
    body = {"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {VMS[0]: "MIGRATE"}}
    url = f"{base_url}/v1/maintenance/{session_id}/project-1"

    answers = at_once([put(url, body, PROJECT_TOKENS["project-1"])] * 10)

    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    assert len(events_of(client, session_id, "project.reply")) == 1
    assert events_of(client, session_id, "project.reply.rejected") == []
    project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
    assert (project["reply"], project["instance_actions"]) == (
        "ACK_PLANNED_MAINTENANCE",
        {VMS[0]: "MIGRATE"},
    )


def test_an_ack_and_a_nack_at_once_exactly_one_is_accepted(
    base_url, client, session_id, ask_project
):
    url = f"{base_url}/v1/maintenance/{session_id}/project-1"
    token = PROJECT_TOKENS["project-1"]
    for _attempt in range(5):  # a few rounds, so that the race is really run
        ask_project(session_id, "project-1", "MAINTENANCE", VMS)
        before = len(events_of(client, session_id, "project.reply"))

        ack, nack = at_once(
            [put(url, {"state": "ACK_MAINTENANCE"}, token)]
            + [put(url, {"state": "NACK_MAINTENANCE"}, token)]
        )

        assert sorted([ack.status_code, nack.status_code]) == [200, 409], (ack.text, nack.text)
        winner = "ACK_MAINTENANCE" if ack.status_code == 200 else "NACK_MAINTENANCE"
        loser = nack if ack.status_code == 200 else ack
        assert f"it answered {winner}" in loser.json()["error"]["message"]
        project = client.get(f"/v1/maintenance/{session_id}/detail").get_json()["projects"][0]
        assert project["reply"] == winner
        assert len(events_of(client, session_id, "project.reply")) == before + 1


def test_eight_pauses_at_once_one_is_200_and_seven_409(base_url, client, session_id):
    url = f"{base_url}/v1/maintenance/{session_id}"

    answers = at_once([put(url, {"action": "pause", "reason": "race"}, ADMIN_TOKEN)] * 8)

    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 7, [a.text for a in answers]
    assert len(events_of(client, session_id, "session.paused")) == 1


def test_one_instance_constraint_written_by_many_at_once_holds_one_whole_version(base_url, client):
    url = f"{base_url}/v1/instance/project-1-vm-1"
    token = PROJECT_TOKENS["project-1"]
    bodies = [
        {"project_id": "project-1", "migration_type": kind, "max_interruption_time": seconds}
        for kind, seconds in [("MIGRATE", 10), ("LIVE_MIGRATE", 20)] * 4
    ]

    answers = at_once([put(url, body, token) for body in bodies])

    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    stored = client.get(url.removeprefix(base_url)).get_json()
    assert (stored["migration_type"], stored["max_interruption_time"]) in {
        ("MIGRATE", 10),
        ("LIVE_MIGRATE", 20),
    }
