"""While the API is busy, polls step aside for the requests that move a maintenance on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask, request

from fenix.api.replies_first import RepliesFirst
from fenix.runtime import Runtime

from .conftest import runtime_with


def test_a_poll_waits_until_the_request_in_flight_ends():
    gate = RepliesFirst(max_step_aside=5.0)
    gate.started()
    polled = threading.Event()

    def poll() -> None:
        gate.step_aside()
        polled.set()

    threading.Thread(target=poll).start()
    assert not polled.wait(0.2)

    gate.ended()
    assert polled.wait(2.0)


def test_a_poll_waits_no_longer_than_the_most_it_may():
    gate = RepliesFirst(max_step_aside=0.1)
    gate.started()  # and never ends

    started = time.monotonic()
    gate.step_aside()

    assert 0.09 <= time.monotonic() - started < 2.0


def test_with_nothing_in_flight_a_poll_goes_at_once():
    gate = RepliesFirst(max_step_aside=5.0)
    gate.started()
    gate.ended()

    started = time.monotonic()
    gate.step_aside()

    assert time.monotonic() - started < 1.0


@pytest.fixture
def runtime(database_url: str, sim_url: str) -> Iterator[Runtime]:
    yield from runtime_with(database_url, sim_url, busy_reads=0, busy_read_max_age=10.0)


def test_a_write_and_a_first_read_are_in_flight_and_a_poll_is_not(
    app: Flask, client, create_session
):
    gate = app.wsgi_app.replies_first
    seen: dict[str, int] = {}
    app.before_request(lambda: seen.__setitem__(f"{request.method} {request.path}", gate.in_flight))
    session_id = create_session()
    url = f"/v1/maintenance/{session_id}"

    client.get(url)  # the first read of the URL: not yet known as a poll
    first_read = seen[f"GET {url}"]
    client.put(url, json={"metadata": {"why": "kernel"}})
    client.get(url)  # an admin's change: read again by Flask, as a poll now
    polled = seen[f"GET {url}"]

    assert seen["POST /v1/maintenance"] == 1
    assert first_read == 1
    assert seen[f"PUT {url}"] == 1
    assert polled == 0
    assert gate.in_flight == 0
