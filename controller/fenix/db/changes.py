"""Session change counters: bumped in the transaction that changes what a session shows.

The API answers `304 Not Modified` from a session's counter alone, without reading its hosts
or instances (fenix.api.conditional), so the counter must move with every committed change to
what the summary, the detail or the event log show: the session's row, its hosts, instances,
projects, action plug-ins and runs, its events and its notifications. A `before_flush` listener
notes which sessions a transaction's ORM writes touch; a `before_commit` listener then adds one
to each of their counters, in the same transaction. Statements that bypass the ORM's unit of
work (a bulk DELETE of events when pruning) call `mark_changed` themselves.

Why the counters live in a table of their own and are bumped last, at commit: a transaction
that changed some row and then bumped a column of `sessions` would take the session row's lock
after that row's, while the engine and the API lock the session row first (`lock_session`) and
then write its rows or its notifications. The two could wait for each other (PostgreSQL would
then abort one: a failed engine step). A counter row taken only as a transaction's very last
lock, in the order of session ids, never waits for a lock that its holder waits for in turn.
Readers never wait: PostgreSQL's and SQLite's (WAL) readers take no row locks.

The same lock numbers each session's new events (`Event.position`). On PostgreSQL, ids come
from a sequence when a row is inserted, not when it is committed: a transaction that wrote
event 41 may commit after one that wrote 42, and a reader that had seen 42 and asked for
what came after it would never see 41. A position is given under the counter row's lock, which
is held to the commit, so positions become visible in their order: paging by position misses
nothing.

Events are not ORM objects until then: `add_event` keeps each as a row of values in the
transaction, and the commit inserts them all in one statement with their positions, once
numbered. (Flushed as objects, each event cost an INSERT during the transaction and an UPDATE
of its position at the commit, and the unit of work's bookkeeping: half the engine's time in
the database went there.) A transaction does not read back its own uncommitted events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from fenix.db.models import (
    ActionPlugin,
    ActionRun,
    Event,
    OutboxMessage,
    Session,
    SessionChangeSeq,
    SessionHost,
    SessionInstance,
    SessionProject,
    Subscription,
    SubscriptionSeq,
)
from fenix.db.subscribers import WRITTEN as _SUBSCRIPTIONS

_CHANGED = "fenix.changed_sessions"
_CREATED = "fenix.created_sessions"
_NEW_EVENTS = "fenix.new_events"

_SHOWN_ROWS = (
    SessionHost,
    SessionInstance,
    SessionProject,
    ActionPlugin,
    ActionRun,
    Event,
    OutboxMessage,
)
"""Rows of a session that its detail or its event log shows (a notification through the
detail's `deliveries` and `dead_notifications`)."""


def track_changes(factory: sessionmaker) -> None:
    """Keep the change counters of every session written through this factory's sessions."""
    event.listen(factory, "before_flush", _note_flushed)
    event.listen(factory, "before_commit", _bump)
    event.listen(factory, "after_transaction_end", _forget)


def add_event(orm: OrmSession, row: dict[str, Any]) -> None:
    """Keep an event (its column values, `position` None) to be numbered and inserted at the
    commit, in the order the transaction wrote it."""
    orm.info.setdefault(_NEW_EVENTS, []).append(row)


def mark_changed(orm: OrmSession, session_ids: Iterable[str]) -> None:
    """For writes the unit of work does not see: these sessions changed in this transaction."""
    orm.info.setdefault(_CHANGED, set()).update(session_ids)


def _note_flushed(orm: OrmSession, _context: Any, _instances: Any) -> None:
    changed: set[str] = orm.info.setdefault(_CHANGED, set())
    created: set[str] = orm.info.setdefault(_CREATED, set())
    if any(isinstance(row, Subscription) for row in (*orm.new, *orm.dirty, *orm.deleted)):
        orm.info[_SUBSCRIPTIONS] = True
    for row in orm.new:
        if isinstance(row, Session):
            created.add(row.id)
        if isinstance(row, _SHOWN_ROWS):
            changed.update(_owner(row))
    for row in orm.dirty:
        if isinstance(row, Session):
            if orm.is_modified(row, include_collections=False):
                changed.add(row.id)
        elif isinstance(row, _SHOWN_ROWS) and orm.is_modified(row):
            changed.update(_owner(row))
    for row in orm.deleted:
        if isinstance(row, Session):
            changed.add(row.id)
        elif isinstance(row, _SHOWN_ROWS):
            changed.update(_owner(row))
        elif isinstance(row, Subscription):
            # A dead notification shows its subscription's callback URL while there is one.
            query = select(OutboxMessage.session_id).where(
                OutboxMessage.subscription_id == row.id,
                OutboxMessage.state == "DEAD",
                OutboxMessage.session_id.is_not(None),
            )
            changed.update(orm.scalars(query.distinct()))


def _owner(row: Any) -> list[str]:
    """The session a row belongs to: by its column, or (before the first flush of a row added
    to a session's collection) by the relationship."""
    session_id = row.session_id
    if session_id is None:
        parent = row.__dict__.get("session")
        session_id = parent.id if parent is not None else None
    return [session_id] if session_id is not None else []


def _bump(orm: OrmSession) -> None:
    if orm.in_nested_transaction():
        return  # a savepoint's release: the outer transaction's commit bumps
    orm.flush()  # the last writes' sessions noted before counting
    created: set[str] = orm.info.pop(_CREATED, set())
    changed: set[str] = orm.info.pop(_CHANGED, set())
    new_events: list[dict[str, Any]] = orm.info.pop(_NEW_EVENTS, [])
    events = _events_by_session(new_events)
    for session_id in sorted(created | changed | set(events)):
        session_events = events.get(session_id, [])
        if session_id in created:
            _start_counter(orm, session_id, session_events)
            continue
        counted = orm.execute(
            update(SessionChangeSeq)
            .where(SessionChangeSeq.session_id == session_id)
            .values(
                change_seq=SessionChangeSeq.change_seq + 1,
                event_count=SessionChangeSeq.event_count + len(session_events),
            )
            .returning(SessionChangeSeq.event_count)
            .execution_options(synchronize_session=False)
        ).scalar()
        if counted is not None:
            _number(session_events, counted - len(session_events))
        elif orm.get(Session, session_id) is not None:
            # A session written before its counter was (by hand, or a restored dump).
            _start_counter(orm, session_id, session_events)
    if new_events:
        orm.execute(insert(Event), new_events)  # after the counters: under their locks
    if orm.info.pop(_SUBSCRIPTIONS, False):
        # Last, after the sessions' counters, as every transaction that takes both does.
        orm.execute(
            update(SubscriptionSeq)
            .where(SubscriptionSeq.id == 1)
            .values(seq=SubscriptionSeq.seq + 1)
            .execution_options(synchronize_session=False)
        )


def _events_by_session(new_events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The transaction's new events of each session, in the order they were written."""
    by_session: dict[str, list[dict[str, Any]]] = {}
    for row in new_events:
        if row["session_id"] is not None:
            by_session.setdefault(row["session_id"], []).append(row)
    return by_session


def _start_counter(orm: OrmSession, session_id: str, new_events: list[dict[str, Any]]) -> None:
    values = {"session_id": session_id, "change_seq": 1, "event_count": len(new_events)}
    orm.execute(insert(SessionChangeSeq).values(**values))
    _number(new_events, 0)


def _number(new_events: list[dict[str, Any]], last: int) -> None:
    for offset, row in enumerate(new_events, start=1):
        row["position"] = last + offset


def _forget(orm: OrmSession, transaction: Any) -> None:
    if transaction.parent is None:
        orm.info.pop(_CHANGED, None)
        orm.info.pop(_CREATED, None)
        orm.info.pop(_NEW_EVENTS, None)
        orm.info.pop(_SUBSCRIPTIONS, None)


def change_seq(orm: OrmSession, session_id: str, *, with_deleted: bool = False) -> int | None:
    """The session's counter; None when there is no such session (or it is deleted)."""
    query = (
        select(Session.deleted, SessionChangeSeq.change_seq)
        .outerjoin(SessionChangeSeq, SessionChangeSeq.session_id == Session.id)
        .where(Session.id == session_id)
    )
    row = orm.execute(query).first()
    if row is None or (row.deleted and not with_deleted):
        return None
    return row.change_seq or 0
