"""The request bodies of the API, validated before any handler acts on them.

The shapes are the wire contract's (shared/fenix-api.md). Bodies we define ourselves forbid
unknown fields, so a misspelt `maintenance_at` is a 400 instead of a maintenance that starts
now. Bodies that existing managers send (project replies) ignore fields they add of their own.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from fenix.actions.download import split_download_url
from fenix.drivers.base import HostKind
from fenix.engine.states import (
    REPLY_STEPS,
    EventType,
    InstanceAction,
    ProjectStep,
    SessionState,
)
from fenix.timeutil import parse_timestamp
from fenix.workflows import available_workflows

_REPLY_STEP_NAMES = [str(step) for step in ProjectStep if step in REPLY_STEPS]
"""In the order of the conversation, for messages."""
_ANSWERS = ("ACK", "NACK")
_REPLY_STATE = re.compile(r"(ACK|NACK)_([A-Z_]+)")
ACTION_TYPES = ("pre", "host", "post", *(str(kind) for kind in HostKind))
"""When a plug-in runs: before the maintenance, per host (any, or of one kind), or after."""


def some_of(names: list[str], shown: int = 10) -> str:
    """The first names of a list, and how many more: a message stays short however long it is."""
    listed = ", ".join(_short(name, 40).strip("'") for name in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _short(text: str, limit: int = 60) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 3]) + "..."


def _timestamp(value: Any) -> Any:
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a time string like '2018-02-28 06:06:03', got {value!r}")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a time: use 'YYYY-MM-DD HH:MM:SS' (UTC) or ISO 8601"
        ) from None


def _web_url(value: str) -> str:
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValueError(f"{value!r} is not a URL: it holds a control character")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


def _callback_url(value: str) -> str:
    _web_url(value)
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "the URL must not carry a user or password; use `secret` to sign deliveries"
        )
    return value


_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?([/?#][^\x00-\x1f\x7f]*)?$"
)
"""What /v1/openapi.json says of URLs: a subset of what the validators accept."""

_DOWNLOAD_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[^\x00-\x1f\x7f#]*)?"
    r"#sha256=[0-9a-fA-F]{64}$"
)
"""A plug-in download: https, with the SHA-256 of its content (http only by a setting)."""


def _download_url(value: str) -> str:
    _web_url(value)
    split_download_url(value)
    return value


_CONTRACT_TIME = (
    r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8]) "
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
)
"""The contract's "YYYY-MM-DD HH:MM:SS" for the document; days to 28, so any match is a date."""
Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp),
    WithJsonSchema(
        {
            "type": "string",
            "description": "UTC as 'YYYY-MM-DD HH:MM:SS' (Fenix's form), or RFC 3339",
            "anyOf": [{"format": "date-time"}, {"pattern": _CONTRACT_TIME}],
            "examples": ["2018-02-28 06:06:03"],
        }
    ),
]
"""UTC as "YYYY-MM-DD HH:MM:SS" or ISO 8601 on the wire; naive UTC inside."""


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character (\\u0000)")
    return value


NO_NUL = (AfterValidator(_no_nul), Field(json_schema_extra={"pattern": "^[^\\x00]*$"}))
"""For text the database stores: PostgreSQL's text types cannot hold NUL (it was a 500 there)."""
Name = Annotated[str, Field(min_length=1, max_length=255), *NO_NUL]
DownloadUrl = Annotated[
    str, AfterValidator(_download_url), Field(json_schema_extra={"pattern": _DOWNLOAD_PATTERN})
]
MAX_COUNT = 2**31 - 1
"""The most a count column holds (INTEGER: 32 bits on PostgreSQL); in seconds, 68 years."""
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
"""Whole seconds or instances; strict, so "5" and true are not taken for numbers."""
Flag = Annotated[bool, Field(strict=True)]


def _instance_action(value: Any) -> Any:
    # OPNFV Doctor's manager sends "MIGRATION" in its instance constraints; Fenix stored any
    # string. Accepting it as MIGRATE keeps that manager working unchanged.
    return "MIGRATE" if value == "MIGRATION" else value


MigrationType = Annotated[InstanceAction, BeforeValidator(_instance_action)]


def _workflow_names(schema: dict[str, Any]) -> None:
    # Listed when the schema is made (GET /v1/openapi.json): workflow plug-ins are found by name.
    schema["enum"] = available_workflows()


