"""The access table: every endpoint with no token, a wrong token, another project's, the right one.

The admin API is the admin's: a project's token gets 403 before any session is looked up.
The project API, constraints and subscriptions belong to a project: another project's token
gets 404 for what that project owns, as if it did not exist, or 403 when its own body names a
project not its own. A refused request changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from fenix.app import create_app
from fenix.db import models
from fenix.timeutil import utcnow

from .helpers import ADMIN_TOKEN, PROJECT_TOKENS, SAMPLE_CREATE, error_message

OWNER = "project-1"
OTHER = "project-2"
VM = "project-1-vm-1"
GROUP = "project-1-group"

INSTANCE_BODY = {"project_id": OWNER, "migration_type": "LIVE_MIGRATE"}
GROUP_BODY = {"project_id": OWNER, "max_impacted_members": 1}
SUBSCRIPTION_BODY = {
    "event_types": ["maintenance.planned"],
    "project_id": OWNER,
    "callback_url": "http://127.0.0.1:9/maintenance",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """With {session} and {subscription} filled in from the test's world."""
    owner: str
    """"admin", or the project whose token is the right one."""
    other: int
    """What another project's token gets: 403 (admin API, or a body naming another project)
    or 404 (what another project owns)."""
    ok: int = 200
    body: dict[str, Any] | None = None
    other_body: dict[str, Any] | None = None
    """The body another project sends, when not `body` (e.g. naming its own project)."""
    rule: str = field(default="", compare=False)
    """The Flask URL rule this row covers (for the completeness check)."""


TABLE: dict[str, Endpoint] = {
    # -- the admin API
    "create session": Endpoint(
        "POST",
        "/v1/maintenance",
        "admin",
        403,
        body={**SAMPLE_CREATE, "hosts": ["compute-2"]},
        rule="/v1/maintenance",
    ),
    "plan a session": Endpoint(
        "POST",
        "/v1/maintenance/plan",
        "admin",
        403,
        body={**SAMPLE_CREATE, "hosts": ["compute-2"]},
        rule="/v1/maintenance/plan",
    ),
    "list sessions": Endpoint("GET", "/v1/maintenance", "admin", 403, rule="/v1/maintenance"),
    "get session": Endpoint(
        "GET", "/v1/maintenance/{session}", "admin", 403, rule="/v1/maintenance/<session_id>"
    ),
    "session detail": Endpoint(
        "GET",
        "/v1/maintenance/{session}/detail",
        "admin",
        403,
        rule="/v1/maintenance/<session_id>/detail",
    ),
    "session events": Endpoint(
        "GET",
        "/v1/maintenance/{session}/events",
        "admin",
        403,
        rule="/v1/maintenance/<session_id>/events",
    ),
    "update session": Endpoint(
        "PUT",
        "/v1/maintenance/{session}",
        "admin",
        403,
        body={"metadata": {"changed": True}},
        rule="/v1/maintenance/<session_id>",
    ),
    "delete session": Endpoint(
        "DELETE", "/v1/maintenance/{session}", "admin", 403, rule="/v1/maintenance/<session_id>"
    ),
    # -- the project API
    "project instances": Endpoint(
        "GET",
        f"/v1/maintenance/{{session}}/{OWNER}",
        OWNER,
        404,
        rule="/v1/maintenance/<session_id>/<project_id>",
    ),
    "project view (old form)": Endpoint(
        "GET",
        f"/v1/project/{OWNER}/maintenance/{{session}}",
        OWNER,
        404,
        rule="/v1/project/<project_id>/maintenance/<session_id>",
    ),
    "project reply": Endpoint(
        "PUT",
        f"/v1/maintenance/{{session}}/{OWNER}",
        OWNER,
        404,
        body={"state": "ACK_MAINTENANCE"},
        rule="/v1/maintenance/<session_id>/<project_id>",
    ),
    "instance ask": Endpoint(
        "GET",
        f"/v1/maintenance/{{session}}/{OWNER}/{VM}",
        OWNER,
        404,
        rule="/v1/maintenance/<session_id>/<project_id>/<instance_id>",
    ),
    "instance reply": Endpoint(
        "PUT",
        f"/v1/maintenance/{{session}}/{OWNER}/{VM}",
        OWNER,
        404,
        body={"state": "ACK_PLANNED_MAINTENANCE", "instance_action": "MIGRATE"},
        rule="/v1/maintenance/<session_id>/<project_id>/<instance_id>",
    ),
    # -- constraints
    "put instance constraints": Endpoint(
        "PUT",
        f"/v1/instance/{VM}",
        OWNER,
        403,
        body=INSTANCE_BODY,
        rule="/v1/instance/<instance_id>",
    ),
    "put instance constraints as its own": Endpoint(
        "PUT",
        f"/v1/instance/{VM}",
        OWNER,
        404,
        body=INSTANCE_BODY,
        other_body={**INSTANCE_BODY, "project_id": OTHER},
        rule="/v1/instance/<instance_id>",
    ),
    "get instance constraints": Endpoint(
        "GET", f"/v1/instance/{VM}", OWNER, 404, rule="/v1/instance/<instance_id>"
    ),
    "delete instance constraints": Endpoint(
        "DELETE", f"/v1/instance/{VM}", OWNER, 404, rule="/v1/instance/<instance_id>"
    ),
    "put group constraints": Endpoint(
        "PUT",
        f"/v1/instance_group/{GROUP}",
        OWNER,
        403,
        body=GROUP_BODY,
        rule="/v1/instance_group/<group_id>",
    ),
    "put group constraints as its own": Endpoint(
        "PUT",
        f"/v1/instance_group/{GROUP}",
        OWNER,
        404,
        body=GROUP_BODY,
        other_body={**GROUP_BODY, "project_id": OTHER},
        rule="/v1/instance_group/<group_id>",
    ),
    "get group constraints": Endpoint(
        "GET", f"/v1/instance_group/{GROUP}", OWNER, 404, rule="/v1/instance_group/<group_id>"
    ),
    "delete group constraints": Endpoint(
        "DELETE", f"/v1/instance_group/{GROUP}", OWNER, 404, rule="/v1/instance_group/<group_id>"
    ),
    # -- subscriptions
    "subscribe": Endpoint(
        "POST",
        "/v1/subscriptions",
        OWNER,
        403,
        ok=201,
        body=SUBSCRIPTION_BODY,
        rule="/v1/subscriptions",
    ),
    "get subscription": Endpoint(
        "GET",
        "/v1/subscriptions/{subscription}",
        OWNER,
        404,
        rule="/v1/subscriptions/<subscription_id>",
    ),
    "delete subscription": Endpoint(
        "DELETE",
        "/v1/subscriptions/{subscription}",
        OWNER,
        404,
        rule="/v1/subscriptions/<subscription_id>",
    ),
    # -- figures: aggregate, naming no project's instances, so any authenticated caller
    "metrics": Endpoint("GET", "/metrics", "admin", 200, rule="/metrics"),
}

