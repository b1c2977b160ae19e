"""GET /v1/openapi.json: the API described from the code that serves it, so the two cannot drift.

Paths and methods come from the app's URL map; request bodies from the pydantic models that
validate them (fenix.api.schemas); answers from the models beside the views
(fenix.api.responses). Only what the code cannot tell is written here, per endpoint: its
summary, which models it takes and gives, and which errors it can answer with.

An endpoint added without an entry in OPERATIONS still appears, marked `x-undocumented`, and
tests/controller/api/test_openapi.py fails until it is described.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Rule

from fenix.api import responses as r
from fenix.api import schemas as s
from fenix.api.auth import public
from fenix.api.errors import MAX_ID_LENGTH
from fenix.api.reads import (
    DETAIL_PARTS,
    EVENTS_DEFAULT_LIMIT,
    EVENTS_MAX_LIMIT,
    MAX_ROW_INDEX,
    PAGE_MAX_LIMIT,
)
from fenix.api.sessions import MAX_EVENT_ID

blueprint = Blueprint("openapi", __name__)

API_PREFIX = "/v1/"
TOKEN_HEADER = "X-Auth-Token"
REF = "#/components/schemas/{model}"

_AUTH_ERRORS = (401, 403)
"""Any /v1 endpoint but this document may answer these once tokens are configured."""


@dataclass(frozen=True)
class Operation:
    """What the URL map cannot say about one endpoint."""

    summary: str
    answer: type[BaseModel] | None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    status: int = 200
    query: tuple[dict[str, Any], ...] = ()
    description: str | None = None
    public: bool = False
    """Served without a token (this document)."""
    conditional: bool = False
    """Sends an ETag and answers 304 to an If-None-Match that matches (fenix.api.conditional)."""
    extra: dict[str, Any] = field(default_factory=dict)


def _whole_number(
    name: str, text: str, low: int, high: int, default: int | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        schema["default"] = default
    return {"name": name, "in": "query", "required": False, "description": text, "schema": schema}


_EVENTS_QUERY = (
    _whole_number(
        "since",
        "Only events with a greater id (an event's id is its place in the session's log, given"
        " in commit order): the `next` of the last answer (0: from the start)",
        0,
        MAX_EVENT_ID,
        0,
    ),
    _whole_number(
        "after", "The same as `since` (its older name); give one of them", 0, MAX_EVENT_ID
    ),
    _whole_number(
        "limit",
        "At most this many events; `more` says whether others are left",
        1,
        EVENTS_MAX_LIMIT,
        EVENTS_DEFAULT_LIMIT,
    ),
)
_DETAIL_QUERY = (
    {
        "name": "parts",
        "in": "query",
        "required": False,
        "description": "Only these parts of the detail, separated by commas (the summary "
        f"fields, metadata and download always come): {', '.join(DETAIL_PARTS)}",
        "schema": {
            "type": "string",
            "pattern": f"^({'|'.join(DETAIL_PARTS)})(,({'|'.join(DETAIL_PARTS)}))*$",
        },
    },
    _whole_number(
        "host_offset", "Hosts from this position on (with `hosts_total`)", 0, MAX_ROW_INDEX
    ),
    _whole_number("host_limit", "At most this many hosts (with `hosts_total`)", 0, PAGE_MAX_LIMIT),
    _whole_number(
        "instance_offset",
        "Instances from this position on, by id (with `instances_total`)",
        0,
        MAX_ROW_INDEX,
    ),
    _whole_number(
        "instance_limit", "At most this many instances (with `instances_total`)", 0, PAGE_MAX_LIMIT
    ),
)
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of the answer the client has (or a list of them, or *): a 304 "
    "with no body if it is still the answer",
    "schema": {"type": "string"},
}
_ETAG_HEADER = {
    "ETag": {
        "description": "A strong tag of this answer: send it back in If-None-Match",
        "schema": {"type": "string"},
    }
}

OPERATIONS: dict[str, Operation] = {
    # -- admin: sessions
    "sessions.create_session": Operation(
        "Start a maintenance session",
        r.SessionCreated,
        body=s.CreateSession,
        errors=(400, 404, 409, 502),
        description="404: a named host is not in the cloud. 409: a host is in another "
        "unfinished session, or the cloud has no compute host. 502: the cloud failed.",
    ),
    "sessions.plan_session": Operation(
        "The plan of a session, without starting it (an extension)",
        r.SessionPlan,
        body=s.PlanSession,
        errors=(400, 404, 409, 502),
        description="Takes the body of POST /v1/maintenance (and optional `durations`, the "
        "seconds to assume) and touches nothing: no session, no host out of service, no "
        "manager told. Answers the hosts in the order and waves they would be taken, each "
        "instance's move (where and how: from the managers' standing constraints, else the "
        "workflow's default), a lower bound of the makespan and an estimate on the assumed "
        "durations. 404: a named host is not in the cloud. 409: a host is in another "
        "unfinished session, the cloud has no compute host, or the workflow has no plan to "
        "show. 502: the cloud failed.",
    ),
    "sessions.list_sessions": Operation(
        "List the sessions (not deleted)", r.SessionList, conditional=True
    ),
    "sessions.get_session": Operation(
        "One session", r.SessionSummary, errors=(404,), conditional=True
    ),
    "sessions.get_session_detail": Operation(
        "One session with its hosts, projects, instances and action plug-in runs",
        r.SessionDetail,
        errors=(400, 404),
        query=_DETAIL_QUERY,
        conditional=True,
        description="Without parameters, the whole detail. `parts` names the parts wanted; "
        "host_offset/host_limit and instance_offset/instance_limit page the hosts and the "
        "instances (a paged list comes with hosts_total or instances_total). 400: an unknown "
        "part (the message lists them), or a page of a part left out.",
    ),
    "sessions.list_events": Operation(
        "The session's event log (an extension), a page at a time; readable after the "
        "session is deleted",
        r.EventList,
        errors=(400, 404),
        query=_EVENTS_QUERY,
        conditional=True,
    ),
    "sessions.update_session": Operation(
        "Change the start time, metadata or windows, resume a failed session, or pause and "
        "resume a running one",
        r.SessionSummary,
        body=s.UpdateSession,
        errors=(400, 404, 409),
        description="`state` resumes a MAINTENANCE_FAILED session, as in Fenix. `action`: "
        '"pause" (with an optional `reason`) holds a running session at its next safe point: '
        "no new host starts and no new move begins, what is in flight finishes; "
        '"resume" lets it go on. 409: a new state is given for a session that is not '
        "MAINTENANCE_FAILED, or its hosts are in another session now; pause of a session "
        "paused already or ended, resume of one not paused.",
    ),
    "sessions.delete_session": Operation(
        "End the session; its workflow stops at a safe point",
        r.SessionDeleted,
        errors=(404,),
    ),
    # -- project API
    "projects.get_project_instances": Operation(
        "The project's instances that the session's current step affects",
        r.ProjectInstances,
        errors=(404,),
    ),
    "projects.reply": Operation(
        "A project's manager answers the step it was told of",
        r.ReplyAccepted,
        body=s.ProjectReply,
        errors=(400, 404, 409),
        description="409: the session does not wait for this answer from this project now "
        "(the message says what it waits for).",
    ),
    "projects.get_instance_ask": Operation(
        "The instance a per-instance notice is about (the vnf workflow's reply_url)",
        r.ProjectInstances,
        errors=(404,),
    ),
    "projects.reply_for_instance": Operation(
        "A project's manager answers a per-instance notice at its reply_url",
        r.ReplyAccepted,
        body=s.ProjectReply,
        errors=(400, 404, 409),
    ),
    # -- constraints
    "constraints.put_instance": Operation(
        "Set an instance's ETSI constraints (replaces them whole)",
        r.InstanceConstraint,
        body=s.InstanceConstraintBody,
        errors=(400,),
    ),
    "constraints.get_instance": Operation(
        "An instance's constraints", r.InstanceConstraint, errors=(404,)
    ),
    "constraints.delete_instance": Operation(
        "Remove an instance's constraints", r.InstanceConstraintDeleted, errors=(404,)
    ),
    "constraints.put_group": Operation(
        "Set an instance group's ETSI constraints (replaces them whole)",
        r.GroupConstraint,
        body=s.GroupConstraintBody,
        errors=(400,),
    ),
    "constraints.get_group": Operation(
        "An instance group's constraints", r.GroupConstraint, errors=(404,)
    ),
    "constraints.delete_group": Operation(
        "Remove an instance group's constraints", r.GroupConstraintDeleted, errors=(404,)
    ),
    # -- subscriptions
    "subscriptions.create_subscription": Operation(
        "Subscribe a callback URL to maintenance notifications",
        r.Subscription,
        body=s.CreateSubscription,
        errors=(400, 409),
        status=201,
        description="400: also a callback_url whose host is not public (loopback, private, "
        "link-local, multicast...) unless the admin allows its network, that does not resolve, "
        "or that is longer than 2048 characters. 409: the project already holds its quota of "
        "subscriptions.",
    ),
    "subscriptions.list_subscriptions": Operation("The caller's subscriptions", r.SubscriptionList),
    "subscriptions.get_subscription": Operation("One subscription", r.Subscription, errors=(404,)),
    "subscriptions.delete_subscription": Operation(
        "Remove a subscription", r.SubscriptionDeleted, errors=(404,)
    ),
    # -- this document
    "openapi.document": Operation(
        "This document: the API as the running controller serves it", None, public=True
    ),
}

_PARAMETER_TEXT = {
    "session_id": "A maintenance session's id (from POST /v1/maintenance)",
    "project_id": "A project taking part in the session",
    "instance_id": "An instance's id",
    "group_id": "An instance group's id",
    "subscription_id": "A subscription's id (from POST /v1/subscriptions)",
}

_ERROR_TEXT = {
    400: "The request is malformed or a field is invalid; the message names each field",
    401: "No token, or a token this controller does not know (when tokens are configured)",
    403: "The token's role or project may not do this",
    404: "No such thing (or not visible to the caller)",
    409: "The request conflicts with the current state; the message says what it waits for",
    413: "The body is larger than the controller takes (FENIX_MAX_BODY_BYTES, 1 MiB by default)",
    415: "Without API tokens (loopback only): a body not sent as Content-Type: application/json",
    502: "The cloud failed; check the cloud and try again",
}

_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_LENGTH,
    "pattern": "^[^/\\x00]+$",
}
"""An id in a URL; any other gets a 400 (fenix.api.errors._reject_impossible_ids)."""
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "default": _ID_SCHEMA,
    "string": _ID_SCHEMA,
    "int": {"type": "integer", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
    "path": {"type": "string", "minLength": 1},
}


@blueprint.get("/v1/openapi.json")
@public
def document() -> ResponseReturnValue:
    return jsonify(build_document(current_app))


def api_rules(app: Flask) -> list[Rule]:
    """The URL rules of the API (under /v1/), in a stable order."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(API_PREFIX)]
    return sorted(rules, key=lambda rule: (rule.rule, sorted(rule.methods or ())))


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def openapi_path(rule: Rule) -> str:
    """/v1/maintenance/<session_id> -> /v1/maintenance/{session_id}"""
    return _ARGUMENT.sub(lambda match: "{" + match["name"] + "}", rule.rule)


