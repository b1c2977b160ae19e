"""`fenix session pause|resume` (and what `show` says of a pause) against a live controller."""

from __future__ import annotations

import json

import pytest

from fenix.cli import main
from tests.controller.live import wait_until

pytestmark = pytest.mark.slow


def _run(capsys, live, *args: str) -> tuple[int, str, str]:
    code = main(["session", *args, "--url", live.url, "--token", live.admin_token or ""])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_pause_show_and_resume_from_the_shell(live_stack, capsys):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    session_id = live.create_session(maintenance_at="2099-01-01 00:00:00")

    code, out, _err = _run(capsys, live, "pause", session_id, "--reason", "change freeze")
    assert code == 0
    assert f"session {session_id} paused in MAINTENANCE" in out

    code, out, _err = _run(capsys, live, "show", session_id)
    assert code == 0
    assert "paused    since " in out and "by admin: change freeze" in out

    code, _out, err = _run(capsys, live, "pause", session_id)
    assert code == 2
    assert "the controller refused (409)" in err and "paused already" in err

    code, out, _err = _run(capsys, live, "resume", session_id, "--json")
    assert code == 0
    assert json.loads(out)["session_id"] == session_id

    code, out, _err = _run(capsys, live, "show", session_id, "--json")
    detail = json.loads(out)
    assert detail["paused"] is None
    assert [p["reason"] for p in detail["pauses"]] == ["change freeze"]
    code, out, _err = _run(capsys, live, "show", session_id)
    assert "was paused " in out and "change freeze" in out


def test_create_with_windows_and_show_them(live_stack, capsys):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})

    code, out, err = _run(
        capsys,
        live,
        "create",
        "--json",
        "--host",
        "compute-1",
        "--window",
        "2099-01-04 22:00:00/2099-01-05 04:00:00",
        "--weekly",
        "sat,sun@22:00-04:00",
    )
    assert code == 0, err
    session_id = json.loads(out)["session_id"]

    detail = live.detail(session_id)
    assert detail["windows"]["windows"] == [
        {"start": "2099-01-04T22:00:00+00:00", "end": "2099-01-05T04:00:00+00:00"}
    ]
    assert detail["windows"]["weekly"] == [
        {"days": ["sat", "sun"], "start": "22:00:00", "end": "04:00:00"}
    ]
    wait_until(lambda: live.detail(session_id)["held"], what="held outside its windows")
    code, out, _err = _run(capsys, live, "show", session_id)
    assert "waiting   for a maintenance window until " in out
    assert "window    2099-01-04T22:00:00+00:00 .. 2099-01-05T04:00:00+00:00" in out
    assert "weekly    sat,sun 22:00:00 .. 04:00:00" in out


def test_bad_window_options_exit_2_saying_why(live_stack, capsys):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})

    code, _out, err = _run(capsys, live, "create", "--window", "2099-01-04 22:00:00")
    assert code == 2 and "expected START/END" in err

    code, _out, err = _run(capsys, live, "create", "--weekly", "sat,sun 22:00-04:00")
    assert code == 2 and "expected DAYS@HH:MM-HH:MM" in err

    code, _out, err = _run(capsys, live, "create", "--weekly", "funday@22:00-04:00")
    assert code == 2 and "(400)" in err and "'funday' is not a day of the week" in err
