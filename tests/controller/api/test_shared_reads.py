"""Session reads while the API is busy: the newest answer of its kind, if recent enough, is
given again instead of a new one; an admin's own change always shows at once.

`runtime` here makes every process busy from its first read (FENIX_BUSY_READS=0), so that
the test client's few requests take the busy path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from fenix.api import sessions
from fenix.api.reads import WHOLE_DETAIL
from fenix.api.shared_reads import _ANSWERS
from fenix.api.views import session_detail
from fenix.runtime import Runtime

from .conftest import runtime_with

MAX_AGE = 0.6


@pytest.fixture
def runtime(database_url: str, sim_url: str) -> Iterator[Runtime]:
    yield from runtime_with(database_url, sim_url, busy_reads=0, busy_read_max_age=MAX_AGE)


@pytest.fixture
def session_id(create_session) -> str:
    return create_session(hosts=["compute-1", "compute-2"])


def _detail(session_id: str) -> str:
    return f"/v1/maintenance/{session_id}/detail"


def _engine_sets_a_host_state(runtime, session_id: str, state: str) -> None:
    with runtime.db.transaction() as repo:
        repo.set_host_state(repo.get_session(session_id).hosts[1], state)


def test_a_busy_api_gives_the_recent_answer_and_a_304_to_its_holder(client, runtime, session_id):
    first = client.get(_detail(session_id))
    _engine_sets_a_host_state(runtime, session_id, "PREPARING")

    again = client.get(_detail(session_id))
    held = client.get(_detail(session_id), headers={"If-None-Match": first.headers["ETag"]})

    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.get_json()["hosts"][1]["state"] != "PREPARING"
    assert held.status_code == 304


def test_an_answer_half_max_age_old_is_read_again(client, runtime, session_id):
    first = client.get(_detail(session_id))
    _engine_sets_a_host_state(runtime, session_id, "PREPARING")
    time.sleep(MAX_AGE / 2 + 0.05)

    again = client.get(_detail(session_id), headers={"If-None-Match": first.headers["ETag"]})

    assert again.status_code == 200
    assert again.get_json()["hosts"][1]["state"] == "PREPARING"


def test_while_one_request_reads_a_newer_answer_the_others_get_the_recent_one(
    app, client, runtime, session_id
):
    first = client.get(_detail(session_id))
    _engine_sets_a_host_state(runtime, session_id, "PREPARING")
    time.sleep(MAX_AGE / 2 + 0.05)
    kind = ("detail", session_id, WHOLE_DETAIL.key())
    refreshing = app.extensions[_ANSWERS].refreshing(kind)
    assert refreshing.acquire(blocking=False)  # as a request reading the newer one holds it
    try:
        started = time.monotonic()
        meanwhile = client.get(_detail(session_id))
        waited = time.monotonic() - started
    finally:
        refreshing.release()

    assert meanwhile.headers["ETag"] == first.headers["ETag"]
    assert waited < MAX_AGE, "a poll waited for another's read though a recent answer existed"


def test_an_answer_is_never_given_past_max_age(client, runtime, session_id):
    client.get(_detail(session_id))
    _engine_sets_a_host_state(runtime, session_id, "PREPARING")
    time.sleep(MAX_AGE + 0.05)

    assert client.get(_detail(session_id)).get_json()["hosts"][1]["state"] == "PREPARING"


def test_an_admins_change_shows_at_once(client, session_id):
    first = client.get(_detail(session_id))

    client.put(f"/v1/maintenance/{session_id}", json={"metadata": {"seen": True}})
    again = client.get(_detail(session_id), headers={"If-None-Match": first.headers["ETag"]})

    assert again.status_code == 200
    assert again.get_json()["metadata"] == {"seen": True}


def test_a_deleted_session_is_404_at_once(client, session_id):
    client.get(_detail(session_id))
    client.get(f"/v1/maintenance/{session_id}")

    assert client.delete(f"/v1/maintenance/{session_id}").status_code == 200

    assert client.get(_detail(session_id)).status_code == 404
    assert client.get(f"/v1/maintenance/{session_id}").status_code == 404


def test_a_created_session_is_listed_at_once(client, create_session):
    before = client.get("/v1/maintenance")

    session_id = create_session(hosts=["compute-3"])
    after = client.get("/v1/maintenance", headers={"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200
    assert after.get_json()["sessions"] == [session_id]


def test_many_pollers_of_a_changing_session_build_each_kind_a_few_times(
    app, client, runtime, session_id, monkeypatch
):
    builds: list[float] = []

    def counted(*args, **kwargs):
        builds.append(time.monotonic())
        return session_detail(*args, **kwargs)

    monkeypatch.setattr(sessions, "session_detail", counted)

    stop = threading.Event()

    def engine() -> None:
        states = ("PREPARING", "IN_MAINTENANCE")
        turn = 0
        while not stop.is_set():
            _engine_sets_a_host_state(runtime, session_id, states[turn % 2])
            turn += 1
            time.sleep(0.01)

    def poll(answers: list[int]) -> None:
        mine = app.test_client()
        mine.environ_base["HTTP_X_AUTH_TOKEN"] = client.environ_base["HTTP_X_AUTH_TOKEN"]
        tag = None
        while not stop.is_set():
            headers = {"If-None-Match": tag} if tag else {}
            response = mine.get(_detail(session_id), headers=headers)
            tag = response.headers["ETag"]
            answers.append(response.status_code)

    answered: list[list[int]] = [[] for _ in range(6)]
    workers = [threading.Thread(target=engine)]
    workers += [threading.Thread(target=poll, args=(mine,)) for mine in answered]
    try:
        for worker in workers:
            worker.start()
        time.sleep(2.0)
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)

    polls = sum(len(mine) for mine in answered)
    assert polls > 40, f"only {polls} polls in 2 s"
    # A new answer at most every MAX_AGE / 2 seconds, however often the session changed.
    assert len(builds) <= 2.0 / (MAX_AGE / 2) + 2, f"{len(builds)} builds for {polls} polls"
    assert all(status in (200, 304) for mine in answered for status in mine)
