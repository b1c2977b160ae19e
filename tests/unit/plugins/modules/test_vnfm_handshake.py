"""vnfm_handshake's wait for a reply: a reply logged between its read of the event log and its
read of the detail is found, not taken for a step that ended unanswered."""

from __future__ import annotations

import pytest
from ansible_collections.fenix.maintenance.plugins.modules import vnfm_handshake

SESSION, PROJECT, STEP = "s-1", "project-1", "MAINTENANCE"
REPLY = {
    "id": 7,
    "kind": "project.reply",
    "subject": PROJECT,
    "new": "ACK_MAINTENANCE",
    "at": "2026-12-04T19:00:00Z",
    "data": {"instance_actions": {"vm-1": "MIGRATE"}},
}


class _Failed(Exception):
    pass


class _Module:
    params = {
        "session_id": SESSION,
        "project_id": PROJECT,
        "wait_timeout": 30,
        "poll_interval": 0.01,
        "vnfm_url": "http://vnfm.example",
    }

    def fail_json(self, **result):
        raise _Failed(result["msg"])


class _Client:
    """Its event log gains the reply at the `logged_at`-th read (never when None); the
    detail shows the project moved on to the next step from the first read."""

    def __init__(self, logged_at: int | None) -> None:
        self.logged_at = logged_at
        self.event_reads = 0

    def session_events(self, session_id, after=0):
        self.event_reads += 1
        if self.logged_at is not None and self.event_reads >= self.logged_at > after:
            return [REPLY]
        return []

    def get_session_detail(self, session_id):
        moved_on = {"project_id": PROJECT, "step": "PREPARE_MAINTENANCE", "reply": None}
        return {"state": "PREPARE_MAINTENANCE", "projects": [moved_on]}


def _wait(client):
    watch = vnfm_handshake.ReplyWatch(client, SESSION, PROJECT, STEP)
    return vnfm_handshake.wait_for_reply(_Module(), client, watch, STEP)


def test_a_reply_logged_after_the_log_was_read_is_found_when_the_step_is_over():
    client = _Client(logged_at=2)

    result = _wait(client)

    assert result["reply"] == "ACK_MAINTENANCE"
    assert result["instance_actions"] == {"vm-1": "MIGRATE"}


def test_a_reply_a_busy_controller_logs_late_is_still_found(monkeypatch):
    monkeypatch.setattr(vnfm_handshake, "LATE_POLL_SECONDS", 0.01)
    client = _Client(logged_at=5)

    assert _wait(client)["reply"] == "ACK_MAINTENANCE"


def test_a_step_over_with_no_reply_logged_fails(monkeypatch):
    monkeypatch.setattr(vnfm_handshake, "LATE_SECONDS", 0.1)
    monkeypatch.setattr(vnfm_handshake, "LATE_POLL_SECONDS", 0.01)

    with pytest.raises(_Failed, match="without an answer to MAINTENANCE"):
        _wait(_Client(logged_at=None))
