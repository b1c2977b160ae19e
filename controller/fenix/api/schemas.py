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

from fenix.config import PlanSeconds
from fenix.drivers.base import HostKind
from fenix.states import (
    EventType,
    InstanceAction,
    ProjectStep,
    SessionState,
)
from fenix.timeutil import parse_timestamp
from fenix.windows import DAYS, Schedule, weekly_from
from fenix.workflows import available_workflows

_REPLY_STEP_NAMES = [str(step) for step in ProjectStep]
"""Every step a project can be told, in the order of the conversation: those in REPLY_STEPS
ask for a decision; a reply to another (ACK_INSTANCE_ACTION_DONE) only acknowledges it."""
_ANSWERS = ("ACK", "NACK")
_REPLY_STATE = re.compile(r"(ACK|NACK)_([A-Z_]+)")
ACTION_TYPES = ("pre", "host", "post", "gate", *(str(kind) for kind in HostKind))
"""When a plug-in runs: before the maintenance, per host (any, or of one kind), or after; a
`gate` plug-in is a health check run before each host starts and after it comes back."""


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
    """An http(s) URL; its scheme and its checksum are checked against the settings later
    (fenix.api.sessions)."""
    _web_url(value)
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
_TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
"""A weekly window's start or end: "HH:MM" (UTC)."""


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


class DatedWindow(BaseModel):
    """A maintenance window between two UTC times: new hosts start only inside one."""

    model_config = ConfigDict(extra="forbid")

    start: Timestamp
    end: Timestamp

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> DatedWindow:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class WeeklyWindow(BaseModel):
    """Every week on these days, from start to end (UTC, "HH:MM"); past midnight when end is
    at or before start (e.g. 22:00 to 04:00)."""

    model_config = ConfigDict(extra="forbid")

    days: Annotated[
        list[str],
        Field(
            min_length=1,
            max_length=7,
            json_schema_extra={"items": {"enum": list(DAYS)}, "examples": [["sat", "sun"]]},
        ),
    ]
    start: Annotated[str, Field(json_schema_extra={"pattern": _TIME_OF_DAY})]
    end: Annotated[str, Field(json_schema_extra={"pattern": _TIME_OF_DAY})]

    @model_validator(mode="after")
    def _a_weekly_window(self) -> WeeklyWindow:
        weekly_from(self.days, self.start, self.end)  # its ValueError says what is wrong
        return self


MAX_WINDOWS = 100
"""Windows per session, of each kind: a schedule, not a calendar."""


class WindowsSpec(BaseModel):
    """Both kinds of windows, as sessions take them at creation and in PUT."""

    windows: Annotated[list[DatedWindow], Field(max_length=MAX_WINDOWS)] = []
    weekly_windows: Annotated[list[WeeklyWindow], Field(max_length=MAX_WINDOWS)] = []

    def schedule(self) -> Schedule:
        return Schedule(
            tuple((w.start, w.end) for w in self.windows),
            tuple(weekly_from(w.days, w.start, w.end) for w in self.weekly_windows),
        )


def _gate_url(value: str) -> str:
    _web_url(value)
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL must not carry a user or password")
    if parts.query or parts.fragment:
        raise ValueError("give the server's base URL, without a query or fragment")
    return value


class PrometheusGateSpec(BaseModel):
    """A health gate: a Prometheus instant query, and what its answer must be to pass."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    url: Annotated[
        str,
        AfterValidator(_gate_url),
        Field(max_length=2048, json_schema_extra={"pattern": _URL_PATTERN}),
    ]
    """The Prometheus server, e.g. http://prometheus.example.com:9090."""
    query: Annotated[str, Field(min_length=1, max_length=4000), *NO_NUL]
    healthy: Literal["empty", "below", "above"] = "empty"
    """empty: the query gives no series (e.g. ALERTS{severity="critical"}); below / above:
    every value is below / above `threshold`."""
    threshold: float | None = None
    stages: Annotated[list[Literal["before", "after"]], Field(min_length=1)] = [
        "before",
        "after",
    ]
    """before a host starts, after it comes back into service, or both."""

    @model_validator(mode="after")
    def _threshold_when_compared(self) -> PrometheusGateSpec:
        if self.healthy != "empty" and self.threshold is None:
            raise ValueError(f'healthy "{self.healthy}" needs a threshold')
        if self.healthy == "empty" and self.threshold is not None:
            raise ValueError('threshold goes with healthy "below" or "above"')
        return self


