"""maintenance_session's live progress against a controller that keeps no event log (as
OpenStack Fenix itself): the lines come from the changes between two reads of the session.

A small HTTP proxy in front of a real controller answers 404 to every /events request and
passes the rest through.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.slow


def proxy_without_events(upstream: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if self.path.split("?")[0].endswith("/events"):
                self._answer(404, b'{"error": {"code": 404, "title": "Not Found", "message": "x"}}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            request = urllib.request.Request(upstream + self.path, data=body, method=self.command)
            for name in ("Content-Type", "X-Auth-Token"):
                if self.headers.get(name):
                    request.add_header(name, self.headers[name])
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    self._answer(response.status, response.read())
            except urllib.error.HTTPError as exc:
                self._answer(exc.code, exc.read())

        def _answer(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, *args) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def old_controller(controller) -> Iterator[str]:
    server = proxy_without_events(controller.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_proxy_hides_the_event_log(old_controller):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{old_controller}/v1/maintenance/x/events")
    assert refused.value.code == 404
    with urllib.request.urlopen(f"{old_controller}/v1/maintenance") as listed:
        assert "sessions" in json.load(listed)


def test_progress_is_printed_from_what_polling_sees(old_controller, run_playbook, tmp_path):
    # The session waits for its maintenance_at, so however late the first poll comes on a
    # loaded machine, it sees the session before it is done: two session lines at least.
    # (8 s were once too few: ansible-playbook and the module started later than that while
    # the whole suite ran on two cores.)
    start = (datetime.now(UTC) + timedelta(seconds=20)).strftime("%Y-%m-%d %H:%M:%S")
    play = tmp_path / "follow.yml"
    play.write_text(
        json.dumps(
            [
                {
                    "name": "Follow a session on a controller without an event log",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Run and follow",
                            "fenix.maintenance.maintenance_session": {
                                "url": old_controller,
                                "name": "no-event-log",
                                "hosts": ["compute-2", "compute-3"],
                                "maintenance_at": start,
                                "wait": True,
                                "wait_timeout": 180,
                                "poll_interval": 0.3,
                            },
                            "register": "followed",
                        },
                        {
                            "name": "Show the progress",
                            "vars": {"states": "{{ followed.progress | map(attribute='state') }}"},
                            "ansible.builtin.debug": {"msg": "{{ states | join(' -> ') }}"},
                        },
                    ],
                }
            ]
        )
    )
    run = run_playbook(str(play))
    assert run.returncode == 0, run.stdout
    lines = re.findall(r"^\[localhost\] (.*)$", run.stdout, re.M)
    # No event log: no clock time, and the first read starts from nothing.
    assert lines[0].startswith("session - -> ")
    for host in ("compute-2", "compute-3"):
        assert any(re.fullmatch(rf"host {host}: \S+ -> MAINTENANCE_COMPLETE", x) for x in lines)
    session_lines = [x for x in lines if x.startswith("session ")]
    assert session_lines[-1].endswith(" -> MAINTENANCE_DONE")
    assert len(session_lines) >= 2
    states = re.search(r'"msg": "(.*)"', run.stdout.split("TASK [Show the progress]")[1])[1]
    assert states.split(" -> ")[-1] == "MAINTENANCE_DONE"
