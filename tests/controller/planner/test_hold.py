"""The planner under a hold: a pause starts no host, no notice and no move; outside a window
no host starts and nothing goes ahead of its host, but a host in work is emptied. Either way
the plan waits (for the window's opening, when it has one) instead of calling itself blocked."""

from __future__ import annotations

from fenix.planner.cloud import Host
from fenix.planner.decisions import MaintainHost, MoveInstance, StartHost, Tell, WaitUntil
from fenix.planner.planner import plan
from fenix.planner.snapshot import HOLD_PAUSED, HOLD_WINDOW

from .test_planner import NOW, PENDING, PREPARING, _of, _snapshot, _told, _vm


def _two_hosts_one_in_work():
    hosts = [
        Host("compute-1", 2, state=PREPARING, position=0),
        Host("compute-2", 2, state=PENDING, position=1),
        Host("spare", 4),
    ]
    instances = [_vm("vm-1", "compute-1"), _vm("vm-2", "compute-2")]
    return hosts, instances, [_told("vm-1", "compute-1")]


def test_without_a_hold_the_host_in_work_moves_and_the_next_starts():
    hosts, instances, jobs = _two_hosts_one_in_work()

    decisions = plan(_snapshot(hosts, instances, jobs=jobs))

    assert [s.host for s in _of(StartHost, decisions)] == ["compute-2"]
    assert "vm-1" in [m.instance_id for m in _of(MoveInstance, decisions)]


def test_paused_nothing_new_starts_and_the_plan_waits():
    hosts, instances, jobs = _two_hosts_one_in_work()

    decisions = plan(_snapshot(hosts, instances, jobs=jobs, hold=HOLD_PAUSED))

    assert not _of(StartHost, decisions)
    assert not _of(MoveInstance, decisions)
    assert not _of(Tell, decisions)
    assert isinstance(decisions[-1], WaitUntil)  # not Blocked: the pause lifts
    assert decisions[-1].at == NOW + 25  # only the told instance's reply window is timed


def test_paused_an_empty_host_in_work_is_still_maintained():
    hosts = [Host("compute-1", 2, state=PREPARING), Host("compute-2", 2, state=PENDING)]

    decisions = plan(_snapshot(hosts, [_vm("vm-2", "compute-2")], hold=HOLD_PAUSED))

    assert _of(MaintainHost, decisions) == [MaintainHost("compute-1")]
    assert not _of(StartHost, decisions)


def test_outside_a_window_the_host_in_work_is_emptied_but_no_host_starts():
    hosts, instances, jobs = _two_hosts_one_in_work()

    decisions = plan(
        _snapshot(hosts, instances, jobs=jobs, hold=HOLD_WINDOW, hold_until=NOW + 3600)
    )

    assert not _of(StartHost, decisions)
    assert [m.instance_id for m in _of(MoveInstance, decisions)] == ["vm-1"]
    assert not [t for t in _of(Tell, decisions) if t.notice.host != "compute-1"]


def test_outside_a_window_with_nothing_in_work_the_plan_waits_for_the_opening():
    hosts = [Host("compute-1", 2, state=PENDING), Host("spare", 2)]

    decisions = plan(
        _snapshot(hosts, [_vm("vm-1", "compute-1")], hold=HOLD_WINDOW, hold_until=NOW + 60)
    )

    assert not _of(StartHost, decisions) and not _of(Tell, decisions)
    assert decisions[-1] == WaitUntil(NOW + 60, busy=False, asking=False)


def test_in_the_first_step_a_held_plan_is_not_finished_before_any_host_started():
    hosts = [Host("compute-1", 2, state=PENDING), Host("spare", 2)]

    decisions = plan(_snapshot(hosts, [_vm("vm-1", "compute-1")], maintain=False, hold=HOLD_PAUSED))

    assert isinstance(decisions[-1], WaitUntil)