class CreateSession(WindowsSpec):
    model_config = ConfigDict(extra="forbid")

    gates: Annotated[list[PrometheusGateSpec], Field(max_length=20)] = []
    """Health gates checked before each host starts and after it comes back (with the
    session's `gate` action plug-ins)."""
    gate_timeout: Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)] = 600
    """Seconds a gate may keep failing before the session is paused with its reason."""
    gate_interval: Annotated[int, Field(strict=True, ge=1, le=3600)] = 10
    """Seconds between two checks of a failing gate."""

    @field_validator("gates")
    @classmethod
    def _gate_names_once(cls, gates: list[PrometheusGateSpec]) -> list[PrometheusGateSpec]:
        duplicates = sorted(n for n, c in Counter(g.name for g in gates).items() if c > 1)
        if duplicates:
            raise ValueError(f"gate names used more than once: {some_of(duplicates)}")
        return gates

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
    max_hosts_per_zone: Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)] | None = None
    """At most this many of the session's hosts of one zone out of service at once (an
    extension; absent or null: no limit per zone). Hosts the cloud puts in no zone are not
    limited."""

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


class PlanSession(CreateSession):
    """POST /v1/maintenance/plan: the body of a session to create, and optionally the seconds
    its estimate should assume (any not given: the controller's plan_seconds, then defaults)."""

    durations: PlanSeconds | None = None


class UpdateSession(BaseModel):
    """PUT on a session: a new start time, new metadata, resume after a failure (`state`);
    pause or resume a running session (`action`, an extension); new windows."""

    model_config = ConfigDict(extra="forbid")

    state: SessionState | None = None
    maintenance_at: Timestamp | None = None
    metadata: dict[str, Any] | None = None
    action: Literal["pause", "resume"] | None = None
    """pause: no new host or move from the next safe point, in-flight work finishes."""
    reason: Annotated[str, Field(min_length=1, max_length=1000), *NO_NUL] | None = None
    """Why the session is paused: shown in its detail and timeline."""
    windows: Annotated[list[DatedWindow], Field(max_length=MAX_WINDOWS)] | None = None
    weekly_windows: Annotated[list[WeeklyWindow], Field(max_length=MAX_WINDOWS)] | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateSession:
        if self.reason is not None and self.action != "pause":
            raise ValueError('reason goes with action "pause"')
        fields = (self.state, self.maintenance_at, self.metadata, self.action)
        if all(f is None for f in fields) and not self.changes_windows:
            raise ValueError(
                "give at least one of state, maintenance_at, metadata, action, windows, "
                "weekly_windows"
            )
        if self.action is not None and self.state is not None:
            raise ValueError(
                "give state (resume a failed session) or action (pause or resume a running "
                "one), not both"
            )
        return self

    @property
    def changes_windows(self) -> bool:
        return self.windows is not None or self.weekly_windows is not None

    def schedule(self, stored: Schedule) -> Schedule:
        """The windows after this change: each kind given replaces the stored one."""
        dated = (
            stored.dated if self.windows is None else tuple((w.start, w.end) for w in self.windows)
        )
        weekly = (
            stored.weekly
            if self.weekly_windows is None
            else tuple(weekly_from(w.days, w.start, w.end) for w in self.weekly_windows)
        )
        return Schedule(dated, weekly)


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
