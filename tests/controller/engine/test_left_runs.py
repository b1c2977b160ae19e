"""A playbook never runs twice at once after a crash: the engine that takes a session over ends
the run the dead controller left behind (it carries on, re-parented) before it decides anything,
and marks that run INTERRUPTED with the reason instead of leaving it RUNNING."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import requests

from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from tests.controller.live import wait_until
from tests.controller.processes import ControllerProcess

# Each run appends its shell's pid to the log; the first run then sleeps far past the test.
SLOW_ONCE = """\
- name: Upgrade, slowly the first time
  hosts: all
  gather_facts: false
  tasks:
    - name: Record this run and work
      ansible.builtin.shell: |
        echo $$ >> {{ log }}
        if [ "$(wc -l < {{ log }})" -eq 1 ]; then sleep 300; fi
"""


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _pids(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


@pytest.fixture
def cloud():
    sim, handle = start_sim_cloud(
        SimulatedCloudConfig(hosts=2, projects=1, instances=1, maintain_seconds=0.1)
    )
    yield handle.url
    handle.stop()
    sim.close()


def test_a_run_left_by_a_killed_controller_is_ended_before_the_plugin_runs_again(tmp_path, cloud):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow_upgrade.yml").write_text(SLOW_ONCE)
    log = tmp_path / "runs.log"
    controller = ControllerProcess(tmp_path, cloud, env={"FENIX_ACTION_DIRS": f'["{plugins}"]'})
    controller.start()
    first_pid = None
    try:
        created = requests.post(
            f"{controller.url}/v1/maintenance",
            json={
                "hosts": ["compute-1"],
                "state": "MAINTENANCE",
                "actions": [
                    {"plugin": "slow_upgrade", "type": "pre", "metadata": {"log": str(log)}}
                ],
            },
            timeout=10,
        )
        assert created.status_code == 200, created.text
        session_id = created.json()["session_id"]
        wait_until(lambda: len(_pids(log)) == 1, timeout=60, what="the first run started")
        first_pid = _pids(log)[0]

        controller.kill()
        assert _alive(first_pid), "the playbook should outlive its controller (ignore_sighup)"
        controller.start()
        wait_until(lambda: len(_pids(log)) == 2, timeout=60, what="the plug-in run again")

        # Ended before the second run began, not after: never two at once on the host.
        assert not _alive(first_pid)
        detail = wait_until(
            lambda: _final(controller.url, session_id), timeout=60, what="session ended"
        )
        assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
        runs = detail["action_runs"]
        assert [run["state"] for run in runs] == ["INTERRUPTED", "DONE"]
        assert "controller#1 stopped during this run" in runs[0]["message"]
        assert "were ended by engine controller#2" in runs[0]["message"]
        assert runs[0]["finished_at"] is not None
    finally:
        controller.stop()
        if first_pid is not None and _alive(first_pid):
            os.kill(first_pid, signal.SIGKILL)


def _final(url: str, session_id: str) -> dict | None:
    detail = requests.get(f"{url}/v1/maintenance/{session_id}/detail", timeout=5).json()
    return detail if detail["state"] in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED") else None
