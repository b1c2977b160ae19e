"""The engine's leases: a session is run by one engine at a time."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import update

from fenix.db.models import Session
from fenix.timeutil import utcnow
from tests.controller.live import wait_until


def _steal_lease(live, session_id: str, thief: str) -> None:
    """What another engine does when this one stalled past its lease: take it over."""
    with live.runtime.db.transaction() as repo:
        past = utcnow() - timedelta(seconds=1)
        repo.orm.execute(update(Session).where(Session.id == session_id).values(lease_until=past))
        assert repo.acquire_lease(session_id, thief, 3600)


def test_an_engine_that_lost_its_lease_stops_running_the_session(live_stack):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 1, "maintain_seconds": 2.0},
        lease_seconds=1.0,
    )
    engine = live.runtime.engine
    session_id = live.create_session()
    wait_until(lambda: session_id in engine.running_sessions, what="session running")

    _steal_lease(live, session_id, "another-engine")

    wait_until(lambda: session_id not in engine.running_sessions, what="runner stopped")
    events = live.events(session_id)
    assert [e["subject"] for e in events if e["kind"] == "engine.lease_lost"] == [engine.id]
    lost_at = next(e["id"] for e in events if e["kind"] == "engine.lease_lost")
    # Nothing more from this engine for several of its lease periods: the session is another's.
    time.sleep(3.0)
    assert [e["kind"] for e in live.events(session_id) if e["id"] > lost_at] == []
    assert live.detail(session_id)["state"] not in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")


def test_a_session_whose_lease_is_given_back_is_resumed_to_the_end(live_stack):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 1, "maintain_seconds": 1.0},
        lease_seconds=1.0,
    )
    engine = live.runtime.engine
    session_id = live.create_session()
    wait_until(lambda: session_id in engine.running_sessions, what="session running")
    _steal_lease(live, session_id, "another-engine")
    wait_until(lambda: session_id not in engine.running_sessions, what="runner stopped")

    with live.runtime.db.transaction() as repo:  # the other engine dies: its lease runs out
        past = utcnow() - timedelta(seconds=1)
        repo.orm.execute(update(Session).where(Session.id == session_id).values(lease_until=past))

    detail = live.wait_for(session_id)
    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    runs = [e["subject"] for e in live.events(session_id) if e["kind"] == "engine.run"]
    assert runs == [engine.id, engine.id]
