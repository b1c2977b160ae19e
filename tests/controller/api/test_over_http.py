"""The API through a real WSGI server and HTTP client, as a manager or admin tool sees it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from fenix.wsgi import serve_in_thread

from .helpers import ADMIN_TOKEN, SAMPLE_CREATE


@pytest.fixture
def base_url(app) -> Iterator[str]:
    handle = serve_in_thread(app, name="fenix-api-test")
    yield handle.url
    handle.stop()


def test_admin_and_manager_round_trip_over_http(base_url, ask_project):
    http = requests.Session()
    http.headers["X-Auth-Token"] = ADMIN_TOKEN
    created = http.post(f"{base_url}/v1/maintenance", json=SAMPLE_CREATE, timeout=10)
    assert created.status_code == 200
    assert created.headers["Content-Type"] == "application/json"
    session_id = created.json()["session_id"]

    listed = http.get(f"{base_url}/v1/maintenance", timeout=10).json()
    assert listed == {"sessions": [session_id], "session_id": [session_id]}
    assert http.get(f"{base_url}/v1/maintenance/{session_id}", timeout=10).json()["state"] == (
        "MAINTENANCE"
    )

    ask_project(session_id, "project-1", "MAINTENANCE", ["project-1-vm-1"])
    project_url = f"{base_url}/v1/maintenance/{session_id}/project-1"
    assert http.get(project_url, timeout=10).json() == {"instance_ids": ["project-1-vm-1"]}
    # A manager built for Fenix sends its body as a string; the header alone says JSON.
    reply = http.put(
        project_url,
        data='{"state": "ACK_MAINTENANCE"}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 200
    again = http.put(project_url, json={"state": "ACK_MAINTENANCE"}, timeout=10)
    assert again.status_code == 200  # the same answer again: taken, nothing changes
    other = http.put(project_url, json={"state": "NACK_MAINTENANCE"}, timeout=10)
    assert other.status_code == 409
    assert other.json()["error"]["title"] == "Conflict"

    deleted = http.delete(f"{base_url}/v1/maintenance/{session_id}", timeout=10)
    assert deleted.json() == {"session_id": session_id, "state": "MAINTENANCE"}


def test_errors_over_http_are_json(base_url):
    admin = {"X-Auth-Token": ADMIN_TOKEN}
    bad = requests.post(f"{base_url}/v1/maintenance", data="nope", headers=admin, timeout=10)
    missing = requests.get(f"{base_url}/v1/nowhere", headers=admin, timeout=10)

    assert bad.status_code == 400
    assert bad.headers["Content-Type"] == "application/json"
    assert "not valid JSON" in bad.json()["error"]["message"]
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 404
