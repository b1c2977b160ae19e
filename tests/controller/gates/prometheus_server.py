"""A small HTTP server that answers /api/v1/query as Prometheus does, with alerts the test sets.

Real HTTP over a socket: the gate code under test makes its one request as it would to a real
Prometheus; the answer is a vector of ALERTS series, one per alert firing now.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        server: FakePrometheus = self.server.fake  # type: ignore[attr-defined]
        if parts.path != "/api/v1/query":
            self._send(404, {"status": "error", "errorType": "not_found", "error": parts.path})
            return
        query = parse_qs(parts.query).get("query", [""])[0]
        server.queries.append(query)
        now = time.time()
        result = [
            {
                "metric": {"__name__": "ALERTS", "alertname": name, "severity": "critical"},
                "value": [now, "1"],
            }
            for name in list(server.firing)
        ]
        self._send(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

    def _send(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class FakePrometheus:
    def __init__(self) -> None:
        self.firing: list[str] = []
        """Names of the critical alerts firing now: each is a series of the answer."""
        self.queries: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
