"""How callers are authenticated: static tokens, a tokens file, Keystone, or open on loopback."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from pydantic import ValidationError

from fenix.api.auth import AuthConfigError
from fenix.app import create_app
from fenix.config import Settings, TokenGrant
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.wsgi import serve_in_thread

from .helpers import error_message

SPOOFED_ADMIN = {"X-Identity-Status": "Confirmed", "X-Roles": "admin", "X-Project-Id": "x"}


@pytest.fixture
def make_client(database_url, sim_url) -> Iterator[Callable[..., FlaskClient]]:
    """A test client of an app built with these settings (the engine off)."""
    runtimes: list[Runtime] = []

    def make(**settings) -> FlaskClient:
        values = {"database_url": database_url, "run_engine": False}
        runtime = Runtime(Settings(**{**values, **settings}), driver=SimulatedDriver(sim_url))
        runtimes.append(runtime)
        return create_app(runtime).test_client()

    yield make
    for runtime in runtimes:
        runtime.stop()


# -- open, on loopback only ------------------------------------------------------------------
def test_without_tokens_on_loopback_everyone_is_the_admin_and_it_is_logged(make_client, caplog):
    with caplog.at_level(logging.WARNING, logger="fenix.api.auth"):
        client = make_client()

    assert client.get("/v1/maintenance").status_code == 200
    assert any("NO AUTHENTICATION" in record.message for record in caplog.records)


CREATE = {"hosts": ["compute-1"], "state": "MAINTENANCE"}


def test_without_tokens_a_cross_site_text_plain_post_is_refused_over_a_socket(
    database_url, sim_url
):
    runtime = Runtime(
        Settings(database_url=database_url, run_engine=False), driver=SimulatedDriver(sim_url)
    )
    server = serve_in_thread(create_app(runtime))
    try:
        # What a form on another site sends: no preflight, the JSON hidden in text/plain.
        forged = requests.post(
            f"{server.url}/v1/maintenance",
            data=json.dumps(CREATE),
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
            timeout=5,
        )
        plain = requests.post(
            f"{server.url}/v1/maintenance",
            data=json.dumps(CREATE),
            headers={"Content-Type": "text/plain"},
            timeout=5,
        )
        listed = requests.get(f"{server.url}/v1/maintenance", timeout=5).json()
    finally:
        server.stop()
        runtime.stop()

    assert forged.status_code == 403
    assert "https://evil.example" in forged.json()["error"]["message"]
    assert plain.status_code == 415
    assert "Content-Type: application/json" in plain.json()["error"]["message"]
    assert listed["sessions"] == []


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:12347", "10.0.0.5", "127.0.0.1.evil.example"]
)
def test_without_tokens_a_host_that_is_not_loopback_is_refused(make_client, host):
    client = make_client()

    answer = client.get("/v1/maintenance", headers={"Host": host})
    page = client.get("/ui/", headers={"Host": host})

    assert answer.status_code == 400
    assert "not this machine" in error_message(answer)
    assert page.status_code == 400


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:12347", "[::1]:12347", "127.0.0.2"])
def test_without_tokens_loopback_hosts_are_answered(make_client, host):
    assert make_client().get("/v1/maintenance", headers={"Host": host}).status_code == 200


def test_without_tokens_only_the_controllers_own_origin_may_call(make_client):
    client = make_client()

    own = client.post("/v1/maintenance", json=CREATE, headers={"Origin": "http://localhost"})
    other_port = client.get("/v1/maintenance", headers={"Origin": "http://localhost:8000"})
    null = client.get("/v1/maintenance", headers={"Origin": "null"})

    assert own.status_code == 200, own.get_json()
    assert other_port.status_code == 403
    assert null.status_code == 403


def test_with_tokens_a_body_without_a_json_content_type_is_still_read(make_client):
    # Managers built for Fenix may send none; a page cannot know a token.
    client = make_client(tokens={"t": {"role": "admin"}})

    answer = client.post(
        "/v1/maintenance",
        data=json.dumps(CREATE),
        headers={"X-Auth-Token": "t", "Content-Type": "text/plain"},
    )

    assert answer.status_code == 200, answer.get_json()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "controller.example.com"])
def test_without_tokens_anywhere_but_loopback_the_app_is_refused(make_client, host):
    with pytest.raises(AuthConfigError, match="FENIX_TOKENS"):
        make_client(bind_host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_are_recognised(host):
    assert Settings(bind_host=host).binds_loopback_only()


def test_with_tokens_any_address_is_fine(make_client):
    client = make_client(bind_host="0.0.0.0", tokens={"t": {"role": "admin"}})

    assert client.get("/v1/maintenance").status_code == 401
    assert client.get("/v1/maintenance", headers={"X-Auth-Token": "t"}).status_code == 200


# -- static tokens ---------------------------------------------------------------------------
def test_tokens_come_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv(
        "FENIX_TOKENS",
        json.dumps({"a": {"role": "admin"}, "p": {"role": "member", "project": "project-1"}}),
    )

    assert Settings().tokens == {
        "a": TokenGrant(role="admin"),
        "p": TokenGrant(role="member", project="project-1"),
    }


@pytest.mark.parametrize(
    ("grant", "words"),
    [
        ({"role": "member"}, "needs a"),
        ({"role": "admin", "project": "project-1"}, "has no"),
        ({"role": "owner"}, "role"),
    ],
)
def test_a_token_grant_must_make_sense(grant, words):
    with pytest.raises(ValidationError, match=words):
        TokenGrant.model_validate(grant)


def test_tokens_file_adds_tokens(make_client, tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"from-file": {"role": "member", "project": "project-1"}}))
    client = make_client(tokens={"admin": {"role": "admin"}}, tokens_file=str(path))

    member = {"X-Auth-Token": "from-file"}
    assert client.get("/v1/maintenance", headers=member).status_code == 403
    assert client.get("/v1/subscriptions", headers=member).status_code == 200
    assert client.get("/v1/maintenance", headers={"X-Auth-Token": "admin"}).status_code == 200


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read"),
        ("not json", "not a JSON object"),
        ('{"t": {"role": "member"}}', "needs a"),
    ],
)
def test_a_bad_tokens_file_says_what_is_wrong(make_client, tmp_path, content, words):
    path = tmp_path / "tokens.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(AuthConfigError, match=words):
        make_client(tokens_file=str(path))


def test_identity_headers_sent_by_a_caller_count_for_nothing(make_client):
    client = make_client(tokens={"p1": {"role": "member", "project": "project-1"}})

    assert client.get("/v1/maintenance", headers=SPOOFED_ADMIN).status_code == 401
    as_member = client.get("/v1/maintenance", headers={**SPOOFED_ADMIN, "X-Auth-Token": "p1"})
    assert as_member.status_code == 403
    assert "project project-1" in error_message(as_member)


# -- Keystone through keystonemiddleware's auth_token -------------------------------------------
def _keystone_token(project: str, roles: list[str]) -> dict[str, Any]:
    """A Keystone v3 token validation answer, as the identity service gives it."""
    domain = {"id": "default", "name": "Default"}
    return {
        "token": {
            "methods": ["password"],
            "issued_at": "2020-01-01T00:00:00.000000Z",
            "expires_at": "2999-01-01T00:00:00.000000Z",
            "user": {"id": f"{project}-user", "name": f"{project}-user", "domain": domain},
            "project": {"id": project, "name": project, "domain": domain},
            "roles": [{"id": f"{role}-id", "name": role} for role in roles],
            "catalog": [],
        }
    }


@pytest.fixture
def keystone_tokens(monkeypatch) -> dict[str, dict[str, Any]]:
    """Tokens the real auth_token middleware accepts: its validation call answers from here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eventlet's deprecation, on import
        from keystonemiddleware import auth_token
        from keystonemiddleware.auth_token import _exceptions

    tokens = {
        "ks-admin": _keystone_token("admin-project", ["admin"]),
        "ks-project-1": _keystone_token("project-1", ["member", "reader"]),
        "ks-project-2": _keystone_token("project-2", ["member"]),
    }

    def fetch_token(self, token, **kwargs):
        if token not in tokens:
            raise _exceptions.InvalidToken()
        return tokens[token]

    monkeypatch.setattr(auth_token.AuthProtocol, "fetch_token", fetch_token)
    return tokens


