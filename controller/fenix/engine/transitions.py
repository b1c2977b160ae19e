"""The session state machine as a table, and the one function that moves a session along it.

Every transition is committed (with its event-log row and its maintenance.session
notification) before the workflow does anything the new state calls for; that is what lets a
restarted engine resume a session where it stopped.
"""

from __future__ import annotations

from fenix.db.models import Session
from fenix.db.repository import Repository
from fenix.notify import notifier
from fenix.states import FINAL_SESSION_STATES, SessionState

S = SessionState

TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    S.MAINTENANCE: frozenset({S.SCALE_IN, S.PREPARE_MAINTENANCE, S.START_MAINTENANCE}),
    S.SCALE_IN: frozenset({S.PREPARE_MAINTENANCE, S.START_MAINTENANCE}),
    S.PREPARE_MAINTENANCE: frozenset({S.START_MAINTENANCE}),
    S.START_MAINTENANCE: frozenset({S.PLANNED_MAINTENANCE, S.MAINTENANCE_COMPLETE}),
    S.PLANNED_MAINTENANCE: frozenset({S.MAINTENANCE_COMPLETE}),
    S.MAINTENANCE_COMPLETE: frozenset({S.MAINTENANCE_DONE}),
    S.MAINTENANCE_DONE: frozenset(),
    # A failed session is resumed by the admin (PUT) into the state it failed in, or another.
    S.MAINTENANCE_FAILED: frozenset(set(S) - FINAL_SESSION_STATES),
}
"""Forward moves; besides these, any unfinished state may go to MAINTENANCE_FAILED."""


class IllegalTransition(Exception):
    pass


def allowed(old: SessionState, new: SessionState) -> bool:
    if new is S.MAINTENANCE_FAILED:
        return not old.is_final
    return new in TRANSITIONS[old]


def transition(
    repo: Repository, session: Session, new: SessionState, reason: str | None = None
) -> None:
    """Move the session to `new` inside the caller's transaction, or raise IllegalTransition."""
    old = SessionState(session.state)
    if not allowed(old, new):
        raise IllegalTransition(f"session {session.id} cannot go from {old} to {new}")
    if new is S.MAINTENANCE_FAILED:
        session.failed_in = str(old)
        session.error = reason
    elif old is S.MAINTENANCE_FAILED:
        session.error = None
    if new is S.MAINTENANCE_DONE:
        session.percent_done = 100
    repo.set_session_state(session, new, reason)
    notifier.session_changed(repo, session)
