"""Turn a maintenance event into outbox rows, in the caller's transaction.

Writing the notification in the same transaction as the state change that caused it means a
crash can lose neither: the delivery worker (fenix.notify.delivery) sends what was committed,
to each matching webhook subscription and, when a transport is configured, to the message bus
(fenix.notify.bus, which is one more subscription).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from fenix.db.models import OutboxMessage, Session
from fenix.db.repository import Repository
from fenix.notify.bus import BUS_SUBSCRIPTION_ID, is_bus
from fenix.notify.formats import receives
from fenix.states import EventType
from fenix.timeutil import to_iso, utcnow

LOG = logging.getLogger(__name__)

PENDING = "PENDING"
DELIVERED = "DELIVERED"
DEAD = "DEAD"
DROPPED = "DROPPED"
"""The states of an outbox row. DEAD: given up on, the receiver never got it. DROPPED: a question
not sent (again) because it was answered, or its window closed before it was first tried."""

# A subscription to either name of the planned event receives it.
_SUBSCRIBED_AS = {
    EventType.PLANNED: {EventType.PLANNED, EventType.SCHEDULED},
    EventType.SCHEDULED: {EventType.PLANNED, EventType.SCHEDULED},
    EventType.HOST: {EventType.HOST},
    EventType.SESSION: {EventType.SESSION},
}


def envelope(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The notification as oslo.messaging's notifier would make it."""
    return {
        "priority": "info",
        "event_type": event_type,
        "timestamp": to_iso(utcnow()),
        "publisher_id": "fenix",
        "message_id": str(uuid.uuid4()),
        "payload": payload,
    }


def has_manager(repo: Repository, project_id: str) -> bool:
    """A project subscribed to maintenance.planned has a manager that will answer.

    The message bus is no manager: what listens there is unknown, and may answer or not.
    """
    wanted = {str(name) for name in _SUBSCRIBED_AS[EventType.PLANNED]}
    subscriptions = repo.subscriptions_for(wanted, project_id)
    return any(not is_bus(subscription) for subscription in subscriptions)


def undeliverable(
    repo: Repository, session_id: str, project_id: str, step: str, since: datetime
) -> bool:
    """True when the project's managers cannot have heard of `step`, told at `since`.

    That is: every webhook delivery of that maintenance.planned notification is dead. A
    manager that never got the question will not answer it, so the conversation need not wait
    out the reply window for it.
    """
    rows = [
        row
        for row in repo.project_outbox_since(session_id, project_id, EventType.PLANNED, since)
        if row.subscription_id != BUS_SUBSCRIPTION_ID
        and (row.body.get("payload") or {}).get("state") == step
    ]
    return bool(rows) and all(row.state == DEAD for row in rows)


def emit(
    repo: Repository,
    event_type: EventType,
    payload: dict[str, Any],
    *,
    session_id: str | None,
    project_id: str | None,
    question: str | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Queue one notification for every matching subscription; returns how many.

    A `question` (the key of what the project is asked, open until `expires_at`) is never sent
    once it is answered or over: see drop_questions."""
    message = envelope(str(event_type), payload)
    subscriptions = repo.subscriptions_for(
        {str(name) for name in _SUBSCRIBED_AS[event_type]}, project_id
    )
    if event_type in _SUBSCRIBED_AS[EventType.PLANNED]:
        subscriptions = [s for s in subscriptions if receives(s.format, payload.get("state"))]
    for subscription in subscriptions:
        repo.add_outbox(
            subscription_id=subscription.id,
            session_id=session_id,
            project_id=project_id,
            event_type=str(event_type),
            message_id=message["message_id"],
            body=message,
            question=question,
            expires_at=expires_at,
        )
    repo.add_event(
        session_id,
        "notification",
        project_id,
        None,
        str(payload.get("state")),
        {"event_type": str(event_type), "payload": payload, "subscribers": len(subscriptions)},
    )
    return len(subscriptions)


def session_changed(
    repo: Repository, session: Session, *, paused: bool | None = None, reason: str | None = None
) -> None:
    """maintenance.session for the admin, after every session state change; when the session
    was paused or resumed, `paused` (and the pause's `reason`) say so, as optional fields."""
    payload: dict[str, Any] = {
        "service": "fenix",
        "session_id": session.id,
        "state": session.state,
        "percent_done": session.percent_done,
        "project_id": None,
    }
    if paused is not None:
        payload["paused"] = paused
        payload["reason"] = reason
    emit(
        repo,
        EventType.SESSION,
        payload,
        session_id=session.id,
        project_id=None,
    )


def drop_questions(
    repo: Repository, session_id: str, project_id: str, questions: list[str], why: str
) -> None:
    """The project answered these questions, or they are over: send no (more) copies of them.

    A copy already in flight is let be; the reply it may bring is accepted as any other."""
    rows = repo.drop_outbox(why, session_id=session_id, project_id=project_id, questions=questions)
    _record_dropped(repo, rows, why)


def drop_expired_questions(repo: Repository, now: datetime) -> None:
    """Questions whose reply window has closed before they could be sent (again).

    One that was tried and never got through is DEAD once no copy of it is in flight, whether
    the worker came round to it before its window closed or after: that it never reached the
    manager is what the record must say, not how busy the worker was. One never tried is
    DROPPED."""
    for row in repo.expired_tried_questions(now):
        subscription = repo.get_subscription(row.subscription_id)
        error = f"{row.last_error or 'not delivered'} (until the reply window closed)"
        give_up(repo, row, error, subscription.callback_url if subscription else None)
    why = "the reply window closed"
    _record_dropped(repo, repo.drop_outbox(why, now=now), why)


def give_up(repo: Repository, message: OutboxMessage, error: str, url: str | None) -> None:
    """The message will not be sent again: DEAD, and recorded in the session's event log."""
    message.state = DEAD
    message.last_error = error
    repo.add_event(
        message.session_id,
        "notification.dead",
        message.project_id,
        None,
        message.event_type,
        {
            "subscription_id": message.subscription_id,
            "message_id": message.message_id,
            "callback_url": url,
            "error": error,
            "attempts": message.attempts,
        },
    )
    LOG.warning(
        "delivery of %s to %s is dead after %d attempts: %s",
        message.message_id,
        url or message.subscription_id,
        message.attempts,
        error,
    )


def _record_dropped(repo: Repository, rows, why: str) -> None:
    for row in rows:
        repo.add_event(
            row.session_id,
            "notification.dropped",
            row.project_id,
            None,
            (row.body.get("payload") or {}).get("state"),
            {
                "subscription_id": row.subscription_id,
                "message_id": row.message_id,
                "question": row.question,
                "attempts": row.attempts,
                "why": why,
            },
        )
