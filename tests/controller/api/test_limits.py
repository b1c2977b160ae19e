"""A request body over the cap is a 413 in the API's JSON shape, before it is read."""

from __future__ import annotations

import json
import socket

import pytest

from fenix.app import create_app
from fenix.wsgi import ServerLimits, serve_in_thread

from .helpers import ADMIN_TOKEN, error_message

CAP = 64 * 1024


def test_a_body_over_the_cap_is_413_and_nothing_is_stored(client, count_rows):
    before = count_rows()
    body = {"state": "MAINTENANCE", "metadata": {"blob": "x" * (2 * 1024 * 1024)}}

    response = client.post("/v1/maintenance", json=body)

    assert response.status_code == 413
    assert "takes at most 1048576" in error_message(response)
    assert count_rows() == before


def test_a_body_at_the_cap_is_read(runtime):
    runtime.settings.max_body_bytes = CAP
    client = create_app(runtime).test_client()
    client.environ_base["HTTP_X_AUTH_TOKEN"] = ADMIN_TOKEN
    body = {"state": "MAINTENANCE", "hosts": ["compute-1"], "metadata": {"blob": ""}}
    body["metadata"]["blob"] = "x" * (CAP - len(json.dumps(body)))

    response = client.post(
        "/v1/maintenance", data=json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 200, response.get_json()


@pytest.fixture
def served(runtime):
    server = serve_in_thread(create_app(runtime), limits=ServerLimits(max_body_bytes=CAP))
    yield server
    server.stop()


def _raw_request(server, head: str, send: bytes = b"", timeout: float = 5) -> tuple[str, dict]:
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + send)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.decode().partition("\r\n")
    return status_line, json.loads(rest.partition("\r\n\r\n")[2])


def test_the_server_answers_413_at_the_header_without_waiting_for_the_body(served):
    # 50 MB announced, 10 bytes sent: the answer comes at once, nothing more is read.
    head = (
        f"POST /v1/maintenance HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {ADMIN_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
    )

    status, body = _raw_request(served, head, b'{"state": ')

    assert status.startswith("HTTP/1.1 413")
    assert body["error"]["code"] == 413
    assert f"larger than the {CAP} bytes" in body["error"]["message"]


def test_a_chunked_body_that_grows_past_the_cap_is_413(served):
    head = (
        f"POST /v1/maintenance HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {ADMIN_TOKEN}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 8192
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(CAP // 8192 + 2))

    status, body = _raw_request(served, head, chunks + b"0\r\n\r\n")

    assert status.startswith("HTTP/1.1 413")
    assert body["error"]["title"] == "Request Entity Too Large"
