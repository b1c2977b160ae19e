"""ETags and 304 Not Modified on the session reads: the list, a session, its detail, its events.

A poll whose If-None-Match still matches is answered from the session's change counter alone:
these tests count the SQL statements a 304 makes and check none reads a host or an instance.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import event

from fenix.wsgi import serve_in_thread
from tests.controller.live import wait_until

from .helpers import ADMIN_TOKEN, error_message

READS = ["", "/detail", "/events"]


def _url(session_id: str, suffix: str) -> str:
    return f"/v1/maintenance/{session_id}{suffix}"


@pytest.fixture
def session_id(create_session) -> str:
    return create_session(hosts=["compute-1", "compute-2"])


@pytest.fixture
def big_session_id(create_session) -> str:
    """A session whose detail is well over GZIP_FROM_BYTES (a small one is sent plain)."""
    return create_session(
        hosts=["compute-1", "compute-2", "compute-3"], metadata={"note": "n" * 2048}
    )


@pytest.fixture
def statements(runtime) -> Iterator[list[str]]:
    """Every SQL statement the database runs while the test does."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", note)
    yield seen
    event.remove(runtime.db.engine, "before_cursor_execute", note)


@pytest.mark.parametrize("suffix", READS)
def test_a_read_carries_a_strong_etag_and_asks_to_be_revalidated(client, session_id, suffix):
    response = client.get(_url(session_id, suffix))

    assert response.status_code == 200
    tag, weak = response.get_etag()
    assert tag and not weak
    assert response.headers["ETag"] == f'"{tag}"'
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert client.get(_url(session_id, suffix)).headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize("suffix", READS)
def test_a_matching_if_none_match_gets_304_with_no_body(client, session_id, suffix):
    tag = client.get(_url(session_id, suffix)).headers["ETag"]

    response = client.get(_url(session_id, suffix), headers={"If-None-Match": tag})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == tag


@pytest.mark.parametrize(
    "header",
    ["*", '"other", {tag}', "W/{tag}", '"other"'],
    ids=["star", "list", "weak", "other"],
)
def test_if_none_match_forms(client, session_id, header):
    tag = client.get(_url(session_id, "/detail")).headers["ETag"]

    response = client.get(
        _url(session_id, "/detail"), headers={"If-None-Match": header.format(tag=tag)}
    )

    assert response.status_code == (200 if header == '"other"' else 304)


def test_the_list_answers_304_until_a_session_is_created_or_deleted(client, create_session):
    first = client.get("/v1/maintenance")
    tag = first.headers["ETag"]
    assert client.get("/v1/maintenance", headers={"If-None-Match": tag}).status_code == 304

    session_id = create_session()
    created = client.get("/v1/maintenance", headers={"If-None-Match": tag})
    assert created.status_code == 200
    assert created.get_json()["sessions"] == [session_id]

    client.delete(_url(session_id, ""))
    deleted = client.get("/v1/maintenance", headers={"If-None-Match": created.headers["ETag"]})
    assert deleted.status_code == 200
    assert deleted.get_json()["sessions"] == []
    assert deleted.headers["ETag"] != created.headers["ETag"]


def _tags(client, session_id: str) -> dict[str, str]:
    return {suffix: client.get(_url(session_id, suffix)).headers["ETag"] for suffix in READS}


def _changed(client, session_id: str, before: dict[str, str]) -> list[str]:
    """The reads that answer 200 again to their old tag (each must)."""
    return [
        suffix
        for suffix, tag in before.items()
        if client.get(_url(session_id, suffix), headers={"If-None-Match": tag}).status_code == 200
    ]


def test_a_put_changes_every_tag(client, session_id):
    before = _tags(client, session_id)

    client.put(_url(session_id, ""), json={"metadata": {"x": 1}})

    assert _changed(client, session_id, before) == READS


