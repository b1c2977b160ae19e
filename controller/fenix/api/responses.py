"""The shapes of the API's answers, as models: what /v1/openapi.json documents for responses.

fenix.api.views builds the answers; these models describe them, field for field, and forbid any
other field. tests/controller/api/test_openapi.py runs a real session and checks every answer
against the document, so a field added to a view without being added here fails a test instead
of going out undocumented.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fenix.states import EventType, SessionState


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Answer):
    code: int = Field(description="The HTTP status code, again")
    title: str = Field(description="Its name, e.g. Bad Request")
    message: str = Field(description="What is wrong and what to do about it")


class Error(_Answer):
    """Every error the API gives, whatever the endpoint."""

    error: ErrorBody


# -- sessions --------------------------------------------------------------------------------
class SessionCreated(_Answer):
    session_id: str


class SessionList(_Answer):
    sessions: list[str] = Field(description="Session ids, oldest first (Fenix's code)")
    session_id: list[str] = Field(description="The same list (Fenix's documentation)")


class SessionSummary(_Answer):
    session_id: str
    state: SessionState
    workflow: str
    maintenance_at: datetime
    created_at: datetime
    updated_at: datetime
    percent_done: int = Field(ge=0, le=100)
    error: str | None = Field(description="Why the session failed, while it is failed")


class PlannedHost(_Answer):
    host: str
    order: int = Field(description="1 for the first host taken out of service")
    wave: int = Field(description="Hosts taken out of service at the same moment share a wave")
    step: str = Field(description="PREPARE_MAINTENANCE, START_MAINTENANCE or PLANNED_MAINTENANCE")
    out_of_service_at: float = Field(description="Seconds from the start")
    maintenance_from: float
    maintenance_until: float
    instances: int = Field(description="Instances moved off it")


class PlannedMove(_Answer):
    instance_id: str
    project_id: str
    action: str = Field(description="MIGRATE, LIVE_MIGRATE, EVICTION or OWN_ACTION")
    source: str
    target: str | None = Field(description="Where it goes; null: evicted or its manager's move")
    step: str
    start: float = Field(description="Seconds from the start")
    end: float
    how: str = Field(description="What the action means, in words")


class MakespanBound(_Answer):
    seconds: float | None = Field(
        description="No maintenance of these hosts can take less; null: no host can be emptied"
    )
    by_capacity: float | None
    hosts_at_once: int = Field(description="The most session hosts that can be empty at once")
    by_group: float
    tightest_group: str | None
    by_instance: float


class PlanDurations(_Answer):
    """The seconds the estimate assumed."""

    live_migrate: float
    migrate: float
    evict: float
    own_action: float
    maintain: float
    answer: float


class SessionPlan(_Answer):
    workflow: str
    maintenance_at: datetime = Field(
        description="When the session would start (times count from it)"
    )
    session_hosts: list[str]
    planner: Literal["parallel", "one_at_a_time"]
    hosts: list[PlannedHost] = Field(description="In the order they would be taken")
    waves: list[list[str]]
    moves: list[PlannedMove]
    lower_bound: MakespanBound
    estimate: float | None = Field(
        description="Seconds to the last host's maintenance, on the assumed durations; null "
        "when the plan is blocked"
    )
    durations: PlanDurations
    blocked: str | None = Field(description="Why the plan cannot go to the end")
    assumptions: list[str]


class SessionDeleted(_Answer):
    session_id: str
    state: SessionState = Field(description="The state it was in; it ends at a safe point")


class Host(_Answer):
    name: str
    kind: str = Field(description="compute, controller, ...")
    state: str = Field(description="PENDING, PREPARING, IN_MAINTENANCE, MAINTENANCE_COMPLETE...")
    disabled: bool = Field(description="Held out of service by this session now")
    maintained: bool
    details: dict[str, Any]
    updated_at: datetime


class Project(_Answer):
    project_id: str
    step: str | None = Field(description="The last step the project was told of")
    reply: str | None = Field(description="ACK_/NACK_<step>, NO_MANAGER or NO_REPLY")
    notified_at: datetime | None
    reply_at: datetime | None = Field(description="The deadline for the answer")
    replied_at: datetime | None
    instance_ids: list[str]
    instance_actions: dict[str, str]
    has_manager: bool


class Instance(_Answer):
    instance_id: str
    name: str
    project_id: str
    host: str
    size: int
    state: str
    action: str | None
    action_state: str | None
    details: dict[str, Any]


class ActionPlugin(_Answer):
    plugin: str
    type: str
    metadata: dict[str, Any]


class ActionRun(_Answer):
    id: int
    plugin: str
    type: str
    hosts: list[str]
    state: str = Field(description="RUNNING, DONE, FAILED or INTERRUPTED (its controller stopped)")
    rc: int | None
    message: str | None = Field(description="Why it failed")
    artifacts_dir: str | None
    started_at: datetime
    finished_at: datetime | None


class Deliveries(_Answer):
    """The session's notifications (one per subscriber) per delivery state."""

    pending: int
    delivered: int
    dead: int
    dropped: int = Field(
        description="Questions not sent (again): answered, or their reply window closed first"
    )
    http_statuses: dict[str, int] = Field(
        description="HTTP status last answered -> how many notifications (an `aodh` "
        "subscriber's error answer counts as delivered)"
    )


