"""`fenix serve` as deployed: the engine in a supervised process of its own, the API apart.

Real processes throughout: the controller is started as an operator starts it, its children are
found in the process table, killed and watched coming back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest
import requests

from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from tests.controller.live import wait_until
from tests.controller.processes import ControllerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def sim_cloud():
    cloud, handle = start_sim_cloud(
        SimulatedCloudConfig(
            hosts=3,
            projects=1,
            instances=2,
            migrate_seconds=0.05,
            live_migrate_seconds=0.05,
            maintain_seconds=0.3,
        )
    )
    yield handle.url
    handle.stop()
    cloud.close()


def _engine_processes(controller: ControllerProcess) -> list[psutil.Process]:
    parent = psutil.Process(controller.process.pid)
    return [child for child in parent.children() if "engine" in child.cmdline()]


def _run_session(controller: ControllerProcess) -> str:
    answer = requests.post(
        f"{controller.url}/v1/maintenance",
        json={"workflow": "default", "state": "MAINTENANCE", "metadata": {}, "hosts": []},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["session_id"]


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/v1/maintenance", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _state(controller: ControllerProcess, session_id: str) -> str:
    answer = requests.get(f"{controller.url}/v1/maintenance/{session_id}", timeout=10)
    return answer.json()["state"]


def _wait_done(controller: ControllerProcess, session_id: str, what: str) -> None:
    wait_until(lambda: _state(controller, session_id) == "MAINTENANCE_DONE", timeout=120, what=what)


def test_the_engine_runs_in_a_child_process_and_counts_in_the_apis_metrics(tmp_path, sim_cloud):
    controller = ControllerProcess(tmp_path, sim_cloud)
    controller.start()
    try:
        wait_until(lambda: _engine_processes(controller), what="an engine child")
        session_id = _run_session(controller)
        _wait_done(controller, session_id, "the session done")
        events = requests.get(
            f"{controller.url}/v1/maintenance/{session_id}/events", timeout=10
        ).json()["events"]
        metrics = requests.get(f"{controller.url}/metrics", timeout=10).text
    finally:
        controller.stop()
    runs = [event for event in events if event["kind"] == "engine.run"]
    assert {run["subject"] for run in runs} == {controller.engine_id}
    # The API process answered, the engine process (another pid) ran it: its counts are in the
    # API's /metrics all the same.
    assert 'fenix_session_state_seconds_count{state="PLANNED_MAINTENANCE"} 1.0' in metrics


def test_an_engine_that_dies_is_started_again_and_finishes_the_session(tmp_path, sim_cloud):
    controller = ControllerProcess(tmp_path, sim_cloud)
    controller.start()
    try:
        wait_until(lambda: _engine_processes(controller), what="an engine child")
        session_id = _run_session(controller)
        wait_until(
            lambda: _state(controller, session_id) != "MAINTENANCE",
            timeout=60,
            what="the session under way",
        )
        (engine,) = _engine_processes(controller)
        engine.kill()
        engine.wait(10)
        wait_until(
            lambda: [p for p in _engine_processes(controller) if p.pid != engine.pid],
            timeout=30,
            what="a new engine process",
        )
        _wait_done(controller, session_id, "the session done by the new engine")
        assert controller.alive, "the controller went down with its engine"
    finally:
        controller.stop()
    log = controller.log.read_text()
    assert "engine process" in log and "starting it again" in log


def test_a_killed_controller_takes_its_engine_with_it(tmp_path, sim_cloud):
    controller = ControllerProcess(tmp_path, sim_cloud)
    controller.start()
    wait_until(lambda: _engine_processes(controller), what="an engine child")
    (engine,) = _engine_processes(controller)
    controller.kill()  # SIGKILL: no chance to stop its children
    wait_until(
        lambda: not engine.is_running() or engine.status() == psutil.STATUS_ZOMBIE,
        timeout=10,
        what="the engine gone with its parent",
    )


def test_sigterm_stops_the_engine_and_the_controller_cleanly(tmp_path, sim_cloud):
    controller = ControllerProcess(tmp_path, sim_cloud)
    controller.start()
    wait_until(lambda: _engine_processes(controller), what="an engine child")
    (engine,) = _engine_processes(controller)
    controller.process.send_signal(signal.SIGTERM)
    assert controller.process.wait(60) == 0
    wait_until(
        lambda: not engine.is_running() or engine.status() == psutil.STATUS_ZOMBIE,
        timeout=10,
        what="the engine stopped",
    )
    assert "shutting down" in controller.log.read_text()


def test_no_engine_runs_the_api_alone(tmp_path, sim_cloud):
    controller = ControllerProcess(tmp_path, sim_cloud)
    controller.args.append("--no-engine")
    controller.start()
    try:
        assert controller.answers()
        assert not _engine_processes(controller)
    finally:
        controller.stop()


def test_several_api_workers_need_postgresql(tmp_path, sim_cloud):
    fenix = os.path.join(os.path.dirname(sys.executable), "fenix")
    result = subprocess.run(
        [
            fenix,
            "serve",
            "--workers",
            "2",
            "--db",
            f"sqlite:///{tmp_path / 'f.db'}",
            "--sim-url",
            sim_cloud,
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr and "--workers 2" in result.stderr


def test_api_workers_share_the_port_on_postgresql(tmp_path, sim_cloud, postgres_url):
    controller = ControllerProcess(tmp_path, sim_cloud, db_url=postgres_url)
    controller.args += ["--workers", "3"]
    controller.start()
    try:
        parent = psutil.Process(controller.process.pid)
        wait_until(
            lambda: len([c for c in parent.children() if "api-worker" in c.cmdline()]) == 2,
            timeout=30,
            what="two more API processes",
        )
        session_id = _run_session(controller)
        # The parent (itself an API process) frozen: every new connection is accepted and
        # answered by the other two, from the same database.
        parent.suspend()
        try:
            # The workers may still be starting: the first connection waits for one of them.
            wait_until(lambda: _answers(controller.url), timeout=60, what="an API worker")
            for _ in range(20):
                with requests.Session() as fresh:
                    answer = fresh.get(f"{controller.url}/v1/maintenance", timeout=10)
                assert answer.status_code == 200
                assert session_id in answer.json()["sessions"]
        finally:
            parent.resume()
        _wait_done(controller, session_id, "the session done")
    finally:
        controller.stop()


def test_an_engine_of_its_own_runs_the_sessions_of_an_api_without_one(tmp_path, sim_cloud):
    api = ControllerProcess(tmp_path, sim_cloud, name="api")
    api.args.append("--no-engine")
    api.start()
    engine_log = (tmp_path / "engine.log").open("w")
    engine = subprocess.Popen(
        [*api.args[:1], "engine", *api.args[2:-1], "--public-url", api.url],
        env={**api.env, "FENIX_ENGINE_ID": "standalone"},
        stdout=engine_log,
        stderr=engine_log,
    )
    try:
        session_id = _run_session(api)
        _wait_done(api, session_id, "the session done by the standalone engine")
        events = requests.get(f"{api.url}/v1/maintenance/{session_id}/events", timeout=10)
    finally:
        engine.terminate()
        engine.wait(60)
        engine_log.close()
        api.stop()
    runs = {e["subject"] for e in events.json()["events"] if e["kind"] == "engine.run"}
    assert runs == {"standalone"}
    assert engine.returncode == 0
