"""Every error is the contract's JSON, for bodies that are not JSON and for URLs that are not
ours; and a bad body is never a 500."""

from __future__ import annotations

import pytest

from .helpers import error_message

BODY_ENDPOINTS = [
    ("post", "/v1/maintenance"),
    ("put", "/v1/maintenance/{sid}"),
    ("put", "/v1/maintenance/{sid}/project-1"),
    ("put", "/v1/instance/vm-1"),
    ("put", "/v1/instance_group/g-1"),
    ("post", "/v1/subscriptions"),
]


@pytest.mark.parametrize(("method", "url"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("", "no body"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not an array"),
        ('"text"', "must be a JSON object, not a string"),
        ("null", "must be a JSON object, not null"),
        (b"\xff\xfe\xfa", "not valid JSON"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    client, create_session, ask_project, method, url, data, words
):
    sid = create_session()
    ask_project(sid, "project-1", "MAINTENANCE", ["project-1-vm-1"])

    response = getattr(client, method)(
        url.format(sid=sid), data=data, content_type="application/json"
    )

    assert response.status_code == 400
    assert words in error_message(response)


NOT_JSON_TEXT = [
    ('{"state": "ACK_MAINTENANCE", "metadata": {"x": NaN}}', "NaN is not a JSON number"),
    ('{"state": "ACK_MAINTENANCE", "lead_time": Infinity}', "Infinity is not a JSON number"),
    ('{"state": "ACK_MAINTENANCE", "n": [-Infinity]}', "-Infinity is not a JSON number"),
    ('{"state": "ACK_MAINTENANCE", "note": "a\\ud800b"}', "lone surrogate (\\ud800)"),
    ('{"state": "ACK_MAINTENANCE", "\\udfff": 1}', "lone surrogate (\\udfff)"),
    (
        '{"callback_url": "http://m.example/\\udc00", "state": "ACK_MAINTENANCE"}',
        "lone surrogate",
    ),
]
"""Python's json takes these; JSON does not, and neither database can store them readably."""


@pytest.mark.parametrize(("method", "url"), BODY_ENDPOINTS)
@pytest.mark.parametrize(("data", "words"), NOT_JSON_TEXT)
def test_nan_infinity_and_lone_surrogates_are_400_and_nothing_is_stored(
    client, create_session, ask_project, count_rows, method, url, data, words
):
    sid = create_session()
    ask_project(sid, "project-1", "MAINTENANCE", ["project-1-vm-1"])
    before = count_rows()

    response = getattr(client, method)(
        url.format(sid=sid), data=data, content_type="application/json"
    )

    assert response.status_code == 400
    assert words in error_message(response)
    assert count_rows() == before


def test_a_json_body_without_content_type_is_read_as_fenix_did(client):
    response = client.post("/v1/maintenance", data='{"state": "MAINTENANCE"}')

    assert response.status_code == 200
    assert response.get_json()["session_id"]


def test_unknown_url_is_a_json_404(client):
    response = client.get("/v2/maintenance")

    assert response.status_code == 404
    assert "nothing at /v2/maintenance" in error_message(response)


def test_wrong_method_is_a_json_405_listing_the_allowed_ones(client):
    response = client.patch("/v1/maintenance")

    assert response.status_code == 405
    assert "allowed: GET" in error_message(response)
    assert "POST" in response.headers["Allow"]


def test_a_bug_is_a_json_500_that_does_not_leak_details(client, runtime, monkeypatch):
    def broken() -> list:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(runtime.driver, "list_hosts", broken)

    response = client.post("/v1/maintenance", json={"state": "MAINTENANCE"})

    assert response.status_code == 500
    message = error_message(response)
    assert "secret internals" not in message
    assert "log" in message


# Found by fuzzing on PostgreSQL (test_fuzz.py and a probe after it): its text types cannot
# hold NUL, nor more than a column's 255 characters; both reached the database, a 500 there.
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/v1/maintenance/abc%00def"),
        ("get", "/v1/instance/vm%00x"),
        ("put", "/v1/instance/vm%00x"),
        ("put", "/v1/instance/" + "x" * 256),
        ("put", "/v1/instance_group/" + "g" * 256),
        ("delete", "/v1/subscriptions/" + "s" * 256),
    ],
)
def test_an_id_no_column_can_hold_is_400_not_500(client, method, url):
    response = getattr(client, method)(url, json={"project_id": "project-1"})

    assert response.status_code == 400
    assert "an id is 1 to 255 characters, without NUL" in error_message(response)


def test_an_id_of_255_characters_is_taken(client):
    url = "/v1/instance/" + "x" * 255

    assert client.put(url, json={"project_id": "project-1"}).status_code == 200
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/v1/instance/vm-1", {"project_id": "project\u00001"}, "project_id"),
        ("/v1/instance/vm-1", {"project_id": "project-1", "instance_name": "a\u0000"}, "name"),
        (
            "/v1/subscriptions",
            {
                "event_types": ["maintenance.planned"],
                "callback_url": "http://127.0.0.1:9/hook",
                "secret": "s\u0000",
            },
            "secret",
        ),
        (
            "/v1/subscriptions",
            {"event_types": ["maintenance.planned"], "callback_url": "http://127.0.0.1/\u0000"},
            "callback_url",
        ),
    ],
)
def test_text_holding_nul_is_400_naming_the_field(client, url, body, field):
    method = client.post if url == "/v1/subscriptions" else client.put

    response = method(url, json=body)

    assert response.status_code == 400
    message = error_message(response)
    assert field in message
    assert "NUL" in message or "control character" in message