PUBLIC = {"/v1/openapi.json", "/ui", "/ui/", "/ui/static/<path:filename>"}
"""Served without a token: the API description and the UI's page, which hold no data."""

TOKENS_OF = {"admin": ADMIN_TOKEN, **PROJECT_TOKENS}
CALLERS = {
    "no token": lambda owner: None,
    "wrong token": lambda owner: "not-a-token",
    "another project's token": lambda owner: PROJECT_TOKENS[OTHER],
    "the right token": lambda owner: TOKENS_OF[owner],
}


@pytest.fixture
def world(client, runtime, create_session, ask_project) -> dict[str, str]:
    """A session waiting for project-1's answer, and project-1's constraints and subscription."""
    session_id = create_session(hosts=["compute-1"])
    ask_project(session_id, OWNER, "MAINTENANCE", [VM])
    assert client.put(f"/v1/instance/{VM}", json=INSTANCE_BODY).status_code == 200
    group = client.put(f"/v1/instance_group/{GROUP}", json=GROUP_BODY)
    assert group.status_code == 200
    subscribed = client.post("/v1/subscriptions", json=SUBSCRIPTION_BODY)
    assert subscribed.status_code == 201
    with runtime.db.transaction() as repo:  # the vnf workflow asks about one instance
        now = utcnow()
        repo.orm.add(
            models.SessionAsk(
                session_id=session_id,
                key=f"PLANNED_MAINTENANCE:compute-1:{VM}",
                project_id=OWNER,
                instance_id=VM,
                step="PLANNED_MAINTENANCE",
                allowed_actions=["MIGRATE"],
                notified_at=now,
                reply_at=now + timedelta(minutes=5),
                actions_at=now + timedelta(minutes=5),
                has_manager=True,
            )
        )
    return {"session": session_id, "subscription": subscribed.get_json()["subscription_id"]}


