"""Run each tests/integration/targets/<module> with ansible-playbook against live services.

The targets are laid out as ansible-test expects, but they need a running controller or
simulated cloud, which ansible-test cannot start; this runner starts them (conftest.py),
passes their URLs as variables and fails with the playbook's output when a target fails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from tests.e2e.conftest import ROOT, http_json

pytestmark = pytest.mark.slow

TARGETS = ROOT / "tests" / "integration" / "targets"
VNFM_SECRET = "integration-secret"  # the secret the vnfm_handshake target signs with


def run_target(run_playbook, tmp_path: Path, target: str, variables: dict) -> None:
    playbook = tmp_path / f"{target}.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": f"Integration target {target}",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": f"Run target {target}",
                            "ansible.builtin.include_tasks": str(
                                TARGETS / target / "tasks" / "main.yml"
                            ),
                        }
                    ],
                }
            ]
        )
    )
    extra = tmp_path / f"{target}-vars.json"
    extra.write_text(json.dumps(variables))
    run = run_playbook(str(playbook), "-e", f"@{extra}")
    assert run.returncode == 0, run.stdout
    assert "failed=0" in run.stdout


def test_every_module_has_a_target():
    modules = {p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")}
    targets = {p.name for p in TARGETS.iterdir() if (p / "tasks" / "main.yml").exists()}
    assert modules <= targets


def test_maintenance_session_target(controller, run_playbook, tmp_path):
    run_target(run_playbook, tmp_path, "maintenance_session", {"fenix_url": controller.url})


def test_maintenance_info_target(controller, run_playbook, tmp_path):
    run_target(run_playbook, tmp_path, "maintenance_info", {"fenix_url": controller.url})


def test_host_drain_target(sim_cloud, run_playbook, tmp_path):
    run_target(run_playbook, tmp_path, "host_drain", {"fenix_sim_url": sim_cloud.url})


def test_host_restore_target(sim_cloud, run_playbook, tmp_path):
    run_target(run_playbook, tmp_path, "host_restore", {"fenix_sim_url": sim_cloud.url})


def test_instance_migrate_target(sim_cloud, run_playbook, tmp_path):
    run_target(run_playbook, tmp_path, "instance_migrate", {"fenix_sim_url": sim_cloud.url})


class _Recorder(ThreadingHTTPServer):
    """Records every POSTed notification; a manager when ``answer`` is set."""

    def __init__(self, answer: bool) -> None:
        super().__init__(("127.0.0.1", 0), _NotificationHandler)
        self.answer = answer
        self.received: list[tuple[dict, dict]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/maintenance"


class _NotificationHandler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, *args):
        pass

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw)
        self.server.received.append((body, {**dict(self.headers), "raw": raw}))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if self.server.answer:
            # Answer the controller afterwards, as a manager does: never inside the POST.
            threading.Thread(target=_acknowledge, args=(body["payload"],), daemon=True).start()


def _acknowledge(payload: dict) -> None:
    time.sleep(0.2)
    body = json.dumps({"state": f"ACK_{payload['state']}", "instance_actions": {}}).encode()
    request = Request(payload["reply_url"], data=body, method="PUT")
    request.add_header("Content-Type", "application/json")
    urlopen(request, timeout=10).close()


def _serve(server: _Recorder) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture()
def waiting_session(controller):
    """A session over compute-4 whose project-1 has a (silent) manager and waits for it."""
    sink = _Recorder(answer=False)
    _serve(sink)
    subscription = http_json(
        "POST",
        f"{controller.url}/v1/subscriptions",
        {
            "event_types": ["maintenance.planned"],
            "project_id": "project-1",
            "callback_url": sink.url,
        },
    )
    session_id = http_json(
        "POST",
        f"{controller.url}/v1/maintenance",
        {"hosts": ["compute-4"], "state": "MAINTENANCE", "workflow": "default"},
    )["session_id"]
    try:
        deadline = time.monotonic() + 30
        while True:
            detail = http_json("GET", f"{controller.url}/v1/maintenance/{session_id}/detail")
            project = {p["project_id"]: p for p in detail["projects"]}.get("project-1")
            if project and project["step"] == "MAINTENANCE" and project["has_manager"]:
                break
            assert time.monotonic() < deadline, f"project-1 was never asked: {detail}"
            time.sleep(0.2)
        yield session_id
    finally:
        http_json("DELETE", f"{controller.url}/v1/maintenance/{session_id}")
        http_json("DELETE", f"{controller.url}/v1/subscriptions/{subscription['subscription_id']}")
        sink.shutdown()
        sink.server_close()


def test_vnfm_handshake_target(controller, waiting_session, run_playbook, tmp_path):
    vnfm = _Recorder(answer=True)
    _serve(vnfm)
    try:
        run_target(
            run_playbook,
            tmp_path,
            "vnfm_handshake",
            {
                "fenix_url": controller.url,
                "fenix_session_id": waiting_session,
                "fenix_project_id": "project-1",
                "fenix_vnfm_url": vnfm.url,
            },
        )
    finally:
        vnfm.shutdown()
        vnfm.server_close()
    # Sent once (check mode and the repeated, answered step send nothing), and signed.
    [(body, headers)] = vnfm.received
    assert body["event_type"] == "maintenance.planned"
    assert body["payload"]["project_id"] == "project-1"
    expected = hmac.new(VNFM_SECRET.encode(), headers["raw"], hashlib.sha256).hexdigest()
    assert headers["X-Fenix-Signature"] == f"sha256={expected}"