@pytest.fixture
def keystone_client(make_client, keystone_tokens) -> FlaskClient:
    return make_client(
        auth_strategy="keystone",
        bind_host="0.0.0.0",
        keystone={
            "www_authenticate_uri": "http://127.0.0.1:9/identity",
            "auth_url": "http://127.0.0.1:9/identity",
        },
    )


def test_keystone_admin_role_is_the_admin(keystone_client):
    response = keystone_client.get("/v1/maintenance", headers={"X-Auth-Token": "ks-admin"})

    assert response.status_code == 200


def test_keystone_project_token_is_a_member_of_its_project(keystone_client):
    member = {"X-Auth-Token": "ks-project-1"}
    body = {
        "event_types": ["maintenance.planned"],
        "callback_url": "http://127.0.0.1:9/hook",
    }

    assert keystone_client.get("/v1/maintenance", headers=member).status_code == 403
    own = keystone_client.post(
        "/v1/subscriptions", headers=member, json={**body, "project_id": "project-1"}
    )
    assert own.status_code == 201
    other = keystone_client.post(
        "/v1/subscriptions", headers=member, json={**body, "project_id": "project-2"}
    )
    assert other.status_code == 403
    subscription = own.get_json()["subscription_id"]
    stranger = {"X-Auth-Token": "ks-project-2"}
    seen = keystone_client.get(f"/v1/subscriptions/{subscription}", headers=stranger)
    assert seen.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Auth-Token": "not-a-keystone-token"}, SPOOFED_ADMIN],
    ids=["no token", "invalid token", "spoofed identity headers"],
)
def test_keystone_without_a_valid_token_is_401_in_the_contract_shape(keystone_client, headers):
    response = keystone_client.get("/v1/maintenance", headers=headers)

    assert response.status_code == 401
    assert "Keystone token" in error_message(response)


