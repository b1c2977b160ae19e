"""The one-click upgrade end to end: playbooks/rolling_upgrade.yml against a live controller."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import http_json

pytestmark = pytest.mark.slow

SIM_HOSTS = ["compute-1", "compute-2", "compute-3", "compute-4"]


def _sessions_named(controller_url: str, name: str) -> list[dict]:
    ids = http_json("GET", f"{controller_url}/v1/maintenance")["sessions"]
    details = [http_json("GET", f"{controller_url}/v1/maintenance/{i}/detail") for i in ids]
    return [d for d in details if d["metadata"].get("fenix_name") == name]


def test_rolling_upgrade_playbook_maintains_every_compute_host(controller, run_playbook):
    run = run_playbook(
        "playbooks/rolling_upgrade.yml",
        "-i",
        "inventories/simulated",
        "-e",
        f"fenix_url={controller.url}",
        "-e",
        "fenix_session_name=e2e-rolling-upgrade",
        "-e",
        "fenix_wait_timeout=180",
    )
    assert run.returncode == 0, run.stdout
    assert "ended MAINTENANCE_DONE" in run.stdout

    [session] = _sessions_named(controller.url, "e2e-rolling-upgrade")
    assert session["state"] == "MAINTENANCE_DONE"
    assert session["error"] is None
    assert sorted(h["name"] for h in session["hosts"]) == SIM_HOSTS
    assert all(h["maintained"] for h in session["hosts"])
    assert session["percent_done"] == 100


def test_rolling_upgrade_fails_clearly_on_an_empty_group(controller, run_playbook):
    run = run_playbook(
        "playbooks/rolling_upgrade.yml",
        "-i",
        "inventories/simulated",
        "-e",
        f"fenix_url={controller.url}",
        "-e",
        "fenix_hosts_group=no_such_group",
    )
    assert run.returncode != 0
    assert "has no hosts" in run.stdout


def test_rolling_upgrade_check_mode_starts_nothing(controller, run_playbook):
    before = http_json("GET", f"{controller.url}/v1/maintenance")["sessions"]
    run = run_playbook(
        "playbooks/rolling_upgrade.yml",
        "-i",
        "inventories/simulated",
        "--check",
        "-e",
        f"fenix_url={controller.url}",
        "-e",
        "fenix_session_name=e2e-check-mode",
    )
    assert run.returncode == 0, run.stdout
    assert "Would start a session" in run.stdout
    assert http_json("GET", f"{controller.url}/v1/maintenance")["sessions"] == before
