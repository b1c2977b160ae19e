"""Playbooks really run through ansible-runner, with task results handed back."""

from __future__ import annotations

import json
import os

import pytest

from fenix.actions.plugins import builtin_plugins, resolve_playbook
from fenix.actions.runner import UnsafeHostName, run_playbook


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


TEMPLATES_OF_THE_DATA = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Write what the plug-in was given
      ansible.builtin.copy:
        dest: "{{ out }}/{{ inventory_hostname | hash('sha1') }}.json"
        content: "{{ {'host': inventory_hostname, 'hosts': fenix_hosts,
          'metadata': fenix_session_metadata} | to_json }}"
        mode: "0600"
"""


def test_data_from_the_api_and_the_cloud_reaches_ansible_as_data_never_as_a_template(tmp_path):
    playbook = tmp_path / "echo.yml"
    playbook.write_text(TEMPLATES_OF_THE_DATA)
    ran = tmp_path / "ran"
    evil = "{{ lookup('pipe', 'touch " + str(ran) + "') }}"
    out = tmp_path / "out"
    out.mkdir()
    host = f"compute-{evil}"

    outcome = run_playbook(
        playbook,
        hosts=[host, "compute-2"],
        extravars={
            "out": str(out),
            "fenix_hosts": [host, "compute-2"],
            "fenix_session_metadata": {"upgrade": evil, "nested": [{"deep": evil}]},
        },
        private_data_dir=tmp_path / "run",
    )

    assert outcome.ok, outcome.error()
    assert not ran.exists(), "a lookup in the data ran"
    written = [json.loads(path.read_text()) for path in sorted(out.iterdir())]
    assert sorted(w["host"] for w in written) == sorted([host, "compute-2"])
    for seen in written:
        assert seen["hosts"] == [host, "compute-2"]
        assert seen["metadata"] == {"upgrade": evil, "nested": [{"deep": evil}]}


def test_host_names_with_a_comma_or_colon_are_kept_whole_in_the_limit(tmp_path):
    playbook = tmp_path / "ping.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Ping\n      ansible.builtin.ping:\n"
    )
    hosts = ["rack1,compute-1", "rack2:compute-2"]
    results = []

    outcome = run_playbook(
        playbook,
        hosts=hosts,
        extravars={},
        private_data_dir=tmp_path / "run",
        on_task=results.append,
    )

    assert outcome.ok, outcome.error()
    assert sorted(r.host for r in results) == sorted(hosts)


@pytest.mark.parametrize("name", ["compute-*", "!compute-1", "~comp.*", "compute-[1]", " c-1"])
def test_host_names_that_ansible_reads_as_patterns_are_refused(tmp_path, name):
    playbook = tmp_path / "ping.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n")

    with pytest.raises(UnsafeHostName, match="would read as patterns"):
        run_playbook(playbook, hosts=[name], extravars={}, private_data_dir=tmp_path / "run")
