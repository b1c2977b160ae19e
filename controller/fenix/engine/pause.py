"""Pausing and resuming a session: the one place that holds a session and lets it go.

A paused session keeps its state (the contract's states are unchanged, so managers see nothing
new): the workflow stops at its next safe point (no new host starts, no new move begins) and
lets what is in flight finish. The pause is kept in the session's row, so it holds across a
restart of the controller. The admin pauses through the API; a gate that keeps failing calls
`request_pause` with its reason. Each change is an event-log row and a maintenance.session
notification, written in the caller's transaction.
"""

from __future__ import annotations

from fenix.db.models import Session
from fenix.db.repository import Repository
from fenix.notify import notifier
from fenix.states import SessionState
from fenix.timeutil import to_iso, utcnow


class PauseRefused(Exception):
    """The session cannot be paused or resumed now; the message says why."""


def request_pause(repo: Repository, session: Session, reason: str | None, by: str) -> bool:
    """Hold `session` (locked by the caller) at its next safe point. False when it was paused
    already (the first pause, its time and reason, stand)."""
    if SessionState(session.state).is_final or session.deleted:
        raise PauseRefused(f"session {session.id} is {session.state}: there is nothing to pause")
    if session.paused_at is not None:
        return False
    session.paused_at = utcnow()
    session.paused_by = by
    session.pause_reason = reason
    repo.add_event(  # one time for the pause, wherever it is shown
        session.id,
        "session.paused",
        session.id,
        None,
        "PAUSED",
        {"by": by, "reason": reason},
        at=session.paused_at,
    )
    notifier.session_changed(repo, session, paused=True, reason=reason)
    return True


def resume(repo: Repository, session: Session, by: str) -> bool:
    """Let a paused session (locked by the caller) go on. False when it was not paused."""
    if session.paused_at is None:
        return False
    paused_for = (utcnow() - session.paused_at).total_seconds()
    repo.add_event(
        session.id,
        "session.resumed",
        session.id,
        "PAUSED",
        None,
        {
            "by": by,
            "paused_at": to_iso(session.paused_at),
            "paused_by": session.paused_by,
            "reason": session.pause_reason,
            "paused_seconds": round(paused_for, 3),
        },
    )
    session.paused_at = None
    session.paused_by = None
    session.pause_reason = None
    notifier.session_changed(repo, session, paused=False)
    return True
