"""Finished sessions' events, settled notifications and runner artifacts are pruned after the
retention; unfinished or recent sessions, and notifications still to deliver, are kept."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from fenix.config import Settings
from fenix.db import models
from fenix.drivers.simulated import SimulatedDriver
from fenix.engine.retention import prune_finished_sessions
from fenix.runtime import Runtime
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.timeutil import utcnow
from tests.controller.live import wait_until


@pytest.fixture
def runtime(database_url, tmp_path):
    sim, handle = start_sim_cloud(SimulatedCloudConfig(hosts=2, projects=1, instances=1))
    settings = Settings(
        database_url=database_url, run_engine=False, artifacts_dir=str(tmp_path / "artifacts")
    )
    rt = Runtime(settings, driver=SimulatedDriver(handle.url))
    yield rt
    rt.stop()
    handle.stop()
    sim.close()


def _session(runtime, state: str, ended_days_ago: float) -> str:
    with runtime.db.transaction() as repo:
        session = repo.add_session(
            workflow="default",
            maintenance_at=utcnow(),
            meta={},
            download=[],
            hosts=[(f"h-{uuid.uuid4().hex[:6]}", "compute")],
            actions=[],
        )
        for outbox_state in ("DELIVERED", "DEAD", "PENDING"):
            row = repo.add_outbox(
                subscription_id="s",
                session_id=session.id,
                project_id=None,
                event_type="maintenance.session",
                message_id=str(uuid.uuid4()),
                body={"payload": {}},
            )
            row.state = outbox_state
        session_id = session.id
    with runtime.db.transaction() as repo:
        repo.orm.execute(
            update(models.Session)
            .where(models.Session.id == session_id)
            .values(state=state, updated_at=utcnow() - timedelta(days=ended_days_ago))
        )
    run_dir = runtime.actions.artifacts_root() / session_id / "run-1"
    run_dir.mkdir(parents=True)
    (run_dir / "stdout").write_text("ok")
    return session_id


def _left(runtime, session_id: str) -> dict:
    with runtime.db.transaction() as repo:
        count = repo.orm.scalar
        return {
            "events": count(select(func.count()).where(models.Event.session_id == session_id)),
            "outbox": sorted(
                repo.orm.scalars(
                    select(models.OutboxMessage.state).where(
                        models.OutboxMessage.session_id == session_id
                    )
                )
            ),
            "artifacts": (runtime.actions.artifacts_root() / session_id).exists(),
            "pruned": repo.get_session(session_id).pruned_at is not None,
        }


def test_finished_sessions_past_the_retention_are_pruned_and_nothing_else(runtime):
    old_done = _session(runtime, "MAINTENANCE_DONE", 31)
    old_failed = _session(runtime, "MAINTENANCE_FAILED", 40)
    recent = _session(runtime, "MAINTENANCE_DONE", 29)
    running = _session(runtime, "PLANNED_MAINTENANCE", 60)

    pruned = prune_finished_sessions(runtime)

    assert sorted(pruned) == sorted([old_done, old_failed])
    for session_id in pruned:
        assert _left(runtime, session_id) == {
            "events": 0,
            "outbox": ["PENDING"],
            "artifacts": False,
            "pruned": True,
        }
    for session_id in (recent, running):
        left = _left(runtime, session_id)
        assert left["events"] == 1
        assert left["outbox"] == ["DEAD", "DELIVERED", "PENDING"]
        assert left["artifacts"] and not left["pruned"]
    assert prune_finished_sessions(runtime) == []


def test_a_retention_of_zero_keeps_everything(runtime):
    runtime.settings.retention_days = 0
    old = _session(runtime, "MAINTENANCE_DONE", 400)

    assert prune_finished_sessions(runtime) == []
    assert _left(runtime, old)["events"] == 1


def test_the_engine_prunes_a_session_once_its_retention_has_passed(live_stack):
    live = live_stack.start(
        cloud={"hosts": 2, "projects": 1, "instances": 1}, retention_check_seconds=0.2
    )
    session_id = live.create_session(actions=[{"plugin": "dummy", "type": "post"}])
    done = live.wait_for(session_id)
    assert done["state"] == "MAINTENANCE_DONE", done["error"]
    artifacts = live.runtime.actions.artifacts_root() / session_id
    assert artifacts.exists() and live.events(session_id)  # kept within the 30 days

    live.runtime.settings.retention_days = 1 / 86400  # one second: the session is past it

    wait_until(lambda: not live.events(session_id), what="events pruned")
    assert not artifacts.exists()
    assert live.detail(session_id)["state"] == "MAINTENANCE_DONE"
