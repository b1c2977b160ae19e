"""A manager that behaves as Tacker's Fenix plug-in works against us unchanged: every call it
makes is answered 200, it is told no state it does not know, each of its answers is accepted
once however often it sends it, and moves made without its answer follow its constraints."""

from __future__ import annotations

from collections import Counter

import pytest

from fenix.drivers.simulated import SimulatedDriver
from tests.controller.live import wait_until
from tests.controller.tacker_style_manager import KNOWN_STATES, TackerStyleManager

pytestmark = pytest.mark.slow  # whole sessions through live controllers


@pytest.mark.parametrize("workflow", ["default", "vnf"])
def test_a_tacker_style_manager_gets_200_to_every_call_and_one_acceptance_per_answer(
    live_stack, workflow
):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 2, "instances": 2},
        reply_window=3.0,
        long_reply_window=3.0,
    )
    driver = SimulatedDriver(live.sim_url)
    managers = [
        TackerStyleManager(project, live.token_for(project), driver).start(live.url)
        for project in ("project-1", "project-2")
    ]
    for manager in managers:
        live_stack._stops.append(manager.stop)

    session_id = live.create_session(workflow=workflow)
    detail = live.wait_for(session_id, timeout=240)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    for manager in managers:
        wait_until(manager.idle, timeout=30, what=f"{manager.project_id}'s replies sent")
    events = live.events(session_id)
    moves = live.cloud_report()["instances"]
    for manager in managers:
        project = manager.project_id
        refused = [(state, status) for state, status in manager.calls if status != 200]
        assert not refused, refused
        told = {r["state"] for r in manager.received}
        assert told <= KNOWN_STATES, told - KNOWN_STATES
        assert {"MAINTENANCE", "INSTANCE_ACTION_DONE", "MAINTENANCE_COMPLETE"} <= told
        # Each answer went out twice: the log holds one acceptance of each.
        decisions = [state for state in manager.sent if state != "ACK_INSTANCE_ACTION_DONE"]
        accepted = [e for e in events if e["kind"] == "project.reply" and e["subject"] == project]
        assert len(manager.calls) >= 2 * len(manager.sent)
        assert len(accepted) == len(decisions), (decisions, [e["new"] for e in accepted])
        noted = Counter(
            e["new"]
            for e in events
            if e["kind"] == "project.reply.noted" and e["subject"] == project
        )
        assert noted == {"ACK_INSTANCE_ACTION_DONE": 1}
        rejected = [e for e in events if e["kind"] == "project.reply.rejected"]
        assert rejected == []
        # The manager's constraint says MIGRATE, answered or not (the default workflow's
        # PLANNED_MAINTENANCE names its instances by URL, which Tacker refuses: no answer).
        kinds = {
            move["kind"]
            for instance_id, report in moves.items()
            if instance_id.startswith(f"{project}-")
            for move in report["moves"]
        }
        assert kinds == {"migrate"}, kinds
