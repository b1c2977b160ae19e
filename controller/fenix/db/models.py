"""The tables: what a session is made of, the constraints, subscriptions and the event log.

Only fenix.db touches SQLAlchemy. Timestamps are naive UTC (fenix.timeutil).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fenix.db.sealed import SealedText
from fenix.timeutil import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _session_fk() -> Mapped[str]:
    return mapped_column(String(36), ForeignKey("sessions.id", ondelete="CASCADE"), index=True)


class Session(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    workflow: Mapped[str] = mapped_column(String(64))
    maintenance_at: Mapped[datetime] = mapped_column(DateTime)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    download: Mapped[list[Any]] = mapped_column(default=list)
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The workflow's own progress marks inside a state (which conversation, which host)."""
    error: Mapped[str | None] = mapped_column(Text)
    failed_in: Mapped[str | None] = mapped_column(String(32))
    """The state the session was in when it failed, where PUT resumes it."""
    percent_done: Mapped[int] = mapped_column(Integer, default=0)
    max_hosts_per_zone: Mapped[int | None] = mapped_column(Integer)
    """At most this many of the session's hosts of one zone out of service at once; None:
    no limit per zone."""
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    pruned_at: Mapped[datetime | None] = mapped_column(DateTime)
    """When its event log, sent notifications and runner artifacts were pruned (retention)."""
    paused_at: Mapped[datetime | None] = mapped_column(DateTime)
    """Set while an admin (or a failing gate) holds the session: no new host, no new move."""
    paused_by: Mapped[str | None] = mapped_column(String(255))
    pause_reason: Mapped[str | None] = mapped_column(Text)
    windows: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    """When new hosts may start (fenix.windows): dated UTC windows and a weekly schedule;
    SQL NULL (not JSON null) when there are none, so a query can tell."""
    gates: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    """Health gates (fenix.gates): Prometheus queries, and the timeout and interval shared with
    the session's `gate` action plug-ins; None: no gate."""

    hosts: Mapped[list[SessionHost]] = relationship(
        back_populates="session", order_by="SessionHost.position", cascade="all, delete-orphan"
    )
    projects: Mapped[list[SessionProject]] = relationship(
        back_populates="session", order_by="SessionProject.project_id", cascade="all, delete-orphan"
    )
    instances: Mapped[list[SessionInstance]] = relationship(
        back_populates="session",
        order_by="SessionInstance.instance_id",
        cascade="all, delete-orphan",
    )
    actions: Mapped[list[ActionPlugin]] = relationship(
        back_populates="session", order_by="ActionPlugin.position", cascade="all, delete-orphan"
    )