@pytest.mark.parametrize(
    "headers", [{"X-Auth-Token": "ks-project-1"}, SPOOFED_ADMIN], ids=["member", "spoofed"]
)
def test_keystone_checks_each_poll_a_busy_api_answers_in_front_of_flask(
    make_client, keystone_tokens, headers
):
    # Busy from the first read: the admin's second poll of the list is answered in front of
    # Flask (fenix.api.fast_reads), which keystonemiddleware still wraps.
    client = make_client(
        auth_strategy="keystone",
        bind_host="0.0.0.0",
        keystone={"www_authenticate_uri": "http://127.0.0.1:9/identity"},
        busy_reads=0,
        busy_read_max_age=10,
    )
    admin = {"X-Auth-Token": "ks-admin"}
    assert [client.get("/v1/maintenance", headers=admin).status_code for _ in "ab"] == [200, 200]

    response = client.get("/v1/maintenance", headers=headers)

    assert response.status_code in (401, 403)
    assert "sessions" not in response.get_json()


def test_fenix_serve_refuses_to_listen_openly_without_tokens(tmp_path, sim_url, capsys):
    from fenix.cli import main

    code = main(
        [
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--sim-url",
            sim_url,
            "--db",
            f"sqlite:///{tmp_path / 'fenix.db'}",
        ]
    )

    assert code == 2
    assert "FENIX_TOKENS" in capsys.readouterr().err
