"""The roles run against this machine: host_upgrade in dry run and check mode, and the
controller role's templates rendered into a temporary root.

This machine has systemd installed but not running as its init (PID 1 is another process),
so the controller role is run with fenix_controller_manage_service=false; what systemd would
start is checked by reading the rendered unit and environment file.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.slow


def write_playbook(path, role: str, variables: dict) -> str:
    path.write_text(
        json.dumps(
            [
                {
                    "name": f"Apply {role}",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "roles": [{"role": f"fenix.maintenance.{role}", "vars": variables}],
                }
            ]
        )
    )
    return str(path)


def recap_changed(stdout: str) -> int:
    line = next(x for x in stdout.splitlines() if x.startswith("localhost") and "ok=" in x)
    return int(line.split("changed=")[1].split()[0])


def test_host_upgrade_dry_run_changes_nothing_and_reports(run_playbook, tmp_path):
    playbook = write_playbook(tmp_path / "dry.yml", "host_upgrade", {"host_upgrade_dry_run": True})
    run = run_playbook(playbook)
    assert run.returncode == 0, run.stdout
    assert recap_changed(run.stdout) == 0
    assert "dry run: nothing changed" in run.stdout


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="the check-mode upgrade uses apt")
def test_host_upgrade_in_check_mode_is_safe_on_localhost(run_playbook, tmp_path):
    playbook = write_playbook(
        tmp_path / "check.yml",
        "host_upgrade",
        {"host_upgrade_dry_run": False, "host_upgrade_update_cache": False},
    )
    run = run_playbook(playbook, "--check")
    assert run.returncode == 0, run.stdout
    assert "Upgrade the packages with apt" in run.stdout
    # In check mode the reboot task is left out or skipped: never run.
    assert _task_outcomes(run.stdout, "Reboot the host") in ([], ["skipping"])


def _task_outcomes(stdout: str, task: str) -> list[str]:
    """The outcomes ("ok", "changed", "skipping", ...) printed under the task's TASK header."""
    outcomes: list[str] = []
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(("TASK [", f"TASK [{task}]")) and (
            f": {task}]" in line or f"[{task}]" in line
        ):
            for result in lines[index + 1 :]:
                if not result.strip() or result.startswith(("TASK [", "PLAY", "RUNNING HANDLER")):
                    break
                outcomes.append(result.split(":", 1)[0].strip())
    return outcomes


@pytest.fixture()
def controller_vars(tmp_path):
    me = pwd.getpwuid(os.getuid())
    return {
        "fenix_controller_install": False,
        "fenix_controller_manage_service": False,
        "fenix_controller_create_user": False,
        "fenix_controller_user": me.pw_name,
        "fenix_controller_group": me.pw_name,
        "fenix_controller_config_dir": str(tmp_path / "etc" / "fenix"),
        "fenix_controller_data_dir": str(tmp_path / "var" / "lib" / "fenix"),
        "fenix_controller_unit_dir": str(tmp_path / "etc" / "systemd" / "system"),
        "fenix_controller_venv": "/opt/fenix/venv",
        "fenix_controller_port": 12399,
        "fenix_controller_public_url": "https://fenix.example.com",
        "fenix_controller_settings": {
            "reply_window": 30,
            "action_dirs": ["/srv/fenix/actions"],
        },
        "fenix_controller_serve_args": ["--sim-hosts", "8"],
    }


def test_controller_role_renders_unit_and_settings(run_playbook, tmp_path, controller_vars):
    (tmp_path / "etc" / "systemd" / "system").mkdir(parents=True)  # as on any systemd host
    playbook = write_playbook(tmp_path / "controller.yml", "controller", controller_vars)
    run = run_playbook(playbook)
    assert run.returncode == 0, run.stdout

    env_file = tmp_path / "etc" / "fenix" / "fenix.env"
    settings = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )
    data_dir = controller_vars["fenix_controller_data_dir"]
    assert settings["FENIX_PORT"] == "12399"
    assert settings["FENIX_BIND_HOST"] == "127.0.0.1"
    assert settings["FENIX_DATABASE_URL"] == f"sqlite:///{data_dir}/fenix.db"
    assert settings["FENIX_PUBLIC_URL"] == "https://fenix.example.com"
    assert settings["FENIX_REPLY_WINDOW"] == "30"
    assert json.loads(settings["FENIX_ACTION_DIRS"]) == ["/srv/fenix/actions"]
    assert oct(env_file.stat().st_mode & 0o777) == "0o640"

    unit = (tmp_path / "etc" / "systemd" / "system" / "fenix.service").read_text()
    assert "ExecStart=/opt/fenix/venv/bin/fenix serve --sim-hosts 8\n" in unit
    assert f"EnvironmentFile={controller_vars['fenix_controller_config_dir']}/fenix.env" in unit
    assert f"WorkingDirectory={data_dir}" in unit
    assert "KillSignal=SIGTERM" in unit

    again = run_playbook(playbook)
    assert again.returncode == 0, again.stdout
    assert recap_changed(again.stdout) == 0


def test_controller_role_check_mode_installs_nothing(run_playbook, tmp_path, controller_vars):
    variables = dict(
        controller_vars,
        fenix_controller_install=True,
        fenix_controller_create_user=True,
        fenix_controller_user="fenix-check-mode",
        fenix_controller_group="fenix-check-mode",
        fenix_controller_venv=str(tmp_path / "venv"),
    )
    playbook = write_playbook(tmp_path / "controller-check.yml", "controller", variables)
    run = run_playbook(playbook, "--check")
    assert run.returncode == 0, run.stdout
    assert "Install the controller into its virtualenv" in run.stdout
    assert not (tmp_path / "venv").exists()
    assert not (tmp_path / "etc").exists()
    assert subprocess.run(["getent", "passwd", "fenix-check-mode"], check=False).returncode != 0


def test_controller_role_refuses_to_manage_a_service_without_systemd(
    run_playbook, tmp_path, controller_vars
):
    if subprocess.run(["pidof", "systemd"], capture_output=True, check=False).returncode == 0:
        pytest.skip("systemd runs here; the refusal is for machines without it")
    variables = dict(controller_vars, fenix_controller_manage_service=True)
    playbook = write_playbook(tmp_path / "controller-nosystemd.yml", "controller", variables)
    run = run_playbook(playbook, "--check")
    assert run.returncode != 0
    assert "fenix_controller_manage_service=false" in run.stdout
