"""Shared test data and assertions for the API tests."""

from __future__ import annotations

from typing import Any

SAMPLE_CREATE: dict[str, Any] = {
    "hosts": ["compute-1", "compute-2"],
    "state": "MAINTENANCE",
    "maintenance_at": "2018-02-28 06:06:03",
    "metadata": {"openstack_release": "Queens"},
    "workflow": "default",
    "download": [f"https://example.com/plugins1.tar.gz#sha256={'0' * 64}"],
    "actions": [
        {"plugin": "prepare", "type": "pre"},
        {"plugin": "os_upgrade", "type": "host", "metadata": {"upgrade": "SW1"}},
        {"plugin": "finalize", "type": "post"},
    ],
}
"""Fenix's own sample create body, from the wire contract (its download with the SHA-256 that
every plug-in download must now name)."""

ADMIN_TOKEN = "admin-token"
PROJECT_TOKENS = {"project-1": "project-1-token", "project-2": "project-2-token"}
TOKENS: dict[str, dict[str, str]] = {
    ADMIN_TOKEN: {"role": "admin"},
    **{token: {"role": "member", "project": p} for p, token in PROJECT_TOKENS.items()},
}
"""The API tokens the test app accepts: the admin's and one per project."""


def error_message(response: Any) -> str:
    """The message of a contract-shaped JSON error, after checking that shape."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "title", "message"}, body
    assert body["error"]["code"] == response.status_code
    assert body["error"]["title"]
    return body["error"]["message"]
