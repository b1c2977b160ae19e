"""The engine's leases: a session is run by one engine at a time."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from fenix.db.models import Session
from fenix.engine.context import SessionContext, Stopping
from fenix.states import SessionState
from fenix.timeutil import utcnow
from fenix.workflows import load_workflow
from tests.controller.live import wait_until


def _expire_lease(live, session_id: str) -> None:
    with live.runtime.db.transaction() as repo:
        past = utcnow() - timedelta(seconds=1)
        repo.orm.execute(update(Session).where(Session.id == session_id).values(lease_until=past))


def _lose_lease(live) -> str:
    """A session running here, whose lease another engine took as this one stalled past it;
    returns once this engine let go of it."""
    engine = live.runtime.engine
    session_id = live.create_session()
    wait_until(lambda: session_id in engine.running_sessions, what="session running")
    with live.runtime.db.transaction() as repo:  # at once: this engine renews in between
        past = utcnow() - timedelta(seconds=1)
        repo.orm.execute(update(Session).where(Session.id == session_id).values(lease_until=past))
        assert repo.acquire_lease(session_id, "another-engine", 3600)
    wait_until(lambda: session_id not in engine.running_sessions, what="runner stopped")
    return session_id


def _start(live_stack, maintain_seconds: float):
    return live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 1, "maintain_seconds": maintain_seconds},
        lease_seconds=1.0,
    )


@pytest.mark.slow
def test_an_engine_that_lost_its_lease_stops_running_the_session(live_stack):
    live = _start(live_stack, maintain_seconds=2.0)

    session_id = _lose_lease(live)

    events = live.events(session_id)
    lost = [e for e in events if e["kind"] == "engine.lease_lost"]
    assert [e["subject"] for e in lost] == [live.runtime.engine.id]
    # Nothing more from this engine for several of its lease periods: the session is another's.
    time.sleep(3.0)
    assert [e["kind"] for e in live.events(session_id) if e["id"] > lost[0]["id"]] == []
    assert live.detail(session_id)["state"] not in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")


@pytest.mark.slow
def test_a_session_whose_lease_is_given_back_is_resumed_to_the_end(live_stack):
    live = _start(live_stack, maintain_seconds=1.0)
    session_id = _lose_lease(live)

    _expire_lease(live, session_id)  # the other engine dies: its lease runs out

    detail = live.wait_for(session_id)
    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    runs = [e["subject"] for e in live.events(session_id) if e["kind"] == "engine.run"]
    assert runs == [live.runtime.engine.id] * 2


def test_a_stalled_engine_cannot_move_a_session_another_engine_took(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1}, run_engine=False)
    session_id = live.create_session()
    with live.runtime.db.transaction() as repo:
        assert repo.acquire_lease(session_id, "the-new-owner", 3600)
    # The workflow of an engine that stalled past its lease, waking up mid-step.
    ctx = SessionContext(live.runtime, session_id, threading.Event(), owner="stalled-engine")
    workflow = load_workflow("default")(ctx)
    before = live.events(session_id)

    with pytest.raises(Stopping):
        workflow.transition(SessionState.MAINTENANCE_FAILED, "late")
    with pytest.raises(Stopping):
        workflow.fail("late")

    assert ctx.stop_event.is_set()
    assert live.detail(session_id)["state"] == "MAINTENANCE"
    assert live.events(session_id) == before
