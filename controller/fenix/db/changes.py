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
)

_CHANGED = "fenix.changed_sessions"
_CREATED = "fenix.created_sessions"

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


def mark_changed(orm: OrmSession, session_ids: Iterable[str]) -> None:
    """For writes the unit of work does not see: these sessions changed in this transaction."""
    orm.info.setdefault(_CHANGED, set()).update(session_ids)


def _note_flushed(orm: OrmSession, _context: Any, _instances: Any) -> None:
    changed: set[str] = orm.info.setdefault(_CHANGED, set())
    created: set[str] = orm.info.setdefault(_CREATED, set())
    for row in orm.new:
        if isinstance(row, Session):
            created.add(row.id)
        elif isinstance(row, _SHOWN_ROWS):
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
    for session_id in sorted(created | changed):
        if session_id in created:
            orm.execute(insert(SessionChangeSeq).values(session_id=session_id, change_seq=1))
            continue
        bumped = orm.execute(
            update(SessionChangeSeq)
            .where(SessionChangeSeq.session_id == session_id)
            .values(change_seq=SessionChangeSeq.change_seq + 1)
            .execution_options(synchronize_session=False)
        )
        if bumped.rowcount == 0 and orm.get(Session, session_id) is not None:
            # A session written before its counter was (by hand, or a restored dump).
            orm.execute(insert(SessionChangeSeq).values(session_id=session_id, change_seq=1))


def _forget(orm: OrmSession, transaction: Any) -> None:
    if transaction.parent is None:
        orm.info.pop(_CHANGED, None)
        orm.info.pop(_CREATED, None)


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