@pytest.fixture
def snapshot(runtime, world):
    """Everything a request could change: row counts, the session's metadata and replies."""

    def take() -> dict[str, Any]:
        with runtime.db.transaction() as repo:
            counts = {
                model.__tablename__: repo.orm.scalar(select(func.count()).select_from(model))
                for model in (
                    models.Session,
                    models.Subscription,
                    models.InstanceConstraint,
                    models.InstanceGroupConstraint,
                    models.Event,
                    models.OutboxMessage,
                )
            }
            session = repo.get_session(world["session"], with_deleted=True)
            assert session is not None
            return {
                "counts": counts,
                "metadata": dict(session.meta),
                "deleted": session.deleted,
                "replies": {p.project_id: p.reply for p in session.projects},
                "constraints": repo.get_instance_constraint(VM).migration_type,
            }

    return take


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("name", list(TABLE))
def test_access(name, caller, client_as, world, snapshot):
    endpoint = TABLE[name]
    token = CALLERS[caller](endpoint.owner)
    body = endpoint.body
    if caller == "another project's token" and endpoint.other_body is not None:
        body = endpoint.other_body
    before = snapshot()

    response = client_as(token).open(
        endpoint.path.format(**world), method=endpoint.method, json=body
    )

    expected = {
        "no token": 401,
        "wrong token": 401,
        "another project's token": endpoint.other,
        "the right token": endpoint.ok,
    }[caller]
    assert response.status_code == expected, response.get_json()
    if expected >= 400:
        message = error_message(response)
        assert snapshot() == before, "a refused request changed something"
        if expected == 401:
            assert "X-Auth-Token" in message


OPEN_MODE = {
    "this machine's own call": ({}, "application/json", None),
    "a host that is not loopback": ({"Host": "evil.example:12347"}, "application/json", 400),
    "a foreign origin": ({"Origin": "https://evil.example"}, "application/json", 403),
    "a body not sent as JSON": ({}, "text/plain", 415),
}
"""Open mode (no tokens): what a browser page could send, and what it gets."""


@pytest.fixture
def open_client(runtime, world):
    """A client of the same world served with no token configured: every caller the admin."""
    tokens = runtime.settings.tokens
    runtime.settings.tokens = {}
    try:
        app = create_app(runtime)
    finally:
        runtime.settings.tokens = tokens
    return app.test_client()


@pytest.mark.parametrize(
    ("name", "request_kind"),
    [
        (name, kind)
        for name, endpoint in TABLE.items()
        for kind in OPEN_MODE
        if kind != "a body not sent as JSON" or endpoint.method in ("POST", "PUT")
    ],
)
def test_open_mode_answers_this_machine_and_refuses_browser_pages(
    name, request_kind, open_client, world, snapshot
):
    endpoint = TABLE[name]
    headers, content_type, refused = OPEN_MODE[request_kind]
    before = snapshot()

    response = open_client.open(
        endpoint.path.format(**world),
        method=endpoint.method,
        data=json.dumps(endpoint.body) if endpoint.body is not None else None,
        content_type=content_type if endpoint.body is not None else None,
        headers=headers,
    )

    if refused is None:
        assert response.status_code == endpoint.ok, response.get_json()
        return
    assert response.status_code == refused, response.get_json()
    assert error_message(response)
    assert snapshot() == before, "a refused request changed something"


def test_the_table_covers_every_endpoint(app):
    """A new endpoint needs its row here: access control is checked, never assumed."""
    covered = {(e.rule, e.method) for e in TABLE.values()} | {("/v1/subscriptions", "GET")}
    covered |= {(rule, "GET") for rule in PUBLIC}
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served - covered == set()


@pytest.mark.parametrize("path", ["/v1/openapi.json", "/ui/"])
def test_public_pages_need_no_token(client_as, path):
    assert client_as(None).get(path).status_code == 200


def test_an_unknown_url_without_a_token_is_401_not_404(client_as):
    response = client_as(None).get("/v1/nowhere")

    assert response.status_code == 401


def test_a_bearer_token_is_taken_like_x_auth_token(client_as):
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    assert client_as(None).get("/v1/maintenance", headers=bearer).status_code == 200
    assert (
        client_as(None).get("/v1/maintenance", headers={"Authorization": "Bearer x"}).status_code
        == 401
    )