# -- admin: sessions ---------------------------------------------------------------------
class ActionSpec(BaseModel):
    """An action plug-in to run: before the maintenance (pre), per host, or after (post)."""

    model_config = ConfigDict(extra="forbid")

    plugin: Name
    type: Annotated[str, Field(json_schema_extra={"enum": list(ACTION_TYPES)})]
    metadata: dict[str, Any] = {}

    @field_validator("type")
    @classmethod
    def _known_type(cls, type_: str) -> str:
        if type_ not in ACTION_TYPES:
            raise ValueError(
                f"{_short(type_)} is not an action type; use one of {', '.join(ACTION_TYPES)}"
            )
        return type_


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hosts: list[Name] = []
    """Empty: every compute host of the cloud."""
    state: Literal["MAINTENANCE"]
    maintenance_at: Timestamp | None = None
    """When to start; absent or null: now."""
    workflow: Annotated[str, Field(json_schema_extra=_workflow_names)] = "default"
    metadata: dict[str, Any] = {}
    actions: list[ActionSpec] = []
    download: list[DownloadUrl] = []
    """Plug-in bundles, each `https://...#sha256=<hex>`: checked before anything of it runs."""

    @field_validator("hosts")
    @classmethod
    def _no_duplicate_hosts(cls, hosts: list[str]) -> list[str]:
        duplicates = sorted(name for name, count in Counter(hosts).items() if count > 1)
        if duplicates:
            raise ValueError(f"hosts listed more than once: {some_of(duplicates)}")
        return hosts

    @field_validator("workflow")
    @classmethod
    def _known_workflow(cls, workflow: str) -> str:
        known = available_workflows()
        if workflow not in known:
            raise ValueError(f"unknown workflow {workflow!r}; known: {', '.join(known)}")
        return workflow


class UpdateSession(BaseModel):
    """PUT on a session: a new start time, new metadata, or resume after a failure."""

    model_config = ConfigDict(extra="forbid")

    state: SessionState | None = None
    maintenance_at: Timestamp | None = None
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateSession:
        if self.state is None and self.maintenance_at is None and self.metadata is None:
            raise ValueError("give at least one of state, maintenance_at, metadata")
        return self


# -- project: replies --------------------------------------------------------------------
class ProjectReply(BaseModel):
    """A manager's answer to the step it was told of.

    Unknown fields are ignored: managers built for Fenix add their own (OPNFV Doctor's sends
    `session_id` and `instance_ids`), and they must work against us unchanged.
    """

    model_config = ConfigDict(extra="ignore")

    state: Annotated[
        str,
        Field(
            json_schema_extra={
                "enum": [f"{answer}_{step}" for step in _REPLY_STEP_NAMES for answer in _ANSWERS]
            }
        ),
    ]
    instance_actions: dict[Annotated[str, Field(min_length=1, max_length=255)], InstanceAction] = {}
    """Keys are matched to the step's instance ids, never stored as a column: NUL is harmless."""
    instance_action: InstanceAction | None = None
    """The vnf workflow's form, when the step names one instance."""
    session_id: str | None = None
    instance_ids: list[str] | None = None

    @field_validator("state")
    @classmethod
    def _ack_or_nack(cls, state: str) -> str:
        match = _REPLY_STATE.fullmatch(state)
        if match is None or match.group(2) not in _REPLY_STEP_NAMES:
            raise ValueError(
                f"{state!r} is not a reply; expected ACK_<STEP> or NACK_<STEP> with STEP one "
                f"of {', '.join(_REPLY_STEP_NAMES)}"
            )
        return state

    @model_validator(mode="after")
    def _one_form_of_actions(self) -> ProjectReply:
        if self.instance_actions and self.instance_action is not None:
            raise ValueError("give instance_actions or instance_action, not both")
        return self

    @property
    def step(self) -> str:
        """The step answered: PLANNED_MAINTENANCE for ACK_PLANNED_MAINTENANCE."""
        return self.state.partition("_")[2]

    @property
    def acknowledged(self) -> bool:
        return self.state.startswith("ACK_")


# -- project: constraints ----------------------------------------------------------------
class InstanceConstraintBody(BaseModel):
    """ETSI instance constraints. PUT replaces them whole: an absent field is cleared."""

    model_config = ConfigDict(extra="forbid")

    instance_id: Name | None = None
    """Optional in the body; when given it must be the one in the URL."""
    project_id: Name
    group_id: Name | None = None
    instance_name: Name | None = None
    max_interruption_time: Count | None = None
    migration_type: MigrationType | None = None
    resource_mitigation: Flag = False
    lead_time: Count | None = None


class GroupConstraintBody(BaseModel):
    """ETSI instance-group constraints. PUT replaces them whole: an absent field is cleared."""

    model_config = ConfigDict(extra="forbid")

    group_id: Name | None = None
    """Optional in the body; when given it must be the one in the URL."""
    project_id: Name
    group_name: Name | None = None
    anti_affinity_group: Flag = False
    max_instances_per_host: Count | None = None
    """0 means no limit: OPNFV Doctor and Tacker send 0 for groups without anti-affinity."""
    max_impacted_members: Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)] | None = None
    recovery_time: Count | None = None
    resource_mitigation: Flag = False


# -- subscriptions -----------------------------------------------------------------------
class CreateSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: Annotated[list[EventType], Field(min_length=1)]
    project_id: Name | None = None
    """None: infrastructure-wide events (maintenance.host, maintenance.session)."""
    callback_url: Annotated[
        str, AfterValidator(_callback_url), Field(json_schema_extra={"pattern": _URL_PATTERN})
    ]
    secret: Annotated[str, Field(min_length=1), *NO_NUL] | None = None
    """HMAC-SHA256 key for the X-Fenix-Signature header; never shown again."""
    format: Literal["fenix", "aodh"] = "fenix"

    @field_validator("event_types")
    @classmethod
    def _once_each(cls, event_types: list[EventType]) -> list[EventType]:
        return list(dict.fromkeys(event_types))