def test_a_host_state_written_by_the_engine_changes_every_tag(client, runtime, session_id):
    before = _tags(client, session_id)

    with runtime.db.transaction() as repo:
        host = repo.get_session(session_id).hosts[1]
        repo.set_host_state(host, "PREPARING")

    assert _changed(client, session_id, before) == READS
    assert client.get(_url(session_id, "/detail")).get_json()["hosts"][1]["state"] == "PREPARING"


def test_a_project_reply_changes_the_detail(client_as, client, ask_project, session_id):
    ask_project(session_id, "project-1", "MAINTENANCE", ["project-1-vm-1"])
    tag = client.get(_url(session_id, "/detail")).headers["ETag"]

    reply = client_as("project-1-token").put(
        f"/v1/maintenance/{session_id}/project-1", json={"state": "ACK_MAINTENANCE"}
    )
    assert reply.status_code == 200

    again = client.get(_url(session_id, "/detail"), headers={"If-None-Match": tag})
    assert again.status_code == 200
    assert again.get_json()["projects"][0]["reply"] == "ACK_MAINTENANCE"


def test_a_read_leaves_the_tags_as_they_are(client, session_id):
    before = _tags(client, session_id)
    client.get(_url(session_id, "/detail"))
    client.get(f"/v1/maintenance/{session_id}/project-1")

    assert _changed(client, session_id, before) == []


def test_answers_of_another_shape_have_other_tags(client, session_id):
    tags = {
        client.get(_url(session_id, "/detail") + query).headers["ETag"]
        for query in ["", "?parts=hosts", "?parts=hosts&host_limit=1", "?parts=projects"]
    }
    events = {
        client.get(_url(session_id, "/events") + query).headers["ETag"]
        for query in ["", "?since=1", "?limit=1"]
    }

    assert len(tags) == 4
    assert len(events) == 3


def test_a_304_is_decided_without_reading_hosts_or_instances(client, session_id, statements):
    tag = client.get(_url(session_id, "/detail")).headers["ETag"]
    assert any("session_hosts" in s for s in statements)
    statements.clear()

    response = client.get(_url(session_id, "/detail"), headers={"If-None-Match": tag})

    assert response.status_code == 304
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, reads
    assert not any(
        table in s for s in statements for table in ("session_hosts", "session_instances", "outbox")
    )


@pytest.mark.parametrize("suffix", READS)
def test_a_deleted_or_unknown_session_is_404_whatever_the_tag(client, session_id, suffix):
    tag = client.get(_url(session_id, suffix)).headers["ETag"]
    client.delete(_url(session_id, ""))

    gone = client.get(_url(session_id, suffix), headers={"If-None-Match": tag})
    unknown = client.get(_url("no-such-session", suffix), headers={"If-None-Match": "*"})

    # The event log stays readable after the delete; its tag moved with the delete's event.
    assert gone.status_code == (200 if suffix == "/events" else 404)
    assert unknown.status_code == 404
    assert "no maintenance session" in error_message(unknown)


def test_conditional_reads_over_http(app, big_session_id):
    session_id = big_session_id
    handle = serve_in_thread(app, name="fenix-conditional-test")
    try:
        http = requests.Session()
        http.headers["X-Auth-Token"] = ADMIN_TOKEN
        url = f"{handle.url}/v1/maintenance/{session_id}/detail"
        first = http.get(url, timeout=10)
        second = http.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    finally:
        handle.stop()

    assert first.status_code == 200 and first.json()["session_id"] == session_id
    assert second.status_code == 304
    assert second.content == b""
    assert second.headers["ETag"] == first.headers["ETag"]
    # requests accepts gzip, as browsers do: the detail came gzipped, under a tag of its own.
    assert first.headers["Content-Encoding"] == "gzip"
    assert first.headers["ETag"].endswith('-gzip"')


# -- the answers shared by every request of the process ----------------------------------------
def test_clients_without_a_tag_share_one_build_of_each_version(client, session_id, statements):
    first = client.get(_url(session_id, "/detail"))
    statements.clear()
    again = client.get(_url(session_id, "/detail"))
    assert again.status_code == 200
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert not [s for s in statements if "session_hosts" in s or "session_instances" in s], (
        "a version already built was read from the hosts and instances again"
    )


