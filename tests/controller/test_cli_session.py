"""`fenix session ...` against a real controller: output, progress and exit codes."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from fenix.cli import main
from tests.controller.live import wait_until

pytestmark = pytest.mark.slow

FENIX = str(Path(sys.executable).parent / "fenix")


def fenix(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """Run the installed `fenix` command, as a person or a script would."""
    return subprocess.run(
        [FENIX, *args], capture_output=True, text=True, timeout=timeout, env=fenix_env(env)
    )


def fenix_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without its FENIX_ settings, plus `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FENIX_")}
    return {**environment, **(env or {})}


def controller_env(live) -> dict[str, str]:
    return {"FENIX_URL": live.url, "FENIX_TOKEN": live.admin_token or ""}


def test_watch_shows_progress_and_exits_0_when_the_session_is_done(live_stack):
    # Each host's maintenance lasts several polls, so a poll sees a host in maintenance.
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 2, "instances": 2, "maintain_seconds": 1.0}
    )
    live.add_manager("project-1")
    live.add_manager("project-2", instance_action="MIGRATE")

    created = fenix("session", "create", "--watch", "--interval", "0.2", env=controller_env(live))

    assert created.returncode == 0, created.stdout + created.stderr
    lines = created.stdout.splitlines()
    session_id = lines[0]
    assert live.detail(session_id)["state"] == "MAINTENANCE_DONE"
    progress = [line for line in lines if "%" in line]
    assert len(progress) >= 3, created.stdout
    assert "  0% MAINTENANCE" in progress[0]
    assert "100% MAINTENANCE_DONE: done" in progress[-1]
    # Every host's passage through maintenance is printed from the event log, however short
    # it was between two polls (a progress line only shows what a poll happened to catch).
    for host in ("compute-1", "compute-2"):
        assert any(re.search(rf"{host}: \w+ -> IN_MAINTENANCE", line) for line in lines), host
    assert any("project-2 answered ACK_PLANNED_MAINTENANCE" in line for line in lines)
    assert lines[-1] == f"session {session_id}: MAINTENANCE_DONE"


def test_watch_exits_1_when_the_session_fails(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    live.add_manager("project-1", nack_states=frozenset({"MAINTENANCE"}))
    session_id = live.create_session()

    watched = fenix("session", "watch", session_id, "--interval", "0.2", env=controller_env(live))

    assert watched.returncode == 1, watched.stdout + watched.stderr
    assert "MAINTENANCE_FAILED" in watched.stdout
    assert "project-1 answered NACK_MAINTENANCE" in watched.stdout
    assert f"session {session_id} failed: project-1 answered NACK_MAINTENANCE" in watched.stderr


def test_watch_json_prints_one_object_per_change_the_last_one_final(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    # The session waits until the watcher has printed what it first saw, however late the
    # watcher starts on a loaded machine; then it is brought forward and runs to its end.
    session_id = live.create_session(maintenance_at="2099-01-01 00:00:00")
    watcher = subprocess.Popen(
        [FENIX, "session", "watch", session_id, "--json", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fenix_env(controller_env(live)),
    )
    try:
        first = json.loads(watcher.stdout.readline())
        assert first["state"] == "MAINTENANCE" and first["percent_done"] == 0, first
        brought_forward = live.http.put(
            f"{live.url}/v1/maintenance/{session_id}",
            json={"maintenance_at": "2000-01-01 00:00:00"},
            timeout=10,
        )
        assert brought_forward.status_code == 200, brought_forward.text
        rest, errors = watcher.communicate(timeout=120)
    finally:
        watcher.kill()

    assert watcher.returncode == 0, errors
    states = [first] + [json.loads(line) for line in rest.splitlines()]
    assert len(states) >= 2
    assert states[-1]["state"] == "MAINTENANCE_DONE" and states[-1]["percent_done"] == 100
    assert states[-1]["hosts"] == {
        "compute-1": "MAINTENANCE_COMPLETE",
        "compute-2": "MAINTENANCE_COMPLETE",
    }


def test_watch_on_a_terminal_draws_a_progress_bar(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    session_id = live.create_session()

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    from fenix.cli import _parser
    from fenix.client.commands import run_session_command

    args = _parser().parse_args(
        ["session", "watch", session_id, "--url", live.url, "--interval", "0.1"]
        + (["--token", live.admin_token] if live.admin_token else [])
    )
    assert run_session_command(args, out=screen) == 0

    drawn = screen.getvalue()
    assert "\x1b[" in drawn  # a live display, redrawn in place
    assert "━" in drawn and "100%" in drawn
    assert "MAINTENANCE_DONE" in drawn


def test_create_list_show_delete_for_scripts(live_stack, tmp_path):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 1})
    env = controller_env(live)
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"metadata": {"openstack_release": "Queens"}}))

    created = fenix(
        "session",
        "create",
        "--json",
        "--host",
        "compute-1,compute-2",
        "--at",
        "2099-01-01 00:00:00",
        "--metadata",
        "ticket=42",
        "--from-file",
        str(body),
        "--action",
        "dummy:host",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    session_id = json.loads(created.stdout)["session_id"]

    listed = fenix("session", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [s["session_id"] for s in json.loads(listed.stdout)] == [session_id]

    shown = fenix("session", "show", session_id, "--json", env=env)
    detail = json.loads(shown.stdout)
    assert [h["name"] for h in detail["hosts"]] == ["compute-1", "compute-2"]
    assert detail["metadata"] == {"openstack_release": "Queens", "ticket": 42}
    assert detail["action_plugins"] == [{"plugin": "dummy", "type": "host", "metadata": {}}]
    assert detail["maintenance_at"].startswith("2099-01-01T00:00:00")

    table = fenix("session", "list", env=env)
    assert table.stdout.splitlines()[0].split() == [
        "SESSION",
        "STATE",
        "DONE",
        "WORKFLOW",
        "CREATED",
    ]
    assert session_id in table.stdout and "MAINTENANCE" in table.stdout
    readable = fenix("session", "show", session_id, env=env)
    assert "compute-2" in readable.stdout and "PENDING" in readable.stdout

    deleted = fenix("session", "delete", session_id, "--json", env=env)
    assert deleted.returncode == 0
    assert json.loads(deleted.stdout) == {"session_id": session_id, "state": "MAINTENANCE"}
    wait_until(lambda: fenix("session", "list", "--json", env=env).stdout.strip() == "[]")


def test_plan_prints_the_hosts_their_waves_the_moves_and_the_makespan_and_creates_nothing(
    live_stack,
):
    live = live_stack.start(cloud={"hosts": 3, "projects": 2, "instances": 2})
    env = controller_env(live)
    headers = {"X-Auth-Token": live.admin_token} if live.admin_token else {}
    constrained = requests.put(
        f"{live.url}/v1/instance/project-1-vm-1",
        json={"project_id": "project-1", "migration_type": "MIGRATE"},
        headers=headers,
        timeout=10,
    )
    assert constrained.status_code == 200, constrained.text
    hosts = ("--host", "compute-1,compute-2,compute-3", "--workflow", "vnf")

    readable = fenix("session", "plan", *hosts, "--assume", "maintain=60", env=env)
    scripted = fenix("session", "plan", *hosts, "--json", "--assume", "migrate=7", env=env)

    assert readable.returncode == 0, readable.stderr
    lines = readable.stdout.splitlines()
    assert lines[0].startswith("plan of 3 hosts, vnf workflow (parallel)")
    assert lines[1].startswith("makespan  estimate ") and "lower bound" in lines[1]
    assert "maintain 60 s" in readable.stdout
    assert next(line for line in lines if line.startswith("WAVE")).split()[:3] == [
        "WAVE",
        "#",
        "HOST",
    ]
    for host in ("compute-1", "compute-2", "compute-3"):
        assert any(line.split()[2:3] == [host] for line in lines), host
    moved = next(line for line in lines if line.startswith("project-1-vm-1 "))
    assert "MIGRATE" in moved.split() and "LIVE_MIGRATE" not in moved.split()
    assert "An estimate, assuming:" in readable.stdout
    assert scripted.returncode == 0, scripted.stderr
    plan = json.loads(scripted.stdout)
    assert plan["durations"]["migrate"] == 7
    assert plan["estimate"] >= plan["lower_bound"]["seconds"]
    assert json.loads(fenix("session", "list", "--json", env=env).stdout) == []


def test_plan_exits_1_saying_why_when_it_cannot_go_to_the_end(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 2})
    headers = {"X-Auth-Token": live.admin_token} if live.admin_token else {}
    spread = {"group_id": "spread", "project_id": "project-1", "anti_affinity_group": True}
    requests.put(f"{live.url}/v1/instance_group/spread", json=spread, headers=headers, timeout=10)
    for name in ("project-1-vm-1", "project-1-vm-2"):  # one on each host: neither can move
        member = {"project_id": "project-1", "group_id": "spread"}
        requests.put(f"{live.url}/v1/instance/{name}", json=member, headers=headers, timeout=10)

    planned = fenix("session", "plan", "--workflow", "vnf", env=controller_env(live))

    assert planned.returncode == 1, planned.stdout + planned.stderr
    assert "makespan  estimate none (blocked)" in planned.stdout
    assert "the plan cannot go to the end: " in planned.stderr
    assert "cannot be placed under their constraints" in planned.stderr


def test_refusals_and_unreachable_controllers_exit_2_with_the_reason(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})

    unknown = fenix("session", "show", "no-such-session", env=controller_env(live))
    assert unknown.returncode == 2
    assert "the controller refused (404): no maintenance session no-such-session" in (
        unknown.stderr
    )

    bad_host = fenix("session", "create", "--host", "compute-9", env=controller_env(live))
    assert bad_host.returncode == 2 and "compute-9" in bad_host.stderr

    if live.admin_token:
        no_token = fenix("session", "list", "--url", live.url)
        assert no_token.returncode == 2
        assert "(401)" in no_token.stderr and "--token or FENIX_TOKEN" in no_token.stderr

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    unreachable = fenix("session", "watch", "any", "--url", closed)
    assert unreachable.returncode == 2
    assert f"cannot reach the controller at {closed}" in unreachable.stderr


def test_bad_arguments_exit_2(capsys):
    assert main(["session", "create", "--action", "no-type", "--url", "http://127.0.0.1:9"]) == 2
    assert "expected PLUGIN:TYPE" in capsys.readouterr().err
    usage = fenix("session")
    assert usage.returncode == 2 and "create,plan,list,show,watch,delete" in usage.stderr
    assert main(["session", "plan", "--assume", "maintain", "--url", "http://127.0.0.1:9"]) == 2
    assert "expected WHAT=SECONDS" in capsys.readouterr().err


def test_create_sets_the_limit_per_zone_and_a_bad_one_exits_2_with_the_reason(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1, "zones": 2})
    env = controller_env(live)

    created = fenix(
        "session", "create", "--at", "2099-01-01 00:00:00", "--max-hosts-per-zone", "2", env=env
    )
    refused = fenix("session", "create", "--max-hosts-per-zone", "0", env=env)

    assert created.returncode == 0, created.stdout + created.stderr
    session_id = created.stdout.strip()
    assert live.detail(session_id)["max_hosts_per_zone"] == 2
    assert refused.returncode == 2
    assert "max_hosts_per_zone" in refused.stderr
    shown = fenix("session", "show", session_id, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "limit     2 host(s) out per zone" in shown.stdout
    rows = {line.split()[0]: line.split() for line in shown.stdout.splitlines() if line}
    assert rows["HOST"][-1] == "ZONE"
    assert (rows["compute-1"][-1], rows["compute-2"][-1]) == ("zone-1", "zone-2")
