"""The repository: every query the API and the engine make, in one place.

A Repository lives for one transaction (fenix.db.database.Database.transaction). State changes
go through the `set_*_state` methods, which write the event log row in the same transaction,
so the log can never miss a change. Every write to what a session shows moves its change
counter (fenix.db.changes) in the same transaction: writes through the ORM by themselves, bulk
statements here by calling `mark_changed`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session as OrmSession

from fenix.db.changes import add_event, change_seq, mark_changed
from fenix.db.models import (
    ActionPlugin,
    ActionRun,
    Event,
    InstanceConstraint,
    InstanceGroupConstraint,
    OutboxMessage,
    Session,
    SessionAsk,
    SessionHost,
    SessionInstance,
    SessionProject,
    Subscription,
)
from fenix.db.subscribers import Subscriber, SubscriberCache
from fenix.states import FINAL_SESSION_STATES, REPLY_STEPS, HostState, SessionState
from fenix.timeutil import utcnow

_FINAL = [str(state) for state in FINAL_SESSION_STATES]
HOST_CLAIM_LOCK = 0x66656E6978
SUBSCRIPTION_QUOTA_LOCK = 0x66656E6979
"""The PostgreSQL advisory lock key under which hosts are checked free and claimed."""
CONSTRAINT_LOCK = 0x66656E697A
"""The one under which instance and group constraints are read and written."""


class Repository:
    def __init__(self, session: OrmSession, subscribers: SubscriberCache | None = None) -> None:
        self.orm = session
        self.subscribers = subscribers if subscribers is not None else SubscriberCache()

    # -- the event log -------------------------------------------------------------------
    def add_event(
        self,
        session_id: str | None,
        kind: str,
        subject: str | None = None,
        old: str | None = None,
        new: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> None:
        """Log an event; it is numbered and inserted when the transaction commits
        (fenix.db.changes), so this transaction's reads do not see it."""
        add_event(
            self.orm,
            {
                "session_id": session_id,
                "position": None,
                "at": at or utcnow(),
                "kind": kind,
                "subject": subject,
                "old": old,
                "new": new,
                "data": data or {},
            },
        )

    def events(self, session_id: str, after: int = 0, limit: int | None = None) -> Sequence[Event]:
        """The session's events after position `after`, oldest first; at most `limit` of them.
        Positions are given at commit, in commit order (fenix.db.changes): none is ever
        committed behind one already read."""
        query = (
            select(Event)
            .where(Event.session_id == session_id, Event.position > after)
            .order_by(Event.position)
            .limit(limit)
        )
        return self.orm.scalars(query).all()

    def has_event(self, session_id: str, kind: str, subject: str, new: str) -> bool:
        """Whether the session's log holds an event of this kind, subject and new value (a
        notice told to a project, a reply already noted)."""
        query = select(Event.id).where(
            Event.session_id == session_id,
            Event.kind == kind,
            Event.subject == subject,
            Event.new == new,
        )
        return self.orm.scalars(query.limit(1)).first() is not None

    def events_of_kinds(self, session_id: str, kinds: Iterable[str]) -> Sequence[Event]:
        """The session's events of these kinds, oldest first (pauses and holds, for the
        detail's timeline)."""
        query = (
            select(Event)
            .where(Event.session_id == session_id, Event.kind.in_(list(kinds)))
            .order_by(Event.position)
        )
        return self.orm.scalars(query).all()

    def change_seq(self, session_id: str, *, with_deleted: bool = False) -> int | None:
        """The session's change counter (fenix.db.changes); None: no such session."""
        return change_seq(self.orm, session_id, with_deleted=with_deleted)

    # -- sessions -------------------------------------------------------------------------
    def add_session(
        self,
        *,
        workflow: str,
        maintenance_at: datetime,
        meta: dict[str, Any],
        download: list[str],
        hosts: Iterable[tuple[str, str]],
        actions: Iterable[tuple[str, str, dict[str, Any]]],
        windows: dict[str, Any] | None = None,
        max_hosts_per_zone: int | None = None,
        zones: Mapping[str, str | None] | None = None,
    ) -> Session:
        """A new session in state MAINTENANCE with its hosts (name, kind) and action plug-ins;
        `windows` as fenix.windows stores them; `zones` names each host's zone as the cloud said
        it (kept in the host's details)."""
        session = Session(
            id=str(uuid.uuid4()),
            state=SessionState.MAINTENANCE,
            workflow=workflow,
            maintenance_at=maintenance_at,
            meta=meta,
            download=download,
            cursor={},
            windows=windows,
            max_hosts_per_zone=max_hosts_per_zone,
        )
        zones = zones or {}
        for position, (name, kind) in enumerate(hosts):
            zone = zones.get(name)
            session.hosts.append(
                SessionHost(
                    name=name,
                    kind=kind,
                    position=position,
                    state="PENDING",
                    details={"zone": zone} if zone is not None else {},
                )
            )
        for position, (plugin, type_, meta_) in enumerate(actions):
            session.actions.append(
                ActionPlugin(plugin=plugin, type=type_, position=position, meta=meta_)
            )
        self.orm.add(session)
        self.orm.flush()
        self.add_event(session.id, "session.created", session.id, None, session.state)
        return session

    def get_session(self, session_id: str, *, with_deleted: bool = False) -> Session | None:
        session = self.orm.get(Session, session_id)
        if session is None or (session.deleted and not with_deleted):
            return None
        return session

    def lock_session(self, session_id: str) -> Session | None:
        """The session row, locked against concurrent writers until the transaction ends, and
        read after the lock is held: a read-check-write of it (a reply, a pause) is serialised.

        SQLite has no row locks and its driver begins a transaction only at the first write,
        so two requests would both read the row before either wrote: its one write lock is
        taken first instead (every writer of the file waits for the commit)."""
        if not self._postgresql:
            self._take_sqlite_write_lock()
        query = (
            select(Session)
            .where(Session.id == session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.orm.scalars(query).first()

    def list_session_ids(self) -> list[str]:
        query = select(Session.id).where(Session.deleted.is_(False)).order_by(Session.created_at)
        return list(self.orm.scalars(query))

    def set_session_state(
        self, session: Session, new: SessionState | str, reason: str | None = None
    ) -> None:
        old = session.state
        session.state = str(new)
        data = {"reason": reason} if reason else {}
        self.add_event(session.id, "session.state", session.id, old, str(new), data)

    def busy_hosts(self, names: Iterable[str]) -> dict[str, str]:
        """Which of these hosts another unfinished session holds: name -> session id.

        Callers check and then claim hosts in the same transaction, so this first takes the
        host-claim lock until that transaction ends: another controller process on the same
        database checking at the same moment waits, then sees the claim.
        """
        self._serialize(HOST_CLAIM_LOCK)
        query = (
            select(SessionHost.name, Session.id)
            .join(Session, SessionHost.session_id == Session.id)
            .where(SessionHost.name.in_(list(names)), Session.state.not_in(_FINAL))
        )
        return {name: session_id for name, session_id in self.orm.execute(query)}

    def hosts_out_for_others(self, session_id: str) -> list[str]:
        """Hosts that other unfinished sessions have out of service now: the room they hold
        comes back when those hosts do."""
        query = (
            select(SessionHost.name)
            .join(Session, SessionHost.session_id == Session.id)
            .where(
                Session.id != session_id,
                Session.state.not_in(_FINAL),
                SessionHost.state.in_([HostState.PREPARING, HostState.IN_MAINTENANCE]),
            )
        )
        return list(self.orm.scalars(query))

    def _serialize(self, key: int) -> None:
        """Hold a lock named `key` until the transaction ends, before reading what is written
        after. Without it two processes both see room (free hosts, a quota not reached):
        PostgreSQL runs the transactions side by side (READ COMMITTED), and SQLite takes its
        write lock only at the first write, after both have read."""
        if self._postgresql:
            self.orm.execute(select(func.pg_advisory_xact_lock(key)))
        else:
            self._take_sqlite_write_lock()

    @property
    def _postgresql(self) -> bool:
        return self.orm.get_bind().dialect.name == "postgresql"

    def _take_sqlite_write_lock(self) -> None:
        """A write that changes nothing takes SQLite's one write lock now (waiting, up to the
        busy timeout, for another writer's commit)."""
        self.orm.execute(
            update(Session)
            .where(Session.id.is_(None))
            .values(owner=Session.owner)
            .execution_options(synchronize_session=False)
        )

    def runnable_session_ids(self, now: datetime, owner: str) -> list[str]:
        """Sessions with work left, that are due and whose lease is free, expired or ours."""
        holds_disabled_host = _holds_disabled_host()
        query = (
            select(Session.id)
            .where(
                or_(
                    Session.state.not_in(_FINAL),
                    # A deleted session still gives back the hosts it holds, even failed.
                    and_(Session.stop_requested.is_(True), holds_disabled_host),
                ),
                # A deleted session is stopped now, even one planned for later; one planned
                # for later is taken at once to tell the managers (MAINTENANCE), as Fenix
                # does, and waits there until its maintenance_at.
                or_(
                    Session.maintenance_at <= now,
                    Session.stop_requested.is_(True),
                    Session.state == str(SessionState.MAINTENANCE),
                ),
                or_(Session.owner.is_(None), Session.owner == owner, Session.lease_until < now),
            )
            .order_by(Session.created_at)
        )
        return list(self.orm.scalars(query))

    def prunable_session_ids(self, finished_before: datetime, limit: int = 100) -> list[str]:
        """Finished sessions (final, holding no host) untouched since `finished_before` and
        not pruned yet, oldest first."""
        holds_disabled_host = _holds_disabled_host()
        query = (
            select(Session.id)
            .where(
                Session.state.in_(_FINAL),
                Session.updated_at < finished_before,
                Session.pruned_at.is_(None),
                ~holds_disabled_host,
            )
            .order_by(Session.updated_at)
            .limit(limit)
        )
        return list(self.orm.scalars(query))

    def prune_session_records(self, session_id: str, now: datetime) -> tuple[int, int]:
        """Delete a finished session's events and settled notifications; (events, outbox)."""
        events = self.orm.execute(delete(Event).where(Event.session_id == session_id))
        outbox = self.orm.execute(
            delete(OutboxMessage).where(
                OutboxMessage.session_id == session_id, OutboxMessage.state != "PENDING"
            )
        )
        self.orm.execute(update(Session).where(Session.id == session_id).values(pruned_at=now))
        mark_changed(self.orm, [session_id])
        return events.rowcount, outbox.rowcount

    def acquire_lease(self, session_id: str, owner: str, seconds: float) -> bool:
        """Take or renew the session's lease in one atomic UPDATE; False if another holds it."""
        now = utcnow()
        result = self.orm.execute(
            update(Session)
            .where(
                Session.id == session_id,
                or_(Session.owner.is_(None), Session.owner == owner, Session.lease_until < now),
            )
            # A lease is no change to the session: its updated_at (and ETag) stay.
            .values(
                owner=owner,
                lease_until=now + timedelta(seconds=seconds),
                updated_at=Session.updated_at,
            )
        )
        return result.rowcount == 1

    def release_lease(self, session_id: str, owner: str) -> None:
        self.orm.execute(
            update(Session)
            .where(Session.id == session_id, Session.owner == owner)
            .values(owner=None, lease_until=None, updated_at=Session.updated_at)
        )

    # -- hosts, projects, instances ------------------------------------------------------
    def set_host_state(self, host: SessionHost, new: str, **data: Any) -> None:
        old = host.state
        host.state = new
        self.add_event(host.session_id, "host.state", host.name, old, new, data)

    def project(self, session: Session, project_id: str) -> SessionProject:
        for project in session.projects:
            if project.project_id == project_id:
                return project
        project = SessionProject(project_id=project_id, instance_ids=[], instance_actions={})
        session.projects.append(project)
        self.orm.flush()
        return project

    def instance(self, session: Session, instance_id: str) -> SessionInstance | None:
        for instance in session.instances:
            if instance.instance_id == instance_id:
                return instance
        return None

    def session_hosts(
        self, session_id: str, offset: int = 0, limit: int | None = None
    ) -> Sequence[Row]:
        """The session's hosts in their order, or a page of them, as read-only rows."""
        query = (
            _row_select(SessionHost)
            .where(SessionHost.session_id == session_id)
            .order_by(SessionHost.position)
            .offset(offset)
            .limit(limit)
        )
        return self.orm.execute(query).all()

    def session_instances_page(
        self, session_id: str, offset: int = 0, limit: int | None = None
    ) -> Sequence[Row]:
        """The session's instances by id, or a page of them, as read-only rows."""
        query = (
            _row_select(SessionInstance)
            .where(SessionInstance.session_id == session_id)
            .order_by(SessionInstance.instance_id)
            .offset(offset)
            .limit(limit)
        )
        return self.orm.execute(query).all()

    def count_rows(self, model: type[SessionHost | SessionInstance], session_id: str) -> int:
        """How many hosts or instances the session has (the total of a paged list)."""
        query = select(func.count()).select_from(model).where(model.session_id == session_id)
        return self.orm.scalar(query) or 0

    def instance_details(self, session_id: str) -> list[dict[str, Any]]:
        """Only the `details` of the session's instances, by instance id (their breaches)."""
        query = (
            select(SessionInstance.details)
            .where(SessionInstance.session_id == session_id)
            .order_by(SessionInstance.instance_id)
        )
        return list(self.orm.scalars(query))

    def session_projects(self, session_id: str) -> Sequence[Row]:
        """The session's projects, as read-only rows."""
        query = (
            _row_select(SessionProject)
            .where(SessionProject.session_id == session_id)
            .order_by(SessionProject.project_id)
        )
        return self.orm.execute(query).all()

    def session_action_plugins(self, session_id: str) -> list[ActionPlugin]:
        query = (
            select(ActionPlugin)
            .where(ActionPlugin.session_id == session_id)
            .order_by(ActionPlugin.position)
        )
        return list(self.orm.scalars(query))

    def add_instance(self, session: Session, **fields: Any) -> SessionInstance:
        instance = SessionInstance(**fields)
        session.instances.append(instance)
        return instance

    def session_instances(
        self, session_id: str, instance_ids: Iterable[str] | None = None
    ) -> list[SessionInstance]:
        """The session's instance rows (only these ids), without loading the whole session."""
        query = select(SessionInstance).where(SessionInstance.session_id == session_id)
        if instance_ids is not None:
            query = query.where(SessionInstance.instance_id.in_(list(instance_ids)))
        return list(self.orm.scalars(query))

    def session_instances_on(self, session_id: str, hosts: Iterable[str]) -> list[SessionInstance]:
        """The session's instance rows recorded on these hosts and still there (not deleted
        or evicted): one host's, without reading the session's thousands of others."""
        query = select(SessionInstance).where(
            SessionInstance.session_id == session_id,
            SessionInstance.host.in_(list(hosts)),
            SessionInstance.state.not_in(("DELETED", "EVICTED")),
        )
        # Sorted here, not in SQL: an ORDER BY instance_id led SQLite to the (session_id,
        # instance_id) index, through every row of the session, instead of the one by host.
        rows = self.orm.scalars(query).all()
        return sorted(rows, key=lambda row: row.instance_id)

    def add_session_instance(self, session_id: str, **fields: Any) -> SessionInstance:
        """A new instance row, without loading the session's others (add_instance appends to
        the session's collection, which reads it whole)."""
        instance = SessionInstance(session_id=session_id, **fields)
        self.orm.add(instance)
        return instance

    def session_host(self, session_id: str, name: str) -> SessionHost | None:
        """One of the session's host rows."""
        query = select(SessionHost).where(
            SessionHost.session_id == session_id, SessionHost.name == name
        )
        return self.orm.scalars(query).first()

    def session_host_rows(self, session_id: str) -> Sequence[Row]:
        """The session's hosts in their order, as plain rows of the columns the engine
        chooses by (no ORM objects: a choice per host over 1,000 hosts would build a
        million)."""
        query = (
            select(
                SessionHost.name,
                SessionHost.kind,
                SessionHost.state,
                SessionHost.position,
                SessionHost.disabled,
                SessionHost.maintained,
            )
            .where(SessionHost.session_id == session_id)
            .order_by(SessionHost.position)
        )
        return self.orm.execute(query).all()

    def count_session_hosts(self, session_id: str) -> tuple[int, int]:
        """(hosts, hosts maintained) of the session."""
        query = select(
            func.count(), func.coalesce(func.sum(case((SessionHost.maintained, 1), else_=0)), 0)
        ).where(SessionHost.session_id == session_id)
        total, maintained = self.orm.execute(query).one()
        return int(total), int(maintained)

    # -- per-instance asks (the vnf workflow) ----------------------------------------------
    def add_ask(self, **fields: Any) -> SessionAsk:
        ask = SessionAsk(**fields)
        self.orm.add(ask)
        return ask

    def asks(
        self,
        session_id: str,
        *,
        open_only: bool = False,
        project_id: str | None = None,
        keys: Iterable[str] | None = None,
    ) -> list[SessionAsk]:
        """The session's per-instance asks, oldest first; open ones are still unanswered."""
        query = select(SessionAsk).where(SessionAsk.session_id == session_id)
        if open_only:
            query = query.where(SessionAsk.reply.is_(None))
        if project_id is not None:
            query = query.where(SessionAsk.project_id == project_id)
        if keys is not None:
            query = query.where(SessionAsk.key.in_(list(keys)))
        return list(self.orm.scalars(query.order_by(SessionAsk.id)))

    # -- action plug-in runs ---------------------------------------------------------------
    def add_action_run(
        self,
        session_id: str,
        plugin: str,
        type_: str,
        hosts: list[str],
        *,
        engine_id: str | None = None,
        node: str | None = None,
    ) -> ActionRun:
        run = ActionRun(
            session_id=session_id,
            plugin=plugin,
            type=type_,
            hosts=hosts,
            state="RUNNING",
            engine_id=engine_id,
            node=node,
        )
        self.orm.add(run)
        self.orm.flush()
        return run

    def action_runs(self, session_id: str) -> Sequence[ActionRun]:
        query = select(ActionRun).where(ActionRun.session_id == session_id).order_by(ActionRun.id)
        return self.orm.scalars(query).all()

    def running_action_runs(self, session_id: str) -> Sequence[ActionRun]:
        """The session's runs still marked RUNNING (left by an engine that stopped)."""
        query = (
            select(ActionRun)
            .where(ActionRun.session_id == session_id, ActionRun.state == "RUNNING")
            .order_by(ActionRun.id)
        )
        return self.orm.scalars(query).all()

    def get_action_run(self, run_id: int) -> ActionRun | None:
        return self.orm.get(ActionRun, run_id)

    # -- constraints -----------------------------------------------------------------------
    def lock_constraints(self) -> None:
        """Serialise the writers of constraints until the transaction ends: two first PUTs of
        one instance would both find no row and both insert it (a 500 for the second)."""
        self._serialize(CONSTRAINT_LOCK)

    def get_instance_constraint(self, instance_id: str) -> InstanceConstraint | None:
        return self.orm.get(InstanceConstraint, instance_id)

    def put_instance_constraint(
        self, instance_id: str, fields: dict[str, Any]
    ) -> InstanceConstraint:
        row = self.orm.get(InstanceConstraint, instance_id) or InstanceConstraint(
            instance_id=instance_id
        )
        for name, value in fields.items():
            setattr(row, name, value)
        self.orm.add(row)
        self.add_event(None, "constraint.instance", instance_id, data=dict(fields))
        return row

    def get_group_constraint(self, group_id: str) -> InstanceGroupConstraint | None:
        return self.orm.get(InstanceGroupConstraint, group_id)

    def put_group_constraint(
        self, group_id: str, fields: dict[str, Any]
    ) -> InstanceGroupConstraint:
        row = self.orm.get(InstanceGroupConstraint, group_id) or InstanceGroupConstraint(
            group_id=group_id
        )
        for name, value in fields.items():
            setattr(row, name, value)
        self.orm.add(row)
        self.add_event(None, "constraint.group", group_id, data=dict(fields))
        return row

    def constraint_history(self, subject: str) -> Sequence[Event]:
        """Every version of an instance's or a group's constraints, oldest first: each PUT is
        logged with the whole of its values, each DELETE as such."""
        query = (
            select(Event)
            .where(
                Event.session_id.is_(None),
                Event.kind.startswith("constraint."),
                Event.subject == subject,
            )
            .order_by(Event.id)
        )
        return self.orm.scalars(query).all()

    def delete_row(self, row: object) -> None:
        self.orm.delete(row)

    def instance_constraints(self, instance_ids: Iterable[str]) -> dict[str, InstanceConstraint]:
        query = select(InstanceConstraint).where(
            InstanceConstraint.instance_id.in_(list(instance_ids))
        )
        return {row.instance_id: row for row in self.orm.scalars(query)}

    def group_constraints(self, group_ids: Iterable[str]) -> dict[str, InstanceGroupConstraint]:
        query = select(InstanceGroupConstraint).where(
            InstanceGroupConstraint.group_id.in_(list(group_ids))
        )
        return {row.group_id: row for row in self.orm.scalars(query)}

    # -- subscriptions and the outbox ----------------------------------------------------
    def add_subscription(self, **fields: Any) -> Subscription:
        subscription = Subscription(**{"id": str(uuid.uuid4()), **fields})
        self.orm.add(subscription)
        self.orm.flush()
        return subscription

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        return self.orm.get(Subscription, subscription_id)

    def count_project_subscriptions(self, project_id: str) -> int:
        """The project's subscriptions, counted under a lock held to the end of the transaction,
        so that two at once cannot both pass a quota."""
        self._serialize(SUBSCRIPTION_QUOTA_LOCK)
        query = select(func.count()).where(Subscription.project_id == project_id)
        return self.orm.scalar(query) or 0

    def list_subscriptions(self, project_id: str | None = None) -> Sequence[Subscription]:
        query = select(Subscription).order_by(Subscription.created_at)
        if project_id is not None:
            query = query.where(Subscription.project_id == project_id)
        return self.orm.scalars(query).all()

    def subscriptions_for(self, event_types: set[str], project_id: str | None) -> list[Subscriber]:
        """Subscriptions that want one of these event types for this project (or for all), as
        kept in memory between changes (fenix.db.subscribers)."""
        return self.subscribers.matching(self.orm, event_types, project_id)

    def add_outbox(self, **fields: Any) -> OutboxMessage:
        message = OutboxMessage(state="PENDING", **fields)
        self.orm.add(message)
        return message

    PENDING_READ_LIMIT = 5000

    def pending_outbox(self, limit: int = PENDING_READ_LIMIT) -> Sequence[Row]:
        """Every pending message, oldest first, as the few columns that choose what goes next
        (fenix.notify.delivery picks one per subscriber from them)."""
        query = (
            select(
                OutboxMessage.id,
                OutboxMessage.subscription_id,
                OutboxMessage.project_id,
                OutboxMessage.question,
                OutboxMessage.attempts,
                OutboxMessage.next_attempt_at,
                OutboxMessage.expires_at,
            )
            .where(OutboxMessage.state == "PENDING")
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return self.orm.execute(query).all()

    def drop_outbox(
        self,
        reason: str,
        *,
        now: datetime | None = None,
        session_id: str | None = None,
        project_id: str | None = None,
        questions: Sequence[str] = (),
    ) -> Sequence[OutboxMessage]:
        """Drop pending questions: those past `now` never tried yet, or those of `questions`
        (answered or over) of one session and project. Returns the dropped rows.

        The rows are locked as they are read (FOR UPDATE, on PostgreSQL): a row whose send is
        being recorded meanwhile is read again once that commits, and left if no longer
        pending, so a drop never overwrites a delivery."""
        query = select(OutboxMessage).where(
            OutboxMessage.state == "PENDING", OutboxMessage.question.is_not(None)
        )
        if now is not None:
            query = query.where(OutboxMessage.expires_at <= now, OutboxMessage.attempts == 0)
        else:
            query = query.where(
                OutboxMessage.session_id == session_id,
                OutboxMessage.project_id == project_id,
                OutboxMessage.question.in_(list(questions)),
            )
        rows = self.orm.scalars(query.order_by(OutboxMessage.id).with_for_update()).all()
        for row in rows:
            row.state = "DROPPED"
            row.last_error = reason
        return rows

    def expired_tried_questions(self, now: datetime) -> Sequence[OutboxMessage]:
        """Pending questions whose reply window closed by `now`, tried and failed at least once,
        and not being sent right now (a copy in flight holds its claim past `now`)."""
        query = select(OutboxMessage).where(
            OutboxMessage.state == "PENDING",
            OutboxMessage.question.is_not(None),
            OutboxMessage.expires_at <= now,
            OutboxMessage.attempts > 0,
            OutboxMessage.next_attempt_at <= now,
        )
        return self.orm.scalars(query.order_by(OutboxMessage.id).with_for_update()).all()

    def outbox_for_session(self, session_id: str) -> Sequence[OutboxMessage]:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.session_id == session_id)
            .order_by(OutboxMessage.id)
        )
        return self.orm.scalars(query).all()

    def get_outbox(self, message_id: int, *, lock: bool = False) -> OutboxMessage | None:
        """One outbox row; with `lock`, read fresh and held until the commit, so an outcome is
        recorded on the row as it is now and not over a drop another transaction just made."""
        if not lock:
            return self.orm.get(OutboxMessage, message_id)
        return self.orm.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)

    def claim_outbox(self, outbox_id: int, now: datetime, until: datetime) -> bool:
        """Take a due pending message for sending until `until`; False if another took it."""
        result = self.orm.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == outbox_id,
                OutboxMessage.state == "PENDING",
                OutboxMessage.next_attempt_at <= now,
            )
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def release_outbox(self, outbox_ids: list[int], now: datetime) -> None:
        """Give claimed, never tried messages back: due at `now` for any worker."""
        self.orm.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(outbox_ids), OutboxMessage.state == "PENDING")
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )

    def outbox_counts(self, session_id: str) -> dict[str, int]:
        """How many of the session's notifications are in each delivery state."""
        query = (
            select(OutboxMessage.state, func.count())
            .where(OutboxMessage.session_id == session_id)
            .group_by(OutboxMessage.state)
        )
        return {state: count for state, count in self.orm.execute(query)}

    def outbox_http_statuses(self, session_id: str) -> dict[int, int]:
        """How many of the session's notifications were last answered with each HTTP status."""
        query = (
            select(OutboxMessage.http_status, func.count())
            .where(OutboxMessage.session_id == session_id, OutboxMessage.http_status.is_not(None))
            .group_by(OutboxMessage.http_status)
        )
        return {status: count for status, count in self.orm.execute(query)}

    def dead_outbox(self, session_id: str) -> Sequence[OutboxMessage]:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.session_id == session_id, OutboxMessage.state == "DEAD")
            .order_by(OutboxMessage.id)
        )
        return self.orm.scalars(query).all()

    def project_outbox_since(
        self, session_id: str, project_id: str, event_type: str, since: datetime
    ) -> Sequence[OutboxMessage]:
        """A project's notifications of one type in a session, written at or after `since`."""
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.session_id == session_id,
                OutboxMessage.project_id == project_id,
                OutboxMessage.event_type == event_type,
                OutboxMessage.created_at >= since,
            )
            .order_by(OutboxMessage.id)
        )
        return self.orm.scalars(query).all()

    # -- figures for /metrics (fenix.metrics reads them at each scrape) ----------------------
    def count_sessions_by_state(self) -> dict[str, int]:
        """Sessions not deleted, per state."""
        query = (
            select(Session.state, func.count())
            .where(Session.deleted.is_(False))
            .group_by(Session.state)
        )
        return {state: count for state, count in self.orm.execute(query)}

    def held_sessions(self) -> list[tuple[str, datetime | None, dict[str, Any] | None]]:
        """Unfinished sessions that are paused or carry windows: (id, paused_at, windows)."""
        query = select(Session.id, Session.paused_at, Session.windows).where(
            Session.deleted.is_(False),
            Session.state.not_in(_FINAL),
            or_(Session.paused_at.is_not(None), Session.windows.is_not(None)),
        )
        return [tuple(row) for row in self.orm.execute(query)]

    def count_running_hosts_by_state(self) -> dict[str, int]:
        """Hosts of the sessions still running, per host state."""
        query = (
            select(SessionHost.state, func.count())
            .join(Session, SessionHost.session_id == Session.id)
            .where(Session.state.not_in(_FINAL))
            .group_by(SessionHost.state)
        )
        return {state: count for state, count in self.orm.execute(query)}

    def count_disabled_hosts(self) -> int:
        """Hosts some session holds out of service now (a deleted or failed one too)."""
        query = select(func.count()).select_from(SessionHost).where(SessionHost.disabled.is_(True))
        return self.orm.scalar(query) or 0

    def count_awaited_replies(self) -> int:
        """Projects of running sessions told a step and not yet answered."""
        query = (
            select(func.count())
            .select_from(SessionProject)
            .join(Session, SessionProject.session_id == Session.id)
            .where(
                Session.state.not_in(_FINAL),
                SessionProject.reply.is_(None),
                SessionProject.step.in_([str(step) for step in REPLY_STEPS]),
            )
        )
        return self.orm.scalar(query) or 0

    def count_outbox(self) -> list[tuple[str, str, int, int]]:
        """(event type, delivery state, messages, delivery attempts) over the whole outbox."""
        query = select(
            OutboxMessage.event_type,
            OutboxMessage.state,
            func.count(),
            func.coalesce(func.sum(OutboxMessage.attempts), 0),
        ).group_by(OutboxMessage.event_type, OutboxMessage.state)
        return [
            (kind, state, int(n), int(tries)) for kind, state, n, tries in self.orm.execute(query)
        ]


def _holds_disabled_host():
    """For a query over sessions: the session still holds a host it took out of service."""
    return (
        select(SessionHost.id)
        .where(SessionHost.session_id == Session.id, SessionHost.disabled.is_(True))
        .exists()
    )


def _row_select(model: type) -> Select:
    """SELECT every column of `model` as a plain row whose fields are named as the model's
    attributes. For what the API only renders: a 200-host detail would otherwise build (and
    track) ~800 ORM objects, four fifths of its cost."""
    return select(*(getattr(model, column.key) for column in model.__mapper__.column_attrs))
