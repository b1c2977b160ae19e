"""Playbooks really run through ansible-runner, with task results handed back."""

from __future__ import annotations

import os

from fenix.actions.plugins import builtin_plugins, resolve_playbook
from fenix.actions.runner import run_playbook


def test_dummy_plugin_runs_once_per_host_in_one_invocation(tmp_path, monkeypatch):
    # A venv that is not activated: ansible-playbook must still be found.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    results = []

    outcome = run_playbook(
        resolve_playbook("dummy"),
        hosts=["compute-1", "compute-2"],
        extravars={"fenix_session_id": "s-1", "fenix_action_type": "host"},
        private_data_dir=tmp_path / "run",
        on_task=results.append,
    )

    assert outcome.ok, outcome.error()
    assert sorted(r.host for r in results) == ["compute-1", "compute-2"]
    assert all(r.status == "ok" for r in results)
    assert "host action for session s-1 on compute-1" in {r.message for r in results}
    assert os.path.isdir(outcome.artifacts_dir)


def test_failing_task_is_reported_with_its_message(tmp_path):
    playbook = tmp_path / "broken.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Check the disk\n      ansible.builtin.fail:\n        msg: disk full\n"
    )

    outcome = run_playbook(
        playbook, hosts=["compute-1"], extravars={}, private_data_dir=tmp_path / "run"
    )

    assert not outcome.ok
    assert outcome.error() == "task 'Check the disk' failed on compute-1: disk full"


def test_collection_name_resolves_to_the_shipped_playbook():
    assert "dummy" in builtin_plugins()
    assert resolve_playbook("fenix.maintenance.actions.dummy") == resolve_playbook("dummy")