def test_a_project_lists_only_its_own_subscriptions(client_as, world):
    other = client_as(PROJECT_TOKENS[OTHER]).post(
        "/v1/subscriptions", json={**SUBSCRIPTION_BODY, "project_id": OTHER}
    )
    assert other.status_code == 201

    mine = client_as(PROJECT_TOKENS[OWNER]).get("/v1/subscriptions").get_json()
    theirs = client_as(PROJECT_TOKENS[OTHER]).get("/v1/subscriptions").get_json()
    everyone = client_as(ADMIN_TOKEN).get("/v1/subscriptions").get_json()

    assert [s["subscription_id"] for s in mine["subscriptions"]] == [world["subscription"]]
    assert [s["subscription_id"] for s in theirs["subscriptions"]] == [
        other.get_json()["subscription_id"]
    ]
    assert len(everyone["subscriptions"]) == 2


def test_a_project_may_not_subscribe_to_infrastructure_events(client_as):
    response = client_as(PROJECT_TOKENS[OWNER]).post(
        "/v1/subscriptions",
        json={**SUBSCRIPTION_BODY, "event_types": ["maintenance.host"], "project_id": None},
    )

    assert response.status_code == 403
    assert "infrastructure-wide" in error_message(response)


@pytest.mark.parametrize("event_type", ["maintenance.session", "maintenance.host"])
def test_a_member_is_refused_infrastructure_event_types_even_for_its_project(client_as, event_type):
    response = client_as(PROJECT_TOKENS[OWNER]).post(
        "/v1/subscriptions",
        json={**SUBSCRIPTION_BODY, "event_types": ["maintenance.planned", event_type]},
    )

    assert response.status_code == 403
    assert f"{event_type} go to the infrastructure" in error_message(response)
    listed = client_as(PROJECT_TOKENS[OWNER]).get("/v1/subscriptions").get_json()
    assert listed["subscriptions"] == []


def test_the_admin_may_act_for_any_project(client_as, world):
    admin = client_as(ADMIN_TOKEN)
    session_id = world["session"]

    assert admin.get(f"/v1/maintenance/{session_id}/{OWNER}").status_code == 200
    reply = admin.put(f"/v1/maintenance/{session_id}/{OWNER}", json={"state": "ACK_MAINTENANCE"})
    assert reply.status_code == 200
    assert admin.get(f"/v1/instance/{VM}").status_code == 200


def test_a_project_may_not_constrain_an_instance_the_cloud_says_is_another_projects(client_as):
    response = client_as(PROJECT_TOKENS[OTHER]).put(
        f"/v1/instance/{VM}", json={**INSTANCE_BODY, "project_id": OTHER}
    )

    assert response.status_code == 404
    assert error_message(response) == f"no constraints for instance {VM}"


def test_a_project_may_not_put_its_instance_in_another_projects_group(client_as, world):
    response = client_as(PROJECT_TOKENS[OTHER]).put(
        "/v1/instance/project-2-vm-1", json={"project_id": OTHER, "group_id": GROUP}
    )

    assert response.status_code == 404
    assert GROUP in error_message(response)


def test_another_projects_url_is_404_whether_or_not_the_session_exists(client_as, world):
    stranger = client_as(PROJECT_TOKENS[OTHER])

    real = stranger.get(f"/v1/maintenance/{world['session']}/{OWNER}")
    made_up = stranger.get(f"/v1/maintenance/no-such-session/{OWNER}")

    assert real.status_code == made_up.status_code == 404
    assert error_message(real).replace(world["session"], "X") == error_message(made_up).replace(
        "no-such-session", "X"
    )


def test_a_late_or_changed_reply_is_409_and_recorded_the_same_again_is_200(
    client, client_as, world
):
    manager = client_as(PROJECT_TOKENS[OWNER])
    url = f"/v1/maintenance/{world['session']}/{OWNER}"

    assert manager.put(url, json={"state": "ACK_MAINTENANCE"}).status_code == 200
    again = manager.put(url, json={"state": "ACK_MAINTENANCE"})
    changed = manager.put(url, json={"state": "NACK_MAINTENANCE"})
    wrong_step = manager.put(url, json={"state": "ACK_SCALE_IN"})

    assert again.status_code == 200
    assert changed.status_code == wrong_step.status_code == 409
    events = client.get(f"/v1/maintenance/{world['session']}/events").get_json()["events"]
    rejected = [e for e in events if e["kind"] == "project.reply.rejected"]
    assert [e["new"] for e in rejected] == ["NACK_MAINTENANCE", "ACK_SCALE_IN"]
    assert len([e for e in events if e["kind"] == "project.reply"]) == 1
