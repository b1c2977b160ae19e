"""Polls answered in front of Flask while the API is busy: the same answer Flask's path gives,
only for the admin, and Flask for everything it cannot decide.

`runtime` makes the API busy from its first read (FENIX_BUSY_READS=0) with answers good for
longer than a test takes, so a URL read once is then answered without Flask; `quiet_client`
is an app on the same database that answers every read from it, for comparison.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, request

from fenix.runtime import Runtime

from .conftest import runtime_with
from .helpers import PROJECT_TOKENS, error_message


@pytest.fixture
def runtime(database_url: str, sim_url: str) -> Iterator[Runtime]:
    yield from runtime_with(database_url, sim_url, busy_reads=0, busy_read_max_age=10.0)


@pytest.fixture
def through_flask(app: Flask) -> list[str]:
    """The URLs of the requests that reached Flask's hooks."""
    reached: list[str] = []
    app.before_request(lambda: reached.append(request.full_path))
    return reached


@pytest.fixture
def detail(create_session) -> str:
    session_id = create_session(hosts=["compute-1", "compute-2"])
    return f"/v1/maintenance/{session_id}/detail?host_limit=1"


def _headers(response) -> list[tuple[str, str]]:
    return sorted(response.headers.items())


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_url_read_before_is_answered_without_flask_as_flask_answers_it(
    client, quiet_client, through_flask, detail, encoding
):
    asked = {"Accept-Encoding": encoding}
    first = client.get(detail, headers=asked)
    before = len(through_flask)

    again = client.get(detail, headers=asked)
    held = client.get(detail, headers={**asked, "If-None-Match": first.headers["ETag"]})

    assert len(through_flask) == before  # neither reached Flask
    from_flask = quiet_client.get(detail, headers=asked)
    held_by_flask = quiet_client.get(
        detail, headers={**asked, "If-None-Match": first.headers["ETag"]}
    )
    assert (again.status_code, _headers(again), again.data) == (
        200,
        _headers(from_flask),
        from_flask.data,
    )
    assert (held.status_code, _headers(held), held.data) == (
        304,
        _headers(held_by_flask),
        held_by_flask.data,
    )


def test_the_list_is_answered_without_flask_too(client, through_flask, create_session):
    create_session()
    client.get("/v1/maintenance")
    before = len(through_flask)

    listed = client.get("/v1/maintenance")

    assert listed.status_code == 200 and len(listed.get_json()["sessions"]) == 1
    assert len(through_flask) == before


@pytest.mark.parametrize(
    "token, status, message",
    [
        (PROJECT_TOKENS["project-1"], 403, "this is the admin API"),
        (None, 401, "this API needs a token"),
        ("not-a-token", 401, "is not valid"),
    ],
    ids=["member", "no token", "bad token"],
)
def test_only_the_admin_is_answered_without_flask(
    client, client_as, through_flask, detail, token, status, message
):
    client.get(detail)
    client.get(detail)  # answered in front of Flask, so the URL's answer is there

    answer = client_as(token).get(detail)

    assert answer.status_code == status
    assert message in error_message(answer)
    assert through_flask[-1] == detail


def test_a_new_query_string_is_flasks_to_parse(client, through_flask, detail):
    client.get(detail)

    bad = client.get(detail + "&host_offset=-1")

    assert bad.status_code == 400
    assert through_flask[-1] == detail + "&host_offset=-1"


def test_a_write_is_never_answered_in_front_of_flask(client, through_flask, detail):
    client.get(detail)
    session_url = detail.split("/detail")[0]

    updated = client.put(session_url, json={"metadata": {"why": "kernel"}})

    assert updated.status_code == 200
    assert through_flask[-1].startswith(session_url + "?")
    shown = client.get(detail)  # an admin's change shows at once: read by Flask's path
    assert shown.get_json()["metadata"] == {"why": "kernel"}
    assert through_flask[-1] == detail


def test_a_quiet_api_answers_every_read_through_flask(quiet_client, create_session):
    session_id = create_session()
    app = quiet_client.application
    reached: list[str] = []
    app.before_request(lambda: reached.append(request.path))

    for _ in range(3):
        assert quiet_client.get(f"/v1/maintenance/{session_id}").status_code == 200

    assert len(reached) == 3
