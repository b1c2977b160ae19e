"""Runs a dead controller left behind: found by their marker, ended, and recorded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

from fenix.actions import leftovers
from fenix.actions.launcher import ActionLauncher, RunLeftUnchecked
from fenix.config import Settings
from fenix.db.database import Database
from fenix.timeutil import utcnow


def test_marked_processes_are_found_and_ended_and_others_left_alone():
    marker = leftovers.run_marker("s-1", 7)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    marked = subprocess.Popen(sleeper, env={**os.environ, leftovers.RUN_MARKER: marker})
    other = subprocess.Popen(sleeper, env={**os.environ, leftovers.RUN_MARKER: "s-1/8"})
    try:
        assert leftovers.marked_processes(marker) == [marked.pid]

        leftovers.end_processes([marked.pid], grace=2)

        assert marked.wait(5) is not None
        assert leftovers.marked_processes(marker) == []
        assert other.poll() is None
    finally:
        for process in (marked, other):
            process.kill()
            process.wait()


@pytest.fixture
def launcher(database_url):
    db = Database(database_url)
    db.upgrade()
    yield ActionLauncher(SimpleNamespace(db=db, settings=Settings(database_url=database_url)))
    db.dispose()


def _session_with_run(db: Database, node: str) -> tuple[str, int]:
    with db.transaction() as repo:
        session = repo.add_session(
            workflow="default",
            maintenance_at=utcnow(),
            meta={},
            download=[],
            hosts=[("compute-1", "compute")],
            actions=[("upgrade", "host", {})],
        )
        run = repo.add_action_run(
            session.id, "upgrade", "host", ["compute-1"], engine_id="old#1", node=node
        )
        return session.id, run.id


def test_a_run_left_on_another_machine_is_not_run_again_blindly(launcher):
    session_id, run_id = _session_with_run(launcher.runtime.db, node="elsewhere.example")

    with pytest.raises(RunLeftUnchecked, match="may still be running on elsewhere.example"):
        launcher.settle_left_runs(session_id, "new#1")

    with launcher.runtime.db.transaction() as repo:
        run = repo.get_action_run(run_id)
        assert run.state == "INTERRUPTED"
        assert "cannot see whether its ansible-playbook still runs" in run.message


def test_a_run_whose_processes_are_gone_is_marked_interrupted_with_the_reason(launcher):
    session_id, run_id = _session_with_run(launcher.runtime.db, node=socket.gethostname())

    launcher.settle_left_runs(session_id, "new#1")

    with launcher.runtime.db.transaction() as repo:
        run = repo.get_action_run(run_id)
        assert run.state == "INTERRUPTED"
        assert (
            run.message == "engine old#1 stopped during this run; its processes had already ended"
        )
        assert repo.running_action_runs(session_id) == []
