"""Whether a session may start new work now: not while paused, not outside its windows.

Both workflows ask before they start a host (and the vnf workflow before it begins a move):
the default workflow waits here (`HoldGate.wait`), the vnf workflow hands the hold to its
planner in the snapshot. What is in flight is never stopped: a host in maintenance, moves
already started and playbooks running finish. The start and end of every hold are event-log
rows, so the timeline shows when the session waited and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fenix.db.models import Session
from fenix.engine.context import SessionContext
from fenix.timeutil import to_iso, utcnow
from fenix.windows import next_opening, schedule_from

PAUSED, WINDOW = "paused", "window"


@dataclass(frozen=True)
class Hold:
    why: str
    """PAUSED (no new host, no new move) or WINDOW (no new host)."""
    until: datetime | None
    """When it lifts by itself: the next window's opening; None for a pause (or no window
    left)."""
    reason: str

    @property
    def stops_moves(self) -> bool:
        """A pause stops new moves too; outside a window a host in work is still emptied."""
        return self.why == PAUSED

    def record(self) -> dict:
        return {"why": self.why, "until": to_iso(self.until), "reason": self.reason}


def hold_of(session: Session, now: datetime) -> Hold | None:
    """The session's hold at `now`, from its row: its pause first, then its windows."""
    if session.paused_at is not None:
        by = f" by {session.paused_by}" if session.paused_by else ""
        why = f": {session.pause_reason}" if session.pause_reason else ""
        return Hold(PAUSED, None, f"paused{by} at {to_iso(session.paused_at)}{why}")
    schedule = schedule_from(session.windows)
    opens = next_opening(schedule, now)
    if opens == now:
        return None
    if opens is None:
        return Hold(
            WINDOW,
            None,
            "outside its maintenance windows, and none is left: "
            "add one with PUT (windows, weekly_windows) or delete the session",
        )
    return Hold(WINDOW, opens, f"outside its maintenance windows until {to_iso(opens)}")


class HoldGate:
    """Reads the session's hold and records when one begins and ends."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx
        self.current: Hold | None = None

    def look(self, before: str | None = None) -> tuple[Hold | None, bool]:
        """The hold now and whether the session was deleted (then nothing is to start)."""
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            if session.stop_requested:
                return self.current, True
            hold = hold_of(session, utcnow())
            if hold != self.current:
                if self.current is not None:
                    repo.add_event(
                        session.id,
                        "session.hold_ended",
                        session.id,
                        self.current.why,
                        None,
                        self.current.record(),
                    )
                if hold is not None:
                    data = {**hold.record(), **({"before": before} if before else {})}
                    repo.add_event(session.id, "session.held", session.id, None, hold.why, data)
                self.current = hold
        return hold, False

    def wait(self, before: str) -> bool:
        """Wait until nothing holds the session before starting `before` (a host). False
        when the session was deleted meanwhile: the caller leaves it to be ended."""
        while True:
            hold, deleted = self.look(before)
            if deleted:
                return False
            if hold is None:
                return True
            wait = 1.0
            if hold.until is not None:
                wait = min(wait, max((hold.until - utcnow()).total_seconds(), 0.0))
            self.ctx.pause(wait)
