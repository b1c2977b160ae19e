"""The lines a followed session prints, from the events the controller really writes.

The events below have the shape of the controller's event log (GET /v1/maintenance/{id}/events);
tests/e2e/test_one_click.py checks the same lines against a live session.
"""

from __future__ import annotations

import pytest
from ansible_collections.fenix.maintenance.plugins.module_utils._progress import (
    describe_changes,
    describe_event,
    failed_message,
    progress_entry,
    unfinished_message,
)

AT = "2026-12-02T15:34:11.208000+00:00"


def event(kind, subject=None, old=None, new=None, data=None, at=AT):
    return dict(id=7, at=at, kind=kind, subject=subject, old=old, new=new, data=data or {})


@pytest.mark.parametrize(
    ("given", "line"),
    [
        (event("session.created", "s1", None, "MAINTENANCE"), "session created in MAINTENANCE"),
        (
            event(
                "session.state",
                "s1",
                "PLANNED_MAINTENANCE",
                "MAINTENANCE_FAILED",
                {"reason": "NACK"},
            ),
            "session PLANNED_MAINTENANCE -> MAINTENANCE_FAILED (NACK)",
        ),
        (
            event("host.state", "compute-1", "PENDING", "PREPARING"),
            "host compute-1: PENDING -> PREPARING",
        ),
        (
            event(
                "notification",
                "project-1",
                None,
                "PLANNED_MAINTENANCE",
                {"event_type": "maintenance.planned"},
            ),
            "project-1 asked: PLANNED_MAINTENANCE",
        ),
        (
            event(
                "notification",
                "project-1",
                None,
                "ADMIN_ACTION_DONE",
                {"event_type": "maintenance.planned"},
            ),
            "project-1 told: ADMIN_ACTION_DONE",
        ),
        (
            event(
                "project.reply",
                "project-2",
                None,
                "ACK_PLANNED_MAINTENANCE",
                {"instance_actions": {"vm-2": "MIGRATE", "vm-1": "LIVE_MIGRATE"}},
            ),
            "project-2 answered ACK_PLANNED_MAINTENANCE (vm-1 LIVE_MIGRATE, vm-2 MIGRATE)",
        ),
        (
            event("project.reply.timeout", "project-1", None, "MAINTENANCE"),
            "project-1 did not answer MAINTENANCE in time",
        ),
        (
            event("project.no_manager", "project-3", None, "PLANNED_MAINTENANCE"),
            "project-3 has no manager: default behaviour for PLANNED_MAINTENANCE",
        ),
        (
            event(
                "instance.action",
                "vm-1",
                None,
                "STARTING",
                {
                    "action": "MIGRATE",
                    "action_from": "compute-1",
                    "details": {"target": "compute-3"},
                },
            ),
            "instance vm-1: MIGRATE compute-1 -> compute-3",
        ),
        (event("instance.action", "vm-1", "RUNNING", "FAILED"), "instance vm-1: move failed"),
        (event("action.start", "os_upgrade", None, "RUNNING"), "playbook os_upgrade started"),
        (
            event("action.end", "os_upgrade", "RUNNING", "FAILED", {"message": "apt failed"}),
            "playbook os_upgrade FAILED: apt failed",
        ),
        (event("action.end", "dummy", "RUNNING", "DONE"), "playbook dummy DONE"),
    ],
)
def test_each_step_worth_reading_gets_a_line_with_its_time(given, line):
    assert describe_event(given) == f"15:34:11 {line}"


@pytest.mark.parametrize(
    "routine",
    [
        event("engine.run", "vm:1", None, "MAINTENANCE"),
        event("instance.added", "vm-1", None, "compute-1"),
        event("instance.action", "vm-1", "STARTING", "RUNNING"),
        event("notification", None, None, "MAINTENANCE", {"event_type": "maintenance.session"}),
        event("notification", None, None, "IN_MAINTENANCE", {"event_type": "maintenance.host"}),
    ],
)
def test_routine_events_print_nothing(routine):
    assert describe_event(routine) is None


def test_an_event_without_a_time_still_gets_its_line():
    assert describe_event(event("host.state", "c-1", "A", "B", at=None)) == "host c-1: A -> B"


def test_only_state_changes_are_progress_entries():
    assert progress_entry(event("session.state", "s1", "MAINTENANCE", "START_MAINTENANCE")) == {
        "state": "START_MAINTENANCE",
        "previous": "MAINTENANCE",
        "at": AT,
    }
    assert progress_entry(event("host.state", "c-1", "PENDING", "PREPARING")) is None


def test_changes_between_two_reads_tell_the_same_story_without_an_event_log():
    before = {
        "state": "PLANNED_MAINTENANCE",
        "hosts": [
            {"name": "c-1", "state": "MAINTENANCE_COMPLETE"},
            {"name": "c-2", "state": "PENDING"},
        ],
        "projects": [{"project_id": "p-1", "step": "MAINTENANCE", "reply": "ACK_MAINTENANCE"}],
    }
    after = {
        "state": "PLANNED_MAINTENANCE",
        "hosts": [
            {"name": "c-1", "state": "MAINTENANCE_COMPLETE"},
            {"name": "c-2", "state": "PREPARING"},
        ],
        "projects": [{"project_id": "p-1", "step": "PLANNED_MAINTENANCE", "reply": None}],
    }
    assert describe_changes(before, after) == [
        "host c-2: PENDING -> PREPARING",
        "p-1 asked: PLANNED_MAINTENANCE",
    ]
    assert describe_changes(None, before) == [
        "session - -> PLANNED_MAINTENANCE",
        "host c-1: - -> MAINTENANCE_COMPLETE",
        "host c-2: - -> PENDING",
        "p-1 asked: MAINTENANCE",
        "p-1 answered ACK_MAINTENANCE",
    ]
    assert describe_changes(after, after) == []


def test_the_messages_say_what_happened_and_what_to_do():
    failed = failed_message("s1", {"state": "MAINTENANCE_FAILED", "error": "project-1 NACKed"})
    assert failed.startswith("maintenance session s1 ended MAINTENANCE_FAILED: project-1 NACKed.")
    assert "PUT /v1/maintenance/s1" in failed
    assert "no error recorded" in failed_message("s1", {"state": "MAINTENANCE_FAILED"})
    late = unfinished_message("s1", {"state": "PLANNED_MAINTENANCE", "percent_done": 50}, 60)
    assert "still in PLANNED_MAINTENANCE (50% done) after 60 s" in late
    assert "session_id=s1" in late