def test_a_new_version_is_built_anew(client, runtime, session_id):
    first = client.get(_url(session_id, "/detail"))
    client.put(_url(session_id, ""), json={"metadata": {"changed": True}})
    second = client.get(_url(session_id, "/detail"))
    assert second.headers["ETag"] != first.headers["ETag"]
    assert second.get_json()["metadata"] == {"changed": True}


def test_misses_together_build_once(app):
    from fenix.api.conditional import AnswerCache

    cache = AnswerCache()
    builds: list[int] = []
    gate = threading.Event()

    def build() -> dict:
        builds.append(1)
        gate.wait(5)
        return {"built": len(builds)}

    answers: list = []

    def ask() -> None:
        with app.test_request_context():
            answers.append(cache.answer("t1", build).get_data())

    workers = [threading.Thread(target=ask) for _ in range(8)]
    for worker in workers:
        worker.start()
    wait_until(lambda: builds, what="the first build under way")
    gate.set()
    for worker in workers:
        worker.join(10)
    assert len(builds) == 1
    assert len(answers) == 8 and len(set(answers)) == 1
    assert json.loads(answers[0]) == {"built": 1}


def test_the_oldest_answers_go_first_past_the_size_limit(app):
    from fenix.api.conditional import AnswerCache

    cache = AnswerCache(max_bytes=100)
    with app.test_request_context():
        for name in ("a", "b", "c"):
            cache.answer(name, lambda name=name: {"pad": name * 30})
        rebuilt = []
        cache.answer("c", lambda: rebuilt.append("c") or {})
        cache.answer("a", lambda: rebuilt.append("a") or {"pad": "a" * 30})
    assert rebuilt == ["a"], "the newest answer was dropped, or the oldest kept"


# -- gzip ------------------------------------------------------------------------------------
def test_a_client_accepting_gzip_gets_the_same_answer_gzipped_under_its_own_tag(
    client, big_session_id
):
    session_id = big_session_id
    plain = client.get(_url(session_id, "/detail"))
    zipped = client.get(_url(session_id, "/detail"), headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert (
        "Accept-Encoding" in zipped.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    )
    assert json.loads(gzip.decompress(zipped.data)) == plain.get_json()
    assert len(zipped.data) < len(plain.data)
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'


@pytest.mark.parametrize("accept", ["gzip", ""])
def test_either_representations_tag_is_revalidated(client, big_session_id, accept):
    session_id = big_session_id
    headers = {"Accept-Encoding": accept}
    held = client.get(_url(session_id, "/detail"), headers=headers).headers["ETag"]
    again = client.get(_url(session_id, "/detail"), headers={**headers, "If-None-Match": held})
    assert again.status_code == 304 and again.headers["ETag"] == held


def test_a_client_refusing_gzip_or_a_small_answer_gets_it_plain(client, big_session_id):
    refused = client.get(_url(big_session_id, "/detail"), headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and refused.get_json()["session_id"]
    small = client.get("/v1/maintenance", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers and small.get_json()["sessions"]


@pytest.mark.parametrize(
    "body",
    [
        {"b": [1, 2.5, None, True], "a": {"ü": "naïve ✓", "z": {}}},
        {"huge": 2**70, "small": 1},  # beyond orjson's 64 bits: Flask's encoder takes it
        {"when": datetime(2026, 12, 4, tzinfo=UTC)},  # rendered as jsonify renders it
    ],
)
def test_answers_are_encoded_as_jsonify_would(app, body):
    from fenix.api.conditional import encode_json

    with app.test_request_context():
        encoded = encode_json(body)
        expected = app.json.response(body).get_data()
    assert json.loads(encoded) == json.loads(expected)
    assert encoded.endswith(b"\n")
    assert list(json.loads(encoded)) == list(json.loads(expected)), "keys in another order"
