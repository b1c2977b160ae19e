"""A session's action plug-ins run in order, are recorded, and stream their tasks into the log."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

FAILING = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Check the disk
      ansible.builtin.fail:
        msg: disk full on {{ inventory_hostname }}
"""
PASSING = FAILING.replace("ansible.builtin.fail", "ansible.builtin.debug")


def test_pre_host_and_post_plugins_run_in_order_over_the_session_hosts(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    session_id = live.create_session(
        actions=[
            {"plugin": "dummy", "type": "post"},
            {"plugin": "dummy", "type": "host", "metadata": {"upgrade": "SW1"}},
            {"plugin": "fenix.maintenance.actions.dummy", "type": "pre"},
        ]
    )

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    runs = detail["action_runs"]
    assert [r["type"] for r in runs] == ["pre", "host", "host", "post"]
    assert runs[0]["hosts"] == runs[-1]["hosts"] == ["compute-1", "compute-2"]
    # One host run per host, whichever the workflow took first.
    assert sorted(r["hosts"] for r in runs[1:3]) == [["compute-1"], ["compute-2"]]
    assert all(r["state"] == "DONE" and r["rc"] == 0 for r in runs)
    tasks = [e for e in live.events(session_id) if e["kind"] == "action.task"]
    assert len(tasks) == 2 + 1 + 1 + 2
    assert {t["new"] for t in tasks} == {"ok"}


def test_failing_plugin_fails_the_session_with_its_task_message_and_can_be_retried(
    live_stack, tmp_path
):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "disk_check.yml").write_text(FAILING)
    live = live_stack.start(
        cloud={"hosts": 2, "projects": 1, "instances": 1}, action_dirs=[str(plugins)]
    )
    session_id = live.create_session(actions=[{"plugin": "disk_check", "type": "host"}])

    failed = live.wait_for(session_id)

    assert failed["state"] == "MAINTENANCE_FAILED"
    assert "disk_check" in failed["error"]
    assert "task 'Check the disk' failed on compute-" in failed["error"]
    assert "disk full on compute-" in failed["error"]
    held = [h for h in failed["hosts"] if h["disabled"]]
    assert [h["state"] for h in held] == ["IN_MAINTENANCE"]  # out of service, on record

    assert failed["hosts"][1]["name"] == "compute-2"  # the empty host goes first
    (plugins / "disk_check.yml").write_text(PASSING)
    resumed = live.http.put(
        f"{live.url}/v1/maintenance/{session_id}", json={"state": "START_MAINTENANCE"}
    )
    assert resumed.status_code == 200, resumed.text
    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert [r["state"] for r in detail["action_runs"]][:1] == ["FAILED"]
    assert detail["action_runs"][-1]["state"] == "DONE"


ECHO_METADATA = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Write what the session handed over
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'session': fenix_session_metadata, 'note': note} | to_json }}"
        mode: "0600"
      run_once: true
"""


def test_a_lookup_in_session_or_plugin_metadata_is_handed_over_as_text_never_run(
    live_stack, tmp_path
):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "echo.yml").write_text(ECHO_METADATA)
    ran, out = tmp_path / "ran", tmp_path / "out.json"
    lookup = "{{ lookup('pipe', 'touch " + str(ran) + "') }}"
    live = live_stack.start(
        cloud={"hosts": 2, "projects": 1, "instances": 1}, action_dirs=[str(plugins)]
    )
    response = live.http.post(
        f"{live.url}/v1/maintenance",
        json={
            "state": "MAINTENANCE",
            "metadata": {"upgrade": lookup},
            "actions": [
                {"plugin": "echo", "type": "pre", "metadata": {"out": str(out), "note": lookup}}
            ],
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text

    detail = live.wait_for(response.json()["session_id"])

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert not ran.exists(), "the lookup in the metadata ran"
    assert json.loads(out.read_text()) == {"session": {"upgrade": lookup}, "note": lookup}
