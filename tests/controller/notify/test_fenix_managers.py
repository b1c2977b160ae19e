"""Managers written for OpenStack Fenix work against us unchanged (issue: slow handlers, no
dedup, 500 to unknown states): each question is seen once, each reply accepted, each scale-in
and scale-out done once, in both workflows and both delivery formats."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fenix.db.models import OutboxMessage
from fenix.drivers.simulated import SimulatedDriver
from tests.controller.fenix_style_manager import FenixStyleManager
from tests.controller.live import wait_until

pytestmark = pytest.mark.slow  # whole sessions through live controllers

WORK_SECONDS = 3.0
"""A question's handler works this long before answering: past the 5 s that a delivery was
once allowed (the long steps below work twice as long)."""


def _fill_to_the_brim(driver: SimulatedDriver) -> int:
    """No host can be emptied without a scale-in: the session must ask for one."""
    capacity = driver.list_hosts()[0].capacity
    hosts = len(driver.list_hosts())
    while len(driver.list_instances()) < hosts * capacity:
        driver.create_instance("project-1")
    return capacity


def _outbox(live, subscription_url: str) -> list[OutboxMessage]:
    with live.runtime.db.transaction() as repo:
        subscription = next(
            s for s in repo.list_subscriptions() if s.callback_url == subscription_url
        )
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.subscription_id == subscription.id)
            .order_by(OutboxMessage.id)
        )
        return list(repo.orm.scalars(query))


@pytest.mark.parametrize("workflow", ["default", "vnf"])
@pytest.mark.parametrize("fmt", ["aodh", "fenix"])
def test_a_fenix_style_manager_sees_each_question_once_and_every_reply_is_taken(
    live_stack, fmt, workflow
):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 2, "instances": 2},
        reply_window=3 * WORK_SECONDS,
        long_reply_window=6 * WORK_SECONDS,
    )
    driver = SimulatedDriver(live.sim_url)
    capacity = _fill_to_the_brim(driver)
    instances_before = len(driver.list_instances())
    managers = []
    for project, scale_in in (("project-1", capacity), ("project-2", 0)):
        manager = FenixStyleManager(
            project, live.token_for(project), driver, WORK_SECONDS, scale_in=scale_in
        ).start()
        live_stack._stops.append(manager.stop)
        manager.subscribe(live.url, fmt)
        managers.append(manager)

    session_id = live.create_session(workflow=workflow)
    detail = live.wait_for(session_id, timeout=240)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    scaler = managers[0]
    assert (scaler.did["scale_in"], scaler.did["scale_out"]) == (1, 1)
    assert scaler.did["deleted"] == scaler.did["created"] == capacity
    assert len(driver.list_instances()) == instances_before
    for manager in managers:
        seen = manager.questions_seen()
        assert seen and set(seen.values()) == {1}, f"{manager.project_id} saw copies: {seen}"
        assert {state for state, *_ in manager.replies} >= {
            "ACK_MAINTENANCE",
            "ACK_MAINTENANCE_COMPLETE",
        }
        refused = [
            (state, status, text) for state, status, text in manager.replies if status != 200
        ]
        assert not refused, refused
        states = {r["state"] for r in manager.received}
        assert {"MAINTENANCE", "MAINTENANCE_COMPLETE"} <= states
        assert "INSTANCE_ACTION_DONE" in states  # answered 500 by such a manager
        rows = wait_until(
            lambda m=manager: (
                rows
                if (rows := _outbox(live, m.url)) and all(r.state != "PENDING" for r in rows)
                else None
            ),
            timeout=60,  # in `fenix` format the notices it answers 500 are retried, then dead
            what="every message to the manager settled",
        )
        asked = [r for r in rows if r.question is not None]
        # Every question was delivered, once: none dropped before it was sent, none dead.
        assert {r.state for r in asked} == {"DELIVERED"}
        assert sorted(r.message_id for r in asked) == sorted(seen)
        if fmt == "aodh":
            # AODH posts once: a 500 to a notice it does not know is an answer, not a failure.
            assert all(r.attempts == 1 for r in rows)
            refused_notices = [r for r in rows if r.http_status == 500]
            assert refused_notices and {r.state for r in refused_notices} == {"DELIVERED"}
            assert {r["event_type"] for r in manager.received} == {"maintenance.scheduled"}
    if fmt == "aodh":  # the session's detail shows what the managers answered
        assert live.detail(session_id)["deliveries"]["http_statuses"]["500"] > 0
