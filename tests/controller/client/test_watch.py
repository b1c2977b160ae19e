"""`follow` (fenix session watch) over real HTTP: conditional polls answered 304 while nothing
changed, the last detail shown again, and every event shown once, read a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request

from fenix.client.http import FenixClient
from fenix.client.watch import follow
from fenix.wsgi import serve_in_thread
from tests.controller.api.helpers import ADMIN_TOKEN


@pytest.fixture
def seen(app: Flask) -> list[tuple[str, int, str | None]]:
    """What the server answered: (read, status, If-None-Match sent)."""
    answers: list[tuple[str, int, str | None]] = []

    @app.after_request
    def note(response):
        read = request.path.rsplit("/", 1)[-1]
        answers.append((read, response.status_code, request.headers.get("If-None-Match")))
        return response

    return answers


@pytest.fixture
def fenix(app: Flask, seen) -> Iterator[FenixClient]:
    handle = serve_in_thread(app, name="fenix-watch-test")
    with FenixClient(handle.url, token=ADMIN_TOKEN) as http:
        yield http
    handle.stop()


def test_follow_polls_conditionally_and_reuses_the_last_detail(
    fenix, create_session, runtime, seen
):
    session_id = create_session(hosts=["compute-1"])
    shown: list[tuple[str, str, list[str]]] = []

    def on_update(detail: dict[str, Any], events: list[dict[str, Any]]) -> None:
        shown.append((detail["state"], detail["hosts"][0]["state"], [e["kind"] for e in events]))
        with runtime.db.transaction() as repo:
            session = repo.get_session(session_id)
            if len(shown) == 2:
                repo.set_host_state(session.hosts[0], "PREPARING")
            elif len(shown) == 5:
                repo.set_session_state(session, "MAINTENANCE_DONE")

    outcome = follow(fenix, session_id, on_update, interval=0)

    assert outcome.detail["state"] == "MAINTENANCE_DONE"
    assert [(state, host) for state, host, _ in shown] == [
        ("MAINTENANCE", "PENDING"),
        ("MAINTENANCE", "PENDING"),  # 304: the first detail again
        ("MAINTENANCE", "PREPARING"),
        ("MAINTENANCE", "PREPARING"),
        ("MAINTENANCE", "PREPARING"),
        ("MAINTENANCE_DONE", "PREPARING"),
    ]
    every_event = [kind for _, _, kinds in shown for kind in kinds]
    assert every_event.count("session.created") == 1
    assert every_event.count("host.state") == 1
    assert every_event[-1] == "session.state"

    details = [(status, sent is not None) for read, status, sent in seen if read == "detail"]
    assert details == [
        (200, False),
        (304, True),
        (200, True),
        (304, True),
        (304, True),
        (200, True),
    ]
    # A page that moved `since` is asked for afresh; a poll after an empty one gets a 304.
    events = [status for read, status, _ in seen if read == "events"]
    assert events == [200, 200, 200, 200, 304, 200, 200]


def test_events_are_read_page_by_page(fenix, create_session, runtime):
    session_id = create_session(hosts=["compute-1"])
    with runtime.db.transaction() as repo:
        for n in range(2500):
            repo.add_event(session_id, "test.event", subject=str(n))

    events = fenix.events(session_id)

    subjects = [e["subject"] for e in events if e["kind"] == "test.event"]
    assert subjects == [str(n) for n in range(2500)]
    assert len({e["id"] for e in events}) == len(events)
