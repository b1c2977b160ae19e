"""The vnf workflow keeps every ETSI constraint, with the simulated cloud's record as the judge.

Each case is a small cloud where breaking the constraint would be easy: hosts free to go in
parallel, a maintained host with room for more members than the group allows, moves long
enough to overlap.
"""

from __future__ import annotations

from datetime import UTC

import pytest

from tests.controller.workflows.vnf_helpers import (
    at,
    group_of,
    host_windows,
    most_at_once,
    most_members_on_a_host,
    moves,
    put_instance,
)

pytestmark = pytest.mark.slow

P1 = "project-1"


def _vm(k: int, project: str = P1) -> str:
    return f"{project}-vm-{k}"


def _done(live, session_id: str) -> dict:
    detail = live.wait_for(session_id, timeout=60)
    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert detail["constraint_breaches"] == []
    return detail


def test_max_impacted_members_keeps_one_member_moving_while_hosts_go_in_parallel(live_stack):
    # 4 hosts, one instance each, room for two hosts at once; a slow cold migration per member.
    live = live_stack.start(
        cloud={"hosts": 4, "projects": 1, "instances": 4, "migrate_seconds": 0.3},
    )
    members = [_vm(k) for k in (1, 2, 3, 4)]
    group_of(live, "g", P1, members, max_impacted_members=1)
    for member in members:
        put_instance(live, member, P1, group_id="g", migration_type="MIGRATE")
    session_id = live.create_session(workflow="vnf")

    _done(live, session_id)

    report = live.cloud_report()
    member_moves = moves(report, members)
    assert len(member_moves) >= 4
    assert most_at_once([(m["start"], m["end"]) for m in member_moves]) == 1
    out_of_service = host_windows(live.events(session_id), start="PREPARING")
    assert most_at_once(out_of_service) >= 2  # the hosts themselves did go together


def test_recovery_time_passes_between_one_member_back_and_the_next_impacted(live_stack):
    live = live_stack.start(cloud={"hosts": 4, "projects": 1, "instances": 4})
    members = [_vm(k) for k in (1, 2, 3)]
    group_of(live, "g", P1, members, max_impacted_members=1, recovery_time=1)
    session_id = live.create_session(workflow="vnf")

    _done(live, session_id)

    member_moves = moves(live.cloud_report(), members)
    assert len(member_moves) >= 3
    for before, after in zip(member_moves, member_moves[1:], strict=False):
        assert after["start"] >= before["end"] + 1.0, (before, after)


def test_anti_affinity_members_never_share_a_host(live_stack):
    # Hosts of capacity 2: a maintained host would take two members if nothing stopped it.
    live = live_stack.start(cloud={"hosts": 4, "projects": 1, "instances": 4})
    members = [_vm(k) for k in (1, 2, 3)]
    group_of(live, "aa", P1, members, anti_affinity_group=True)
    session_id = live.create_session(workflow="vnf")

    _done(live, session_id)

    report = live.cloud_report()
    assert moves(report, members)
    assert most_members_on_a_host(report, members) == 1


def test_max_instances_per_host_is_never_exceeded(live_stack):
    # Hosts of capacity 3, two members on each of the first hosts: best fit would put three
    # members on a maintained host.
    live = live_stack.start(cloud={"hosts": 4, "projects": 1, "instances": 8})
    members = [_vm(k) for k in range(1, 7)]
    group_of(live, "pool", P1, members, max_instances_per_host=2)
    session_id = live.create_session(workflow="vnf")

    _done(live, session_id)

    report = live.cloud_report()
    assert len(moves(report, members)) >= 6
    assert most_members_on_a_host(report, members) == 2


def test_lead_time_is_given_before_the_instance_is_touched(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 2})
    manager = live.add_manager(P1, instance_action="LIVE_MIGRATE")
    put_instance(live, _vm(1), P1, lead_time=1)
    session_id = live.create_session(workflow="vnf")

    _done(live, session_id)

    with live.runtime.db.transaction() as repo:
        asks = [a for a in repo.asks(session_id) if a.instance_id == _vm(1)]
    assert asks
    for ask in asks:
        assert (ask.reply_at - ask.notified_at).total_seconds() >= 1.0
        assert (ask.actions_at - ask.notified_at).total_seconds() >= 1.0
    first_move = moves(live.cloud_report(), [_vm(1)])[0]
    told = asks[0].notified_at.replace(tzinfo=UTC).timestamp()
    assert first_move["start"] >= told + 1.0
    # What the manager was told says the same.
    notices = [
        m["body"]
        for m in manager.messages
        if m["direction"] == "received" and m["body"].get("instance_ids") == [_vm(1)]
    ]
    assert notices and notices[0]["state"] in ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE")
    assert at({"at": notices[0]["actions_at"]}) - told >= 1.0 - 1e-3
    assert at({"at": notices[0]["reply_at"]}) - told >= 1.0 - 1e-3


def test_each_instance_moves_by_its_migration_type(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 3})
    put_instance(live, _vm(1), P1, migration_type="MIGRATE")
    put_instance(live, _vm(2), P1, migration_type="LIVE_MIGRATE")
    session_id = live.create_session(workflow="vnf")

    _done(live, session_id)

    report = live.cloud_report()
    kinds = {i: {m["kind"] for m in moves(report, [i])} for i in (_vm(1), _vm(2), _vm(3))}
    assert kinds[_vm(1)] == {"migrate"}
    assert kinds[_vm(2)] == {"live_migrate"}
    assert kinds[_vm(3)] == {"live_migrate"}  # no constraints: the default action


def test_interruption_longer_than_allowed_is_recorded_as_a_breach(live_stack):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 2, "migrate_seconds": 1.3}
    )
    put_instance(live, _vm(1), P1, migration_type="MIGRATE", max_interruption_time=1)
    session_id = live.create_session(workflow="vnf")

    detail = live.wait_for(session_id, timeout=60)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    breaches = detail["constraint_breaches"]
    assert breaches and {b["instance_id"] for b in breaches} == {_vm(1)}
    assert all(b["constraint"] == "max_interruption_time" for b in breaches)
    assert all(b["limit"] == 1 and b["measured"] > 1.3 - 0.01 for b in breaches)
    logged = [e for e in live.events(session_id) if e["kind"] == "constraint.breach"]
    assert [e["subject"] for e in logged] == [b["instance_id"] for b in breaches]
    downtime = live.cloud_report()["instances"][_vm(1)]["downtime_intervals"]
    assert any(end - start > 1.0 for start, end in downtime)  # the cloud saw it too


def test_every_version_of_a_constraint_is_kept_with_its_values(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    put_instance(live, _vm(1), P1, lead_time=5)
    put_instance(live, _vm(1), P1, lead_time=7, migration_type="MIGRATE")
    assert live.http.delete(f"{live.url}/v1/instance/{_vm(1)}").status_code == 200

    with live.runtime.db.transaction() as repo:
        history = [(e.kind, dict(e.data)) for e in repo.constraint_history(_vm(1))]

    assert [kind for kind, _data in history] == [
        "constraint.instance",
        "constraint.instance",
        "constraint.instance.deleted",
    ]
    assert history[0][1]["lead_time"] == 5 and history[0][1]["migration_type"] is None
    assert history[1][1]["lead_time"] == 7 and history[1][1]["migration_type"] == "MIGRATE"
