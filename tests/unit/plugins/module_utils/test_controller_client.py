"""The controller client against a real HTTP server on a free port (no mocks of urllib)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible_collections.fenix.maintenance.plugins.module_utils._controller_client import (
    TOKEN_HEADER,
    ControllerClient,
    ControllerError,
    JsonClient,
    path_quote,
)


class _Handler(BaseHTTPRequestHandler):
    """A few fixed answers in the shapes the controller gives."""

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def _send(self, status, body, content_type="application/json"):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        self.server.seen.append(("GET", self.path, dict(self.headers), None))
        if self.path == "/v1/maintenance":
            self._send(200, {"sessions": ["s-1", "s-2"], "session_id": ["s-1", "s-2"]})
        elif self.path == "/old/v1/maintenance":
            self._send(200, {"session_id": ["s-9"]})
        elif self.path.startswith("/v1/maintenance/missing"):
            self._send(
                404,
                {"error": {"code": 404, "title": "Not Found", "message": "no session missing"}},
            )
        elif self.path == "/v1/broken":
            self._send(500, b"boom", "text/plain")
        elif self.path == "/v1/not-json":
            self._send(200, b"<html>hello</html>", "text/html")
        elif self.path == "/v1/whoami":
            self._send(200, {"token": self.headers.get(TOKEN_HEADER)})
        else:
            self._send(200, {"path": self.path})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.seen.append(("POST", self.path, dict(self.headers), body))
        if self.path == "/v1/maintenance":
            self._send(200, {"session_id": "new-session"})
        else:
            self._send(200, {"got": json.loads(body)})

    def do_DELETE(self):
        self.server.seen.append(("DELETE", self.path, dict(self.headers), None))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture()
def base_url(server):
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_lists_session_ids(base_url):
    assert ControllerClient(base_url).list_session_ids() == ["s-1", "s-2"]


def test_lists_session_ids_of_a_controller_that_answers_only_session_id(base_url):
    assert ControllerClient(base_url + "/old").list_session_ids() == ["s-9"]


def test_json_error_becomes_controller_error_with_its_message(base_url):
    with pytest.raises(ControllerError) as caught:
        ControllerClient(base_url).get_session_detail("missing")
    assert caught.value.message == "no session missing"
    assert caught.value.status == 404
    assert caught.value.not_found
    assert caught.value.title == "Not Found"


def test_error_without_json_body_names_status_and_text(base_url):
    with pytest.raises(ControllerError) as caught:
        ControllerClient(base_url).get("/v1/broken")
    assert caught.value.status == 500
    assert "HTTP 500" in caught.value.message and "boom" in caught.value.message


def test_answer_that_is_not_json_is_an_error(base_url):
    with pytest.raises(ControllerError, match="not JSON"):
        ControllerClient(base_url).get("/v1/not-json")


def test_token_goes_in_the_x_auth_token_header(base_url):
    assert ControllerClient(base_url, token="s3cret").get("/v1/whoami") == {"token": "s3cret"}
    assert ControllerClient(base_url).get("/v1/whoami") == {"token": None}


def test_create_session_posts_json_and_returns_the_id(server, base_url):
    body = {"hosts": ["compute-1"], "state": "MAINTENANCE"}
    assert ControllerClient(base_url).create_session(body) == "new-session"
    method, path, headers, raw = server.seen[-1]
    assert (method, path) == ("POST", "/v1/maintenance")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(raw) == body


def test_empty_answer_is_none(base_url):
    assert ControllerClient(base_url).delete_session("s-1") is None


def test_ids_are_quoted_as_one_path_segment(server, base_url):
    ControllerClient(base_url).get_instance_constraints("ns/pod 1")
    assert server.seen[-1][1] == "/v1/instance/ns%2Fpod%201"
    assert path_quote("a/b") == "a%2Fb"


def test_raw_bytes_are_sent_as_they_are(server, base_url):
    JsonClient(base_url).request("POST", "/hook", body=b'{"a": 1}', headers={"X-Sig": "x"})
    _method, _path, headers, raw = server.seen[-1]
    assert raw == b'{"a": 1}'
    assert headers["X-Sig"] == "x"


def test_unreachable_controller_says_where_and_what_to_check():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    with pytest.raises(ControllerError) as caught:
        ControllerClient(f"http://127.0.0.1:{port}", timeout=5).list_session_ids()
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "check the URL" in caught.value.message


def test_project_url_is_where_a_manager_replies(base_url):
    client = ControllerClient(base_url + "/")
    assert client.project_url("s-1", "project-1") == f"{base_url}/v1/maintenance/s-1/project-1"
