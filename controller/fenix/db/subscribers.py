"""Who is subscribed to what, kept in memory between changes to the subscriptions.

Every notification asks which subscriptions want it (fenix.notify.notifier.emit), and every
question to a project whether it has a manager: thousands of times in a session over a large
cloud, while the subscriptions change a few times a day. So each Database keeps them, as
plain values without secrets or URLs, with the `subscription_seq` they were read at. A
transaction reads that one-row counter once (a primary-key lookup) and the subscriptions again
only when it moved. It moves at the commit of any change to them (fenix.db.changes), made by
whichever process, so an API worker's new subscription is seen by the engine's next
transaction as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from fenix.db.models import Subscription, SubscriptionSeq

_SEQ = "fenix.subscription_seq"
"""The transaction's reading of the counter (in the ORM session's info: one per transaction)."""
WRITTEN = "fenix.subscriptions_written"
"""Set by fenix.db.changes when the transaction has flushed a change to a subscription."""


@dataclass(frozen=True)
class Subscriber:
    """What choosing the receivers of a notification needs of a subscription."""

    id: str
    project_id: str | None
    event_types: frozenset[str]
    format: str

    def wants(self, event_types: set[str], project_id: str | None) -> bool:
        """One of these event types, for this project (or for every project)."""
        for_project = self.project_id is None or self.project_id == project_id
        return for_project and not self.event_types.isdisjoint(event_types)


class SubscriberCache:
    """The subscriptions as of one value of `subscription_seq`, shared by a Database's
    transactions (threads): replaced whole, never changed in place."""

    def __init__(self) -> None:
        self._held: tuple[int, tuple[Subscriber, ...]] | None = None

    def matching(
        self, orm: OrmSession, event_types: set[str], project_id: str | None
    ) -> list[Subscriber]:
        return [s for s in self._current(orm) if s.wants(event_types, project_id)]

    def _current(self, orm: OrmSession) -> tuple[Subscriber, ...]:
        if _written_here(orm):
            return _read(orm)  # this transaction's own changes, not yet counted
        seq = orm.info.get(_SEQ)
        if seq is None:
            seq = orm.scalar(select(SubscriptionSeq.seq).where(SubscriptionSeq.id == 1))
            if seq is None:
                return _read(orm)  # a database the counter's migration has not reached
            orm.info[_SEQ] = seq
        held = self._held
        if held is not None and held[0] == seq:
            return held[1]
        # Read after the counter: what is read is at least as new as the label it gets.
        subscribers = _read(orm)
        self._held = (seq, subscribers)
        return subscribers


def _written_here(orm: OrmSession) -> bool:
    if orm.info.get(WRITTEN):
        return True
    pending = (*orm.new, *orm.dirty, *orm.deleted)
    return any(isinstance(row, Subscription) for row in pending)


def _read(orm: OrmSession) -> tuple[Subscriber, ...]:
    query = select(
        Subscription.id, Subscription.project_id, Subscription.event_types, Subscription.format
    ).order_by(Subscription.created_at, Subscription.id)
    return tuple(
        Subscriber(row.id, row.project_id, frozenset(row.event_types or ()), row.format)
        for row in orm.execute(query)
    )
