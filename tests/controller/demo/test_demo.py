"""The demo: the README's first command, and the report it writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fenix.demo.runner import DemoOptions, run_demo

pytestmark = pytest.mark.slow

FENIX = str(Path(sys.executable).parent / "fenix")


def test_demo_report_accounts_for_every_host_and_instance(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    options = DemoOptions(
        hosts=3,
        projects=2,
        instances=2,
        report_path=str(report_path),
        migrate_seconds=0.2,
        live_migrate_seconds=0.1,
        maintain_seconds=0.1,
    )

    assert run_demo(options) == 0

    report = json.loads(report_path.read_text())
    assert report["state"] == "MAINTENANCE_DONE"
    assert set(report["hosts"]) == {"compute-1", "compute-2", "compute-3"}
    assert all(h["maintained"] and not h["disabled"] for h in report["hosts"].values())
    assert all(h["maintenance_runs"] == 1 for h in report["hosts"].values())
    assert len(report["instances"]) == 4
    assert all(i["fate"] == "active" for i in report["instances"].values())
    live = report["downtime_by_action"]["LIVE_MIGRATE"]
    assert live["instances"] == 2 and live["max_seconds"] == 0
    assert report["downtime_by_action"]["MIGRATE"]["max_seconds"] > 0
    for project in ("project-1", "project-2"):
        received = [
            m["state"]
            for m in report["managers"][project]["messages"]
            if m["direction"] == "received"
        ]
        assert received[0] == "MAINTENANCE" and "PLANNED_MAINTENANCE" in received
    timeline = report["host_timelines"]["compute-1"]
    assert [step["to"] for step in timeline][-1] == "MAINTENANCE_COMPLETE"
    assert [r["state"] for r in report["action_runs"]] == ["DONE"] * 3
    assert "MAINTENANCE_DONE" in capsys.readouterr().out


def test_fenix_demo_command_with_defaults(tmp_path):
    """Exactly what README.md tells a new user to run, in a fresh directory, with none of
    the tests' settings (their allowed callback networks) in the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FENIX_")}
    result = subprocess.run(
        [FENIX, "demo"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=clean
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "MAINTENANCE_DONE" in result.stdout
    assert "hosts maintained: 4/4" in result.stdout
    report = json.loads((tmp_path / "fenix-demo-report.json").read_text())
    assert report["state"] == "MAINTENANCE_DONE" and len(report["instances"]) == 8


def test_fenix_demo_with_the_vnf_workflow_maintains_hosts_in_parallel(tmp_path):
    result = subprocess.run(
        [FENIX, "demo", "--workflow", "vnf", "--no-actions"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "hosts maintained: 8/8" in result.stdout
    at_once = re.search(
        r"hosts in maintenance at once: up to (\d+); constraint breaches: (\d+)", result.stdout
    )
    assert at_once, result.stdout
    assert int(at_once[1]) >= 2 and int(at_once[2]) == 0, at_once[0]
