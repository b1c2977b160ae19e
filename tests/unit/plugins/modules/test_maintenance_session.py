"""maintenance_session's follow loop against a small fake controller: the ways a wait ends.

The happy paths run against a real controller in tests/integration/targets/maintenance_session;
here a scripted server makes a session fail or stall on demand, and serves no event log, as an
OpenStack Fenix controller would not.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fenix.maintenance.plugins.modules import maintenance_session

SESSION = "5e55i0n-0000"


class _Controller(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body, headers=None):
        raw = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        if self.path == f"/v1/maintenance/{SESSION}/detail":
            states = self.server.states
            state = states.pop(0) if len(states) > 1 else states[0]
            error = self.server.error if state == "MAINTENANCE_FAILED" else None
            tag = f'"{state}"'  # this controller's detail changes with its state only
            self.server.asked.append(self.headers.get("If-None-Match"))
            if self.server.etags and self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            self._send(
                200,
                {"session_id": SESSION, "state": state, "percent_done": 50, "error": error},
                {"ETag": tag} if self.server.etags else {},
            )
        else:
            message = f"nothing at {self.path}"
            self._send(404, {"error": {"code": 404, "title": "Not Found", "message": message}})


@pytest.fixture()
def controller():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Controller)
    server.states = ["MAINTENANCE"]
    server.error = None
    server.etags = False
    server.asked = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def run_module(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        maintenance_session.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def follow_args(controller, **extra):
    args = dict(
        url=f"http://127.0.0.1:{controller.server_address[1]}",
        session_id=SESSION,
        wait=True,
        poll_interval=0.01,
        wait_timeout=10,
    )
    args.update(extra)
    return args


def test_a_failed_session_fails_the_task_with_its_error(controller, capsys):
    controller.states = ["MAINTENANCE", "PREPARE_MAINTENANCE", "MAINTENANCE_FAILED"]
    controller.error = "compute-1 did not come back from its reboot"
    code, result = run_module(follow_args(controller), capsys)
    assert code == 1
    assert result["failed"]
    assert "ended MAINTENANCE_FAILED" in result["msg"]
    assert "compute-1 did not come back from its reboot" in result["msg"]
    assert "resume" in result["msg"]
    states = [step["state"] for step in result["progress"]]
    assert states == ["MAINTENANCE", "PREPARE_MAINTENANCE", "MAINTENANCE_FAILED"]
    assert all(step["at"] for step in result["progress"])


def test_a_session_still_running_at_the_deadline_fails_with_how_to_follow_it(controller, capsys):
    controller.states = ["PLANNED_MAINTENANCE"]
    code, result = run_module(follow_args(controller, wait_timeout=0), capsys)
    assert code == 1
    assert "still in PLANNED_MAINTENANCE" in result["msg"]
    assert f"session_id={SESSION}" in result["msg"]


def test_a_done_session_is_followed_without_change(controller, capsys):
    controller.states = ["START_MAINTENANCE", "MAINTENANCE_DONE"]
    code, result = run_module(follow_args(controller), capsys)
    assert code == 0
    assert not result["changed"]
    assert result["session"]["state"] == "MAINTENANCE_DONE"
    assert [s["state"] for s in result["progress"]] == ["START_MAINTENANCE", "MAINTENANCE_DONE"]


def test_absent_needs_a_name_or_an_id(controller, capsys):
    url = f"http://127.0.0.1:{controller.server_address[1]}"
    code, result = run_module(dict(url=url, state="absent"), capsys)
    assert code == 1
    assert "name" in result["msg"] and "session_id" in result["msg"]


def test_the_url_comes_from_fenix_url_when_not_given(controller, capsys, monkeypatch):
    monkeypatch.setenv("FENIX_URL", f"http://127.0.0.1:{controller.server_address[1]}")
    controller.states = ["MAINTENANCE_DONE"]
    code, result = run_module(dict(session_id=SESSION), capsys)
    assert code == 0
    assert result["session_id"] == SESSION


def test_polls_send_the_last_etag_and_keep_the_last_detail_on_304(controller, capsys):
    controller.etags = True
    controller.states = ["MAINTENANCE"] * 4 + ["MAINTENANCE_DONE"]
    code, result = run_module(follow_args(controller), capsys)
    assert code == 0
    assert result["session"]["state"] == "MAINTENANCE_DONE"
    assert [s["state"] for s in result["progress"]] == ["MAINTENANCE", "MAINTENANCE_DONE"]
    # The module's first read, the follower's first (no tag yet), then the tag each time:
    # two 304s while the state stood, and the new detail once it changed.
    assert controller.asked == [None, None, '"MAINTENANCE"', '"MAINTENANCE"', '"MAINTENANCE"']


def test_a_controller_without_etags_is_followed_as_before(controller, capsys):
    controller.states = ["MAINTENANCE", "MAINTENANCE", "MAINTENANCE_DONE"]
    code, result = run_module(follow_args(controller), capsys)
    assert code == 0
    assert result["session"]["state"] == "MAINTENANCE_DONE"
    assert controller.asked == [None, None, None]


def test_check_mode_on_a_controller_that_cannot_plan_warns_and_creates_nothing(controller, capsys):
    # This controller serves no API document, as OpenStack Fenix does not.
    url = f"http://127.0.0.1:{controller.server_address[1]}"
    args = dict(url=url, hosts=["compute-1"], _ansible_check_mode=True)
    code, result = run_module(args, capsys)
    assert code == 0
    assert result["changed"] and result["created"]
    assert "plan" not in result and "session_id" not in result
    # A warning is a string, or a structured summary on newer ansible-core.
    assert "cannot plan a session" in json.dumps(result["warnings"])


def _params(**given):
    params = dict(
        name=None,
        hosts=[],
        workflow="vnf",
        metadata={},
        actions=[],
        download=[],
        maintenance_at=None,
        max_hosts_per_zone=None,
        gates=[],
        gate_timeout=600,
        gate_interval=10,
        windows=[],
        weekly_windows=[],
    )
    params.update(given)
    return params


def test_the_limit_per_zone_is_sent_only_when_set():
    assert maintenance_session.create_body(_params(max_hosts_per_zone=1))["max_hosts_per_zone"] == 1
    assert "max_hosts_per_zone" not in maintenance_session.create_body(_params())
