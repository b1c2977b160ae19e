"""Which maintenance.planned states reach a subscriber, by its format."""

from __future__ import annotations

import pytest

from fenix.notify import notifier
from fenix.states import FENIX_ERA_STEPS, EventType, ProjectStep

from .conftest import outbox_rows, subscribe

TOLD = [str(step) for step in ProjectStep]


def tell_every_step(db, session_id: str | None = None) -> None:
    for step in TOLD:
        with db.transaction() as repo:
            notifier.emit(
                repo,
                EventType.PLANNED,
                {"service": "fenix", "project_id": "project-1", "state": step},
                session_id=session_id,
                project_id="project-1",
            )


def states_queued(db, subscription_id: str) -> list[str]:
    return [row.body["payload"]["state"] for row in outbox_rows(db, subscription_id)]


@pytest.mark.parametrize("event_type", ["maintenance.planned", "maintenance.scheduled"])
def test_an_aodh_subscriber_gets_exactly_the_six_steps_fenix_sent_to_managers(
    outbox_db, event_type
):
    aodh = subscribe(
        outbox_db,
        "http://vnfm.example/alarm",
        project_id="project-1",
        event_types=[event_type],
        format="aodh",
    )

    tell_every_step(outbox_db)

    assert states_queued(outbox_db, aodh) == [
        "MAINTENANCE",
        "SCALE_IN",
        "PREPARE_MAINTENANCE",
        "PLANNED_MAINTENANCE",
        "MAINTENANCE_COMPLETE",
        "INSTANCE_ACTION_DONE",
    ]
    assert set(states_queued(outbox_db, aodh)) == {str(step) for step in FENIX_ERA_STEPS}


def test_a_fenix_subscriber_also_gets_the_informational_steps(outbox_db):
    fenix = subscribe(
        outbox_db,
        "http://vnfm.example/events",
        project_id="project-1",
        event_types=["maintenance.planned"],
        format="fenix",
    )

    tell_every_step(outbox_db)

    assert states_queued(outbox_db, fenix) == TOLD
    assert {"ADMIN_ACTION_DONE", "MAINTENANCE_DONE", "MAINTENANCE_FAILED"} <= set(TOLD)


def test_the_admins_session_events_reach_an_aodh_subscriber_whatever_the_state(outbox_db):
    aodh = subscribe(
        outbox_db, "http://admin.example/alarm", event_types=["maintenance.session"], format="aodh"
    )

    with outbox_db.transaction() as repo:
        for state in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED"):
            notifier.emit(
                repo,
                EventType.SESSION,
                {"service": "fenix", "state": state},
                session_id=None,
                project_id=None,
            )

    assert states_queued(outbox_db, aodh) == ["MAINTENANCE_DONE", "MAINTENANCE_FAILED"]
