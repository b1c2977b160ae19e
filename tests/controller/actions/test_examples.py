"""The example plug-ins shipped in playbooks/actions really run, here against this machine."""

from __future__ import annotations

import socket

import pytest
from flask import Flask

from fenix.actions.plugins import resolve_playbook
from fenix.actions.runner import run_playbook
from fenix.wsgi import serve_in_thread

pytestmark = pytest.mark.slow


@pytest.fixture
def listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def health_url():
    app = Flask("health")
    app.get("/health")(lambda: {"ok": True})
    handle = serve_in_thread(app)
    yield f"{handle.url}/health"
    handle.stop()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_service_check_passes_when_every_service_answers(tmp_path, listening_port, health_url):
    services = [
        {"name": "api", "port": listening_port, "timeout": 5},
        {"name": "health", "url": health_url},
    ]

    outcome = run_playbook(
        resolve_playbook("service_check"),
        hosts=["compute-1"],
        extravars={"services": services},
        private_data_dir=tmp_path / "run",
    )

    assert outcome.ok, outcome.error()


def test_service_check_fails_naming_the_service_that_does_not_answer(tmp_path):
    services = [{"name": "nova-compute", "port": _closed_port(), "timeout": 1}]

    outcome = run_playbook(
        resolve_playbook("service_check"),
        hosts=["compute-1"],
        extravars={"services": services},
        private_data_dir=tmp_path / "run",
    )

    assert not outcome.ok
    assert "nova-compute does not answer on port" in outcome.error()


def test_os_upgrade_runs_the_collections_host_upgrade_role_by_its_name(tmp_path):
    # A dry run against this machine: apt is really asked what it would upgrade.
    results = []

    outcome = run_playbook(
        resolve_playbook("os_upgrade"),
        hosts=["compute-1"],
        extravars={"host_upgrade_dry_run": True, "host_upgrade_update_cache": False},
        private_data_dir=tmp_path / "run",
        on_task=results.append,
    )

    assert outcome.ok, outcome.error()
    summary = [r.message for r in results if r.task == "Say what the upgrade did or would do"]
    assert len(summary) == 1 and "(dry run: nothing changed)" in summary[0]
