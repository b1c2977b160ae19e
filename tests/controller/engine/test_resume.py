"""A controller process stopped in the middle of a session resumes it on restart: killed with
SIGKILL, or told to stop with SIGTERM (it then leaves at a safe point, nothing half-written)."""

from __future__ import annotations

import time

import pytest
import requests

from fenix.db.database import Database
from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.vnfm import SampleVnfm, VnfmConfig
from tests.controller.live import wait_until
from tests.controller.processes import ControllerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def cloud():
    config = SimulatedCloudConfig(
        hosts=4,
        projects=2,
        instances=3,
        migrate_seconds=0.3,
        live_migrate_seconds=0.3,
        maintain_seconds=0.6,
    )
    sim, handle = start_sim_cloud(config)
    yield handle.url
    handle.stop()
    sim.close()


def _detail(url: str, session_id: str) -> dict:
    return requests.get(f"{url}/v1/maintenance/{session_id}/detail", timeout=5).json()


@pytest.fixture
def controller(tmp_path, cloud):
    """`fenix serve` as a child process, with project-1's manager answering LIVE_MIGRATE and
    project-2's MIGRATE; all stopped after the test."""
    controller = ControllerProcess(tmp_path, cloud)
    controller.start()
    managers = [
        SampleVnfm(
            VnfmConfig(
                controller_url=controller.url,
                project_id=f"project-{n}",
                instance_action=action,
                cloud=SimulatedDriver(cloud),
            )
        ).start()
        for n, action in ((1, "LIVE_MIGRATE"), (2, "MIGRATE"))
    ]
    yield controller
    for manager in managers:
        manager.stop()
    controller.stop()


def _session_emptying_compute_2(controller: ControllerProcess) -> str:
    """A session over every host, once its second host is being emptied: a host out of
    service, moves running."""
    created = requests.post(
        f"{controller.url}/v1/maintenance", json={"state": "MAINTENANCE", "hosts": []}, timeout=5
    )
    session_id = created.json()["session_id"]
    wait_until(
        lambda: any(
            h["name"] == "compute-2" and h["state"] == "PREPARING"
            for h in _detail(controller.url, session_id)["hosts"]
        ),
        timeout=60,
        what="compute-2 being emptied",
    )
    return session_id


def _ended(controller: ControllerProcess, session_id: str) -> dict:
    return wait_until(
        lambda: (
            (d := _detail(controller.url, session_id))["state"].startswith("MAINTENANCE_D") and d
        ),
        timeout=90,
        what="session done after restart",
    )


def test_session_killed_mid_maintenance_resumes_after_restart(controller, cloud):
    session_id = _session_emptying_compute_2(controller)
    wait_until(  # a move off compute-2 under way: the crash interrupts it
        lambda: any(
            i["action_state"] in ("STARTING", "RUNNING")
            for i in _detail(controller.url, session_id)["instances"]
        ),
        timeout=30,
        what="a move under way",
    )
    controller.kill()
    driver = SimulatedDriver(cloud)
    assert not next(h for h in driver.list_hosts() if h.name == "compute-2").enabled

    controller.start()
    detail = _ended(controller, session_id)
    events = requests.get(
        f"{controller.url}/v1/maintenance/{session_id}/events?limit=5000", timeout=5
    ).json()["events"]

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert all(h["state"] == "MAINTENANCE_COMPLETE" for h in detail["hosts"])
    assert all(h.enabled for h in driver.list_hosts())
    report = driver.report()
    assert len(report["instances"]) == 6
    assert all(i["fate"] == "active" for i in report["instances"].values())
    assert all(len(h["maintenance"]) >= 1 for h in report["hosts"].values())
    engines = {e["subject"] for e in events if e["kind"] == "engine.run"}
    assert len(engines) == 2  # the killed process, then the restarted one
    states = [e["new"] for e in events if e["kind"] == "session.state"]
    assert states.count("MAINTENANCE_DONE") == 1 and "MAINTENANCE_FAILED" not in states


def test_sigterm_leaves_at_a_safe_point_and_a_restart_finishes_the_session(controller, cloud):
    session_id = _session_emptying_compute_2(controller)
    asked_at = time.monotonic()
    controller.process.terminate()
    returncode = controller.process.wait(30)
    took = time.monotonic() - asked_at

    db = Database(controller.args[controller.args.index("--db") + 1])
    with db.transaction() as repo:
        session = repo.get_session(session_id)
        owner, state = session.owner, session.state
        instances = session.instances
        half_started = [i.instance_id for i in instances if i.action_state == "STARTING"]
        runs = [e for e in repo.events(session_id) if e.kind == "engine.run"]
    db.dispose()
    controller.start()
    detail = _ended(controller, session_id)

    assert returncode == 0 and took < 20, (returncode, took)
    assert "paused at a safe point" in controller.log.read_text()
    assert owner is None, "the lease is given back, so another engine need not wait for it"
    assert state not in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")
    assert half_started == [], "a move recorded as started but never handed to the cloud"
    assert len(runs) == 1
    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert all(i["fate"] == "active" for i in SimulatedDriver(cloud).report()["instances"].values())