class DeadNotification(_Answer):
    message_id: str
    event_type: str
    state: str | None = Field(description="The step or state it told of")
    project_id: str | None
    subscription_id: str
    callback_url: str | None
    attempts: int
    last_error: str | None
    created_at: datetime


class Pause(_Answer):
    at: datetime
    by: str | None = Field(description="The admin (Keystone user), or gate:<name>")
    reason: str | None


class PastPause(_Answer):
    paused_at: datetime
    paused_by: str | None
    reason: str | None
    resumed_at: datetime | None = Field(description="None while it holds")
    resumed_by: str | None


class DatedWindowView(_Answer):
    start: datetime
    end: datetime


class WeeklyWindowView(_Answer):
    days: list[str]
    start: str = Field(description="HH:MM:SS, UTC")
    end: str = Field(description="HH:MM:SS, UTC; at or before start: past midnight")


class Windows(_Answer):
    windows: list[DatedWindowView]
    weekly: list[WeeklyWindowView]


class Held(_Answer):
    why: Literal["paused", "window"]
    since: datetime
    until: datetime | None = Field(description="When the next window opens (a window hold)")
    reason: str | None


class PrometheusGateView(_Answer):
    name: str
    url: str
    query: str
    healthy: Literal["empty", "below", "above"]
    threshold: float | None
    stages: list[Literal["before", "after"]]


class Gates(_Answer):
    prometheus: list[PrometheusGateView]
    timeout: int = Field(description="Seconds a gate may fail before the session is paused")
    interval: int = Field(description="Seconds between two checks of a failing gate")


class SessionDetail(SessionSummary):
    """The whole detail; with `parts`, only the parts named (the others are left out)."""

    metadata: dict[str, Any]
    download: list[str]
    paused: Pause | None = Field(
        default=None, description="Set while the session is paused: no new host or move starts"
    )
    pauses: list[PastPause] = Field(
        default=[], description="Every pause, oldest first: the timeline's"
    )
    windows: Windows | None = Field(
        default=None, description="When new hosts may start (UTC); None: at any time"
    )
    gates: Gates | None = Field(
        default=None,
        description="Health gates: Prometheus queries, with the timeout and interval the "
        "session's `gate` action plug-ins share; None: no gate",
    )
    held: Held | None = Field(
        default=None,
        description="What holds the session now, as the engine last recorded it (a pause, or "
        "outside its windows until the next opens)",
    )
    max_hosts_per_zone: int | None = Field(
        default=None, description="Hosts of one zone out of service at once, at most"
    )
    hosts: list[Host] = Field(default=[], description="In their order; a page with host_offset")
    projects: list[Project] = []
    instances: list[Instance] = Field(
        default=[], description="By instance id; a page with instance_offset / instance_limit"
    )
    action_plugins: list[ActionPlugin] = []
    action_runs: list[ActionRun] = []
    deliveries: Deliveries | None = None
    dead_notifications: list[DeadNotification] = []
    constraint_breaches: list[dict[str, Any]] = Field(
        default=[], description="ETSI constraints the workflow could not keep, per instance"
    )
    hosts_total: int | None = Field(
        default=None, description="How many hosts in all: only when the hosts are paged"
    )
    instances_total: int | None = Field(
        default=None, description="How many instances in all: only when they are paged"
    )


class Event(_Answer):
    id: int = Field(description="Increasing: pass the last one seen as `since`")
    at: datetime
    kind: str = Field(
        description="session.state, host.state, notification, project.reply, "
        "project.no_manager, project.reply.timeout, instance.action, action.start, "
        "action.task, action.end, ..."
    )
    subject: str | None = Field(description="What changed: a session, host, project, instance")
    old: str | None
    new: str | None
    data: dict[str, Any]


class EventList(_Answer):
    events: list[Event] = Field(description="Oldest first, at most `limit` of them")
    more: bool = Field(description="More events are left after these: ask again with `next`")
    next: int = Field(description="The `since` of the next page or poll")


# -- projects --------------------------------------------------------------------------------
class ProjectInstances(_Answer):
    instance_ids: list[str] = Field(description="The project's instances the step affects")


class ReplyAccepted(_Answer):
    session_id: str
    project_id: str
    state: str


# -- constraints -----------------------------------------------------------------------------
class InstanceConstraint(_Answer):
    instance_id: str
    project_id: str
    group_id: str | None
    instance_name: str | None
    max_interruption_time: int | None
    migration_type: str | None
    resource_mitigation: bool
    lead_time: int | None
    updated_at: datetime


class InstanceConstraintDeleted(_Answer):
    instance_id: str


class GroupConstraint(_Answer):
    group_id: str
    project_id: str
    group_name: str | None
    anti_affinity_group: bool
    max_instances_per_host: int | None
    max_impacted_members: int | None
    recovery_time: int | None
    resource_mitigation: bool
    updated_at: datetime


class GroupConstraintDeleted(_Answer):
    group_id: str


# -- subscriptions ---------------------------------------------------------------------------
class Subscription(_Answer):
    subscription_id: str
    event_types: list[EventType]
    project_id: str | None
    callback_url: str
    format: Literal["fenix", "aodh"]
    has_secret: bool = Field(description="The secret itself is never shown")
    created_at: datetime


class SubscriptionList(_Answer):
    subscriptions: list[Subscription]


class SubscriptionDeleted(_Answer):
    subscription_id: str
