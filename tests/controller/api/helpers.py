"""Shared test data and assertions for the API tests."""

from __future__ import annotations

from typing import Any

SAMPLE_CREATE: dict[str, Any] = {
    "hosts": ["compute-1", "compute-2"],
    "state": "MAINTENANCE",
    "maintenance_at": "2018-02-28 06:06:03",
    "metadata": {"openstack_release": "Queens"},
    "workflow": "default",
    "download": ["https://example.com/plugins1.tar.gz"],
    "actions": [
        {"plugin": "prepare", "type": "pre"},
        {"plugin": "os_upgrade", "type": "host", "metadata": {"upgrade": "SW1"}},
        {"plugin": "finalize", "type": "post"},
    ],
}
"""Fenix's own sample create body, from the wire contract."""


def error_message(response: Any) -> str:
    """The message of a contract-shaped JSON error, after checking that shape."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "title", "message"}, body
    assert body["error"]["code"] == response.status_code
    assert body["error"]["title"]
    return body["error"]["message"]
