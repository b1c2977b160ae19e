"""Subscriptions: created, listed and deleted; the secret never comes back."""

from __future__ import annotations

import pytest

from .helpers import error_message

MANAGER = {
    "event_types": ["maintenance.planned"],
    "project_id": "project-1",
    "callback_url": "http://127.0.0.1:8080/maintenance",
    "secret": "s3cret",
}


def test_create_answers_201_with_the_fields_but_not_the_secret(client):
    response = client.post("/v1/subscriptions", json=MANAGER)

    assert response.status_code == 201
    body = response.get_json()
    assert body["subscription_id"]
    assert body["event_types"] == ["maintenance.planned"]
    assert body["project_id"] == "project-1"
    assert body["callback_url"] == MANAGER["callback_url"]
    assert body["format"] == "fenix"
    assert body["has_secret"] is True
    assert "secret" not in body
    assert "s3cret" not in response.get_data(as_text=True)


def test_infrastructure_subscription_in_aodh_format_without_secret(client):
    response = client.post(
        "/v1/subscriptions",
        json={
            "event_types": ["maintenance.host", "maintenance.session", "maintenance.host"],
            "project_id": None,
            "callback_url": "https://billing.example.com/hook",
            "format": "aodh",
        },
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["event_types"] == ["maintenance.host", "maintenance.session"]
    assert body["project_id"] is None
    assert body["format"] == "aodh"
    assert body["has_secret"] is False


def test_list_and_delete(client):
    first = client.post("/v1/subscriptions", json=MANAGER).get_json()["subscription_id"]
    second = client.post(
        "/v1/subscriptions", json={**MANAGER, "event_types": ["maintenance.scheduled"]}
    ).get_json()["subscription_id"]

    listed = client.get("/v1/subscriptions").get_json()["subscriptions"]
    assert [s["subscription_id"] for s in listed] == [first, second]
    assert all("secret" not in s for s in listed)

    assert client.delete(f"/v1/subscriptions/{first}").status_code == 200
    listed = client.get("/v1/subscriptions").get_json()["subscriptions"]
    assert [s["subscription_id"] for s in listed] == [second]
    assert client.get(f"/v1/subscriptions/{second}").get_json()["subscription_id"] == second


def test_delete_unknown_is_404(client):
    response = client.delete("/v1/subscriptions/nope")

    assert response.status_code == 404
    assert "no subscription nope" in error_message(response)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({**MANAGER, "callback_url": "ftp://example.com/x"}, ["callback_url:", "http://"]),
        ({**MANAGER, "callback_url": "example.com/x"}, ["callback_url:"]),
        ({**MANAGER, "callback_url": "http://user:pw@example.com/x"}, ["callback_url:", "user"]),
        ({**MANAGER, "callback_url": 5}, ["callback_url:", "valid string"]),
        ({**MANAGER, "event_types": []}, ["event_types:", "at least 1"]),
        ({**MANAGER, "event_types": ["maintenance.soon"]}, ["event_types.0:"]),
        ({**MANAGER, "event_types": "maintenance.planned"}, ["event_types:", "valid list"]),
        ({**MANAGER, "format": "xml"}, ["format:", "'fenix'"]),
        ({**MANAGER, "secret": ""}, ["secret:"]),
        ({**MANAGER, "callback": "http://x/"}, ["callback: unknown field"]),
        ({"project_id": "project-1"}, ["event_types: Field required", "callback_url: Field"]),
    ],
)
def test_bad_subscriptions_are_400_naming_the_field(client, body, words):
    response = client.post("/v1/subscriptions", json=body)

    assert response.status_code == 400
    message = error_message(response)
    for word in words:
        assert word in message
    assert client.get("/v1/subscriptions").get_json()["subscriptions"] == []
