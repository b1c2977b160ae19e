"""/v1/openapi.json: valid OpenAPI, every route in it, and every real answer matching it."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from fenix.api.openapi import OPERATIONS, api_rules, methods, openapi_path
from tests.controller.live import wait_until

from .helpers import SAMPLE_CREATE


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_document_is_valid_openapi(document):
    validate(document)

    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["token"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Auth-Token",
    }


def test_every_api_route_and_method_is_in_the_document(app, document):
    rules = api_rules(app)
    assert len(rules) >= 15

    for rule in rules:
        path = openapi_path(rule)
        assert path in document["paths"], f"{rule.rule} is not documented"
        for method in methods(rule):
            operation = document["paths"][path].get(method.lower())
            assert operation is not None, f"{method} {rule.rule} is not documented"
            assert not operation.get("x-undocumented"), (
                f"{method} {rule.rule} ({rule.endpoint}) has no entry in "
                "fenix.api.openapi.OPERATIONS"
            )
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert success, f"{method} {rule.rule} documents no success"
            documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert documented == set(rule.arguments), f"{method} {rule.rule} path parameters"
    documented_pairs = {
        (path, method) for path, item in document["paths"].items() for method in item
    }
    served = {(openapi_path(rule), m.lower()) for rule in rules for m in methods(rule)}
    assert documented_pairs == served


def test_every_described_endpoint_exists(app):
    assert set(OPERATIONS) <= set(app.view_functions)


def test_request_schemas_are_the_validating_models(document):
    schemas = document["components"]["schemas"]
    create = schemas["CreateSession"]

    assert create["required"] == ["state"]
    assert create["additionalProperties"] is False
    assert "default" in create["properties"]["workflow"]["enum"]
    assert "ACK_PLANNED_MAINTENANCE" in schemas["ProjectReply"]["properties"]["state"]["enum"]
    body = _validator(document, {"$ref": "#/components/schemas/CreateSession"})
    assert not list(body.iter_errors(SAMPLE_CREATE))
    assert list(body.iter_errors({**SAMPLE_CREATE, "maintenance_time": "now"}))
    assert list(body.iter_errors({"hosts": []}))
    # A detail path parameter is never taken for a project id.
    project = document["paths"]["/v1/maintenance/{session_id}/{project_id}"]["get"]
    (project_id,) = [p for p in project["parameters"] if p["name"] == "project_id"]
    assert project_id["schema"]["not"] == {"enum": ["detail", "events"]}


def test_errors_are_documented_with_their_shape(document):
    create = document["paths"]["/v1/maintenance"]["post"]["responses"]
    assert {"400", "404", "409"} <= set(create)
    assert create["409"] == {"$ref": "#/components/responses/Conflict"}
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert document["components"]["schemas"]["ErrorBody"]["required"] == [
        "code",
        "title",
        "message",
    ]


# -- every real answer matches the document -------------------------------------------------
def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    root = {**schema, "components": document["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


class DocumentedApi:
    """Calls the API over HTTP and checks each answer against what the document says of it."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.http = requests.Session()
        if token:
            self.http.headers["X-Auth-Token"] = token
        self.document = self.http.get(f"{url}/v1/openapi.json", timeout=10).json()
        self.called: set[tuple[str, str]] = set()

    def call(self, method: str, template: str, body: Any = None, query: str = "", **params):
        path = template.format(**params)
        response = self.http.request(method, f"{self.url}{path}{query}", json=body, timeout=10)
        self.called.add((template, method.lower()))
        operation = self.document["paths"][template][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {path} answered {status}, which the document does not list: {response.text}"
        )
        answer = operation["responses"][status]
        if "$ref" in answer:
            answer = self.document["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        schema = answer["content"]["application/json"]["schema"]
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _validator(self.document, schema).iter_errors(response.json())
        ]
        assert not errors, (
            f"{method} {path} ({status}) does not match the document (fenix.api.responses):\n"
            + "\n".join(errors)
        )
        return response


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_every_answer_of_a_real_session_matches_the_document(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 2, "instances": 1})
    live.add_manager("project-1")
    api = DocumentedApi(live.url, live.admin_token)
    sessions, one = "/v1/maintenance", "/v1/maintenance/{session_id}"

    # A session with an action plug-in run, answered by project-1's manager, to its end.
    body = {
        "state": "MAINTENANCE",
        "hosts": ["compute-1"],
        "actions": [{"plugin": "dummy", "type": "host"}],
    }
    plan = api.call("POST", sessions + "/plan", {**body, "workflow": "vnf"}).json()
    assert plan["session_hosts"] == ["compute-1"]
    session_id = api.call("POST", sessions, body).json()["session_id"]
    api.call("GET", sessions)
    api.call("GET", one, session_id=session_id)
    live.wait_for(session_id)
    detail = api.call("GET", one + "/detail", session_id=session_id).json()
    assert detail["state"] == "MAINTENANCE_DONE" and detail["action_runs"]
    assert detail["instances"] and detail["projects"]
    events = api.call("GET", one + "/events", session_id=session_id).json()["events"]
    api.call("GET", one + "/events", query=f"?after={events[-1]['id']}", session_id=session_id)
    api.call("PUT", one, {"metadata": {"note": "checked"}}, session_id=session_id)
    assert api.call("PUT", one, {"state": "MAINTENANCE"}, session_id=session_id).status_code == 409
    project = "/v1/maintenance/{session_id}/{project_id}"
    api.call("GET", project, session_id=session_id, project_id="project-1")
    api.call(
        "GET",
        "/v1/project/{project_id}/maintenance/{session_id}",
        session_id=session_id,
        project_id="project-1",
    )
    late = {"state": "ACK_MAINTENANCE"}
    refused = api.call("PUT", project, late, session_id=session_id, project_id="project-1")
    assert refused.status_code == 409
    ask = "/v1/maintenance/{session_id}/{project_id}/{instance_id}"
    if ask in api.document["paths"]:  # the vnf workflow's per-instance reply_url
        names = {"session_id": session_id, "project_id": "project-1", "instance_id": "vm-x"}
        assert api.call("GET", ask, **names).status_code == 404
        assert api.call("PUT", ask, late, **names).status_code == 409
    api.call("DELETE", one, session_id=session_id)
    assert api.call("GET", one, session_id=session_id).status_code == 404

    # project-2 gets a "manager" that is this test: subscribed, answering by hand.
    subscriptions, subscription = "/v1/subscriptions", "/v1/subscriptions/{subscription_id}"
    created = api.call(
        "POST",
        subscriptions,
        {
            "event_types": ["maintenance.planned"],
            "project_id": "project-2",
            "callback_url": f"http://127.0.0.1:{_closed_port()}/nobody",
            "secret": "s3cret",
        },
    ).json()
    api.call("GET", subscriptions)
    api.call("GET", subscription, subscription_id=created["subscription_id"])
    second = api.call("POST", sessions, {"state": "MAINTENANCE", "hosts": []}).json()
    wait_until(
        lambda: any(
            p["project_id"] == "project-2" and p["step"] == "MAINTENANCE" and p["reply"] is None
            for p in live.detail(second["session_id"])["projects"]
        ),
        what="project-2 asked MAINTENANCE",
    )
    accepted = api.call(
        "PUT", project, {"state": "ACK_MAINTENANCE"}, project_id="project-2", **second
    )
    assert accepted.status_code == 200
    api.call("DELETE", one, **second)
    api.call("DELETE", subscription, subscription_id=created["subscription_id"])

    # Constraints.
    instance, group = "/v1/instance/{instance_id}", "/v1/instance_group/{group_id}"
    api.call(
        "PUT",
        instance,
        {"project_id": "project-1", "migration_type": "LIVE_MIGRATE", "lead_time": 5},
        instance_id="project-1-vm-1",
    )
    api.call("GET", instance, instance_id="project-1-vm-1")
    api.call("DELETE", instance, instance_id="project-1-vm-1")
    assert api.call("GET", instance, instance_id="project-1-vm-1").status_code == 404
    api.call(
        "PUT",
        group,
        {"project_id": "project-1", "anti_affinity_group": True, "max_impacted_members": 1},
        group_id="group-1",
    )
    api.call("GET", group, group_id="group-1")
    api.call("DELETE", group, group_id="group-1")

    # Errors.
    assert api.call("POST", sessions, {"state": "MAINTENANCE", "hots": []}).status_code == 400
    bad_after = api.call("GET", one + "/events", query="?after=x", session_id=second["session_id"])
    assert bad_after.status_code == 400
    api.call("GET", "/v1/openapi.json")

    documented = {(p, m) for p, item in api.document["paths"].items() for m in item}
    assert api.called == documented, f"not exercised: {sorted(documented - api.called)}"
