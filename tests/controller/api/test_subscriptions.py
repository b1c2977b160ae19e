"""Subscriptions: created, listed and deleted; the secret never comes back; the callback URL
held to the callback policy and the subscriptions of a project to its quota."""

from __future__ import annotations

import pytest

from fenix.notify.callbacks import MAX_URL_LENGTH

from .helpers import PROJECT_TOKENS, error_message

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
            # example.com's address: a public IP literal needs no DNS in the test.
            "callback_url": "https://93.184.215.14/hook",
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


@pytest.fixture
def default_policy(runtime):
    """The policy `fenix serve` has by default: no network allowed beyond the public ones
    (the tests' own settings allow loopback, where their managers run)."""
    runtime.settings.callback_allow_networks = []


@pytest.mark.parametrize(
    ("callback_url", "reason"),
    [
        ("http://127.0.0.1:8080/maintenance", "loopback"),
        ("http://2130706433/maintenance", "resolves to 127.0.0.1"),
        ("http://0/maintenance", "unspecified"),
        ("http://localhost:8080/maintenance", "resolves to 127.0.0.1"),
        ("http://[::1]:8080/maintenance", "loopback"),
        ("http://[::ffff:127.0.0.1]/maintenance", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/maintenance", "private"),
        ("http://[fd00::1]/maintenance", "unique local"),
        ("http://no-such-host.invalid/maintenance", "does not resolve"),
        ("http://93.184.215.14/" + "a" * MAX_URL_LENGTH, "the most is 2048"),
    ],
)
@pytest.mark.usefixtures("default_policy")
def test_a_callback_url_that_is_not_public_is_400_and_nothing_is_stored(
    client, client_as, callback_url, reason
):
    member = client_as(PROJECT_TOKENS["project-1"])

    response = member.post("/v1/subscriptions", json={**MANAGER, "callback_url": callback_url})

    assert response.status_code == 400
    message = error_message(response)
    assert message.startswith("callback_url: ")
    assert reason in message
    assert client.get("/v1/subscriptions").get_json()["subscriptions"] == []


@pytest.mark.usefixtures("default_policy")
def test_the_refusal_says_which_setting_allows_a_network(client):
    response = client.post("/v1/subscriptions", json=MANAGER)

    assert response.status_code == 400
    assert "FENIX_CALLBACK_ALLOW_NETWORKS" in error_message(response)


@pytest.mark.usefixtures("default_policy")
def test_infrastructure_subscriptions_are_held_to_the_policy_too(client):
    response = client.post(
        "/v1/subscriptions",
        json={**MANAGER, "project_id": None, "event_types": ["maintenance.host"]},
    )

    assert response.status_code == 400
    assert "loopback" in error_message(response)


@pytest.mark.usefixtures("default_policy")
def test_a_network_the_admin_allows_is_subscribed_to(client, runtime):
    runtime.settings.callback_allow_networks = ["127.0.0.0/8"]

    response = client.post("/v1/subscriptions", json=MANAGER)

    assert response.status_code == 201
    assert response.get_json()["callback_url"] == MANAGER["callback_url"]


def _subscribe(client, project_id, number):
    return client.post(
        "/v1/subscriptions",
        json={
            **MANAGER,
            "project_id": project_id,
            "callback_url": f"{MANAGER['callback_url']}/{number}",
        },
    )


def test_a_project_at_its_quota_of_20_gets_409_saying_what_to_do(client, client_as):
    member = client_as(PROJECT_TOKENS["project-1"])
    created = [_subscribe(member, "project-1", number) for number in range(20)]
    assert [response.status_code for response in created] == [201] * 20

    refused = _subscribe(member, "project-1", 20)

    assert refused.status_code == 409
    message = error_message(refused)
    for words in (
        "project-1 holds 20 subscriptions",
        "(20)",
        "delete one",
        "FENIX_SUBSCRIPTIONS_PER_PROJECT",
    ):
        assert words in message
    listed = member.get("/v1/subscriptions").get_json()["subscriptions"]
    assert len(listed) == 20
    assert _subscribe(client, "project-1", 21).status_code == 409  # the admin too


def test_the_quota_is_per_project_and_infrastructure_subscriptions_do_not_count(
    client, client_as, runtime
):
    runtime.settings.subscriptions_per_project = 2
    for number in range(3):
        infrastructure = _subscribe(client, None, number)
        assert infrastructure.status_code == 201
    first, second = (_subscribe(client, "project-1", number) for number in range(2))
    assert (first.status_code, second.status_code) == (201, 201)

    assert _subscribe(client, "project-1", 2).status_code == 409
    assert _subscribe(client, "project-2", 0).status_code == 201
    assert _subscribe(client, None, 3).status_code == 201


def test_deleting_a_subscription_makes_room_under_the_quota(client, runtime):
    runtime.settings.subscriptions_per_project = 1
    held = _subscribe(client, "project-1", 0).get_json()["subscription_id"]
    assert _subscribe(client, "project-1", 1).status_code == 409

    assert client.delete(f"/v1/subscriptions/{held}").status_code == 200

    assert _subscribe(client, "project-1", 1).status_code == 201