class SessionChangeSeq(Base):
    """How many times what a session shows has changed: the API's ETags come from it.

    Bumped by fenix.db.changes at the end of every transaction that changes the session's
    rows, its events, runs or notifications. A row of its own, not a column of `sessions`, so
    that its lock is always the last a transaction takes (fenix.db.changes says why).
    """

    __tablename__ = "session_change_seq"

    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    change_seq: Mapped[int] = mapped_column(Integer, default=1)
    event_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many events the session's log has had: the last one's position."""


class SessionHost(Base):
    __tablename__ = "session_hosts"
    __table_args__ = (UniqueConstraint("session_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = _session_fk()
    name: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    """True while this session holds the host out of service: never left without a record."""
    maintained: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    session: Mapped[Session] = relationship(back_populates="hosts")


class SessionProject(Base):
    """One project's side of the conversation: the step it was told of and its answer."""

    __tablename__ = "session_projects"
    __table_args__ = (UniqueConstraint("session_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = _session_fk()
    project_id: Mapped[str] = mapped_column(String(255))
    step: Mapped[str | None] = mapped_column(String(32))
    step_key: Mapped[str | None] = mapped_column(String(255))
    """Which conversation of that step (e.g. PLANNED_MAINTENANCE on which host)."""
    instance_ids: Mapped[list[Any]] = mapped_column(default=list)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    reply_at: Mapped[datetime | None] = mapped_column(DateTime)
    reply: Mapped[str | None] = mapped_column(String(64))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime)
    instance_actions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    has_manager: Mapped[bool] = mapped_column(Boolean, default=False)

    session: Mapped[Session] = relationship(back_populates="projects")


class SessionAsk(Base):
    """One question to a project about one instance: the vnf workflow's per-instance steps.

    A project may be asked about several of its instances at once (hosts are maintained in
    parallel), so these rows sit beside the project's one project-wide step; a reply is matched
    to its row by instance id.
    """

    __tablename__ = "session_asks"
    __table_args__ = (UniqueConstraint("session_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = _session_fk()
    key: Mapped[str] = mapped_column(String(255))
    """Which question: step, host and instance, so one instance may be asked again later."""
    project_id: Mapped[str] = mapped_column(String(255))
    instance_id: Mapped[str] = mapped_column(String(255))
    step: Mapped[str] = mapped_column(String(32))
    allowed_actions: Mapped[list[Any]] = mapped_column(default=list)
    notified_at: Mapped[datetime] = mapped_column(DateTime)
    reply_at: Mapped[datetime] = mapped_column(DateTime)
    actions_at: Mapped[datetime] = mapped_column(DateTime)
    """No action on the instance before this: the notice plus the instance's lead_time."""
    has_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    reply: Mapped[str | None] = mapped_column(String(64))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime)
    instance_action: Mapped[str | None] = mapped_column(String(32))


class SessionInstance(Base):
    __tablename__ = "session_instances"
    __table_args__ = (
        UniqueConstraint("session_id", "instance_id"),
        # Emptying a host reads that host's rows: without it, each read went through every
        # instance of the session (the default workflow's cost per host grew with the cloud).
        Index("ix_session_instances_session_host", "session_id", "host"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = _session_fk()
    instance_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    host: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(32), default="ACTIVE")
    action: Mapped[str | None] = mapped_column(String(32))
    action_state: Mapped[str | None] = mapped_column(String(32))
    action_id: Mapped[str | None] = mapped_column(String(255))
    action_from: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    session: Mapped[Session] = relationship(back_populates="instances")


class ActionPlugin(Base):
    __tablename__ = "action_plugins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = _session_fk()
    plugin: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    session: Mapped[Session] = relationship(back_populates="actions")


class ActionRun(Base):
    """One launch of an action plug-in, over one host or several."""

    __tablename__ = "action_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = _session_fk()
    plugin: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    hosts: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(32))
    rc: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    artifacts_dir: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    engine_id: Mapped[str | None] = mapped_column(String(128))
    """The engine that launched it: a run it left RUNNING is found when another takes over."""
    node: Mapped[str | None] = mapped_column(String(255))
    """The machine its ansible-playbook runs on; only there can its processes be found."""


class InstanceConstraint(Base):
    """ETSI instance constraints, set by a project's manager."""

    __tablename__ = "instance_constraints"

    instance_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    group_id: Mapped[str | None] = mapped_column(String(255), index=True)
    instance_name: Mapped[str | None] = mapped_column(String(255))
    max_interruption_time: Mapped[int | None] = mapped_column(Integer)
    migration_type: Mapped[str | None] = mapped_column(String(32))
    resource_mitigation: Mapped[bool] = mapped_column(Boolean, default=False)
    lead_time: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class InstanceGroupConstraint(Base):
    """ETSI instance-group constraints, set by a project's manager."""

    __tablename__ = "instance_group_constraints"

    group_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    group_name: Mapped[str | None] = mapped_column(String(255))
    anti_affinity_group: Mapped[bool] = mapped_column(Boolean, default=False)
    max_instances_per_host: Mapped[int | None] = mapped_column(Integer)
    max_impacted_members: Mapped[int | None] = mapped_column(Integer)
    recovery_time: Mapped[int | None] = mapped_column(Integer)
    resource_mitigation: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(String(255), index=True)
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    callback_url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(SealedText)
    """Encrypted at rest with the configured secret key (fenix.db.sealed)."""
    format: Mapped[str] = mapped_column(String(16), default="fenix")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SubscriptionSeq(Base):
    """How many times the subscriptions have changed (one row): a controller keeps them in
    memory for as long as this has not moved (fenix.db.subscribers), instead of reading them
    for every notification. Bumped by fenix.db.changes at the commit of any change to them."""

    __tablename__ = "subscription_seq"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=1)


class OutboxMessage(Base):
    """A notification waiting for delivery, written with the state change that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(36), index=True)
    session_id: Mapped[str | None] = mapped_column(String(36), index=True)
    project_id: Mapped[str | None] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(36))
    body: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    question: Mapped[str | None] = mapped_column(String(512))
    """The question this message asks (the project's step key or the instance ask's key);
    None for a notice that needs no answer. Once it is answered or over, copies are dropped."""
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    """A question's reply_at: past it the question is over and is not sent any more."""
    http_status: Mapped[int | None] = mapped_column(Integer)
    """The HTTP status the subscriber last answered with (None: no answer, or the bus)."""


class Event(Base):
    """The append-only log: every state change and every message, with its time."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_session_position", "session_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(String(36), index=True)
    position: Mapped[int | None] = mapped_column(Integer)
    """Its place in its session's log, 1, 2, 3...: given at commit, under the session's change
    counter's lock, so in the order the events became visible (fenix.db.changes). The API's
    event id; a session-less event has none."""
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(255))
    old: Mapped[str | None] = mapped_column(String(64))
    new: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