def build_document(app: Flask) -> dict[str, Any]:
    refs, schemas = component_schemas()
    rules = api_rules(app)
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for rule in rules:
        for method in methods(rule):
            item = paths.setdefault(openapi_path(rule), {})
            item[method.lower()] = _operation(rule, method, rules, operation_ids, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fenix for Ansible",
            "version": _version(),
            "description": "Rolling infrastructure maintenance, compatible with OpenStack "
            'Fenix\'s API. Errors are JSON: {"error": {"code", "title", "message"}}. '
            f"Send a token in {TOKEN_HEADER} when the controller has tokens configured.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                _error_name(code): {
                    "description": text,
                    "content": _json(refs[(r.Error, "serialization")]),
                }
                for code, text in sorted(_ERROR_TEXT.items())
            },
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": TOKEN_HEADER},
            },
        },
        # A token when the controller has any configured; none when it is open.
        "security": [{"token": []}, {}],
    }


_Refs = dict[tuple[Any, JsonSchemaMode], dict[str, Any]]
"""(model, mode) -> {"$ref": ...}, as pydantic's models_json_schema gives it."""


def component_schemas() -> tuple[_Refs, dict[str, Any]]:
    """Every request and answer model: the reference to each, and the schemas by name."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(r.Error, "serialization")]
    for operation in OPERATIONS.values():
        if operation.body is not None:
            models.append((operation.body, "validation"))
        if operation.answer is not None:
            models.append((operation.answer, "serialization"))
    refs, schema = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    return refs, schema.get("$defs", {})


def _operation(
    rule: Rule, method: str, rules: list[Rule], ids: set[str], refs: _Refs
) -> dict[str, Any]:
    endpoint = rule.endpoint
    operation = OPERATIONS.get(endpoint)
    operation_id = endpoint.replace(".", "_")
    if operation_id in ids:
        operation_id += "_" + "_".join(_static_segments(rule))
    ids.add(operation_id)
    parameters = _path_parameters(rule, method, rules)
    if operation is None:
        return {
            "operationId": operation_id,
            "summary": f"{endpoint} (not described yet)",
            "x-undocumented": True,
            "parameters": parameters,
            "responses": {"default": {"description": "add it to fenix.api.openapi.OPERATIONS"}},
        }
    answer: dict[str, Any] = {"description": HTTP_STATUS_CODES[operation.status]}
    if operation.answer is not None:
        answer["content"] = _json(refs[(operation.answer, "serialization")])
    else:
        answer["content"] = _json({"type": "object"})
    responses: dict[str, Any] = {str(operation.status): answer}
    errors = set(operation.errors) | (set() if operation.public else set(_AUTH_ERRORS))
    if parameters:
        errors.add(400)  # an id in the URL that no column can hold
    if operation.body is not None:
        errors |= {400, 413, 415}  # not JSON (NaN, a lone surrogate), too large, not sent as JSON
    for code in sorted(errors):
        responses[str(code)] = {"$ref": f"#/components/responses/{_error_name(code)}"}
    entry: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [endpoint.partition(".")[0]],
        "summary": operation.summary,
    }
    if operation.description:
        entry["description"] = operation.description
    query = [*operation.query, _IF_NONE_MATCH] if operation.conditional else operation.query
    if operation.conditional:
        answer["headers"] = _ETAG_HEADER
        responses["304"] = {
            "description": "Not Modified: the If-None-Match tag is still this answer's; no body",
            "headers": _ETAG_HEADER,
        }
    if parameters or query:
        entry["parameters"] = [*parameters, *query]
    if operation.body is not None:
        entry["requestBody"] = {
            "required": True,
            "content": _json(refs[(operation.body, "validation")]),
        }
    entry["responses"] = responses
    if operation.public:
        entry["security"] = []
    return {**entry, **operation.extra}


def _path_parameters(rule: Rule, method: str, rules: list[Rule]) -> list[dict[str, Any]]:
    parameters = []
    for match in _ARGUMENT.finditer(rule.rule):
        name = match["name"]
        schema = dict(_CONVERTER_SCHEMAS.get(match["converter"] or "default", {"type": "string"}))
        shadowed = _shadowed_values(rule, method, name, rules)
        if shadowed:
            # Werkzeug routes a static segment first: /detail is never a project's id.
            schema["not"] = {"enum": shadowed}
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": _PARAMETER_TEXT.get(name, name),
                "schema": schema,
            }
        )
    return parameters


def _shadowed_values(rule: Rule, method: str, name: str, rules: list[Rule]) -> list[str]:
    """Values of the parameter `name` that another rule for the same method takes first."""
    segments = rule.rule.split("/")
    position = next(i for i, part in enumerate(segments) if _is_argument(part, name))
    shadowed = set()
    for other in rules:
        if other is rule or method not in methods(other):
            continue
        theirs = other.rule.split("/")
        if len(theirs) != len(segments) or _ARGUMENT.fullmatch(theirs[position]):
            continue
        if all(
            i == position or a == b or (_ARGUMENT.fullmatch(a) and _ARGUMENT.fullmatch(b))
            for i, (a, b) in enumerate(zip(segments, theirs, strict=True))
        ):
            shadowed.add(theirs[position])
    return sorted(shadowed)


def _is_argument(segment: str, name: str) -> bool:
    match = _ARGUMENT.fullmatch(segment)
    return match is not None and match["name"] == name


def _static_segments(rule: Rule) -> list[str]:
    return [part for part in rule.rule.split("/") if part and not _ARGUMENT.fullmatch(part)]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error_name(code: int) -> str:
    return HTTP_STATUS_CODES[code].replace(" ", "")


def _version() -> str:
    try:
        return version("fenix-ansible")
    except PackageNotFoundError:
        return "0+unknown"
