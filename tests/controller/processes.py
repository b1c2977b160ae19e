"""Real controller processes for tests that kill them: `fenix serve` children and a balancer.

A `ControllerProcess` keeps its port, database and settings across restarts, so a test can
SIGKILL it and start it again as an operator would. A `Balancer` stands in front of several of
them the way a load balancer does: managers and their replies reach whichever one is alive.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.controller.live import wait_until

FENIX = str(Path(sys.executable).parent / "fenix")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ControllerProcess:
    """`fenix serve` as a real child process, on a fixed port and database across restarts.

    `name` tells its log file apart from another controller's; each start gets the engine id
    `<name>#<start count>` unless `env` sets FENIX_ENGINE_ID, so an event log says which
    process ran which step.
    """

    def __init__(
        self,
        tmp_path: Path,
        sim_url: str,
        *,
        db_url: str | None = None,
        name: str = "controller",
        env: dict[str, str] | None = None,
        admin_token: str | None = None,
        port: int | None = None,
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"{name}.log"
        self.args = [
            FENIX,
            "serve",
            "--port",
            str(self.port),
            "--sim-url",
            sim_url,
            "--db",
            db_url or f"sqlite:///{tmp_path / 'fenix.db'}",
        ]
        self.env = {
            **os.environ,
            "FENIX_LEASE_SECONDS": "2",
            "FENIX_REPLY_WINDOW": "5",
            "FENIX_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
            **(env or {}),
        }
        self.headers = {"X-Auth-Token": admin_token} if admin_token else {}
        self.starts = 0
        self.process: subprocess.Popen | None = None

    @property
    def engine_id(self) -> str:
        return self.env.get("FENIX_ENGINE_ID") or f"{self.name}#{self.starts}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60, wait: bool = True) -> None:
        """Start the process; `wait`: until its API answers."""
        self.starts += 1
        env = {"FENIX_ENGINE_ID": self.engine_id, **self.env}
        with self.log.open("a") as log:
            log.write(f"--- start {self.starts} as engine {self.engine_id}\n")
            log.flush()
            self.process = subprocess.Popen(self.args, env=env, stdout=log, stderr=log)
        if wait:
            wait_until(self.answers, timeout=timeout, what=f"{self.name} up")

    def answers(self) -> bool:
        """Its API answers; fails the test if the process ended on its own."""
        assert self.alive, f"{self.name} exited with {self.process.returncode}; see {self.log}"
        try:
            response = requests.get(f"{self.url}/v1/maintenance", headers=self.headers, timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Balancer:
    """An HTTP front for several controllers: each request goes to the first that answers.

    A request that cannot be sent to one backend (it is dead) is tried on the next; one sent
    but not answered is not retried (it may have taken effect), the caller sees a 502.
    """

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self._next = 0
        self._lock = threading.Lock()
        balancer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                status, content, content_type = balancer.forward(
                    self.command, self.path, headers, body
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_PUT = do_POST = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Balancer:
        self._thread.start()
        return self

    def forward(
        self, method: str, path: str, headers: dict, body: bytes | None
    ) -> tuple[int, bytes, str]:
        with self._lock:
            first = self._next
            self._next = (self._next + 1) % len(self.backends)
        order = self.backends[first:] + self.backends[:first]
        for backend in order:
            try:
                response = requests.request(
                    method, backend + path, headers=headers, data=body, timeout=15
                )
            except requests.ConnectionError as exc:
                if _never_sent(exc):
                    continue
                return 502, f"backend {backend} failed: {exc}".encode(), "text/plain"
            except requests.RequestException as exc:
                return 502, f"backend {backend} failed: {exc}".encode(), "text/plain"
            content_type = response.headers.get("Content-Type", "application/json")
            return response.status_code, response.content, content_type
        return 503, b"no controller is up", "text/plain"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _never_sent(exc: requests.ConnectionError) -> bool:
    """The connection was refused: the request cannot have reached the controller."""
    return "Connection refused" in str(exc) or "NewConnectionError" in repr(exc)
