"""A session's action plug-ins run in order, are recorded, and stream their tasks into the log."""

from __future__ import annotations

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
    assert [(r["type"], r["hosts"]) for r in runs] == [
        ("pre", ["compute-1", "compute-2"]),
        ("host", ["compute-2"]),  # empty from the start, so maintained first
        ("host", ["compute-1"]),
        ("post", ["compute-1", "compute-2"]),
    ]
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
