"""The default workflow's choices: the first host to empty, the order of the rest, targets."""

from __future__ import annotations

from fenix.planner.cloud import Host
from fenix.planner.one_at_a_time import first_fit, first_host, order_of_work, room_by_preference
from fenix.states import HostState

DONE, PENDING = HostState.MAINTENANCE_COMPLETE, HostState.PENDING


def test_targets_are_maintained_hosts_then_hosts_outside_then_those_due_last_first():
    hosts = [
        Host("due-early", 4, state=PENDING, position=1),
        Host("due-late", 4, state=PENDING, position=5),
        Host("being-emptied", 4, state=HostState.PREPARING, position=2),
        Host("outside", 4),
        Host("maintained", 4, state=DONE, position=0),
        Host("disabled", 4, enabled=False),
        Host("controller", 4, compute=False),
        Host("the-source", 4, state=PENDING, position=3),
    ]
    used = {"maintained": 3, "outside": 1, "due-late": 4}

    room = room_by_preference(hosts, used, {"outside": 2}, exclude="the-source")

    assert room == {"maintained": 1, "outside": 1, "due-late": 0, "due-early": 4}
    assert first_fit(room, 1) == "maintained"
    assert first_fit(room, 2) == "due-early"  # the first with room, not the best fit
    assert first_fit(room, 1, refused=["maintained"]) == "outside"
    assert first_fit(room, 5) is None


def test_hosts_interrupted_half_way_go_first_then_the_session_order():
    states = {"a": DONE, "b": PENDING, "c": HostState.IN_MAINTENANCE, "d": PENDING}
    assert order_of_work(states) == ["c", "b", "d"]


def test_the_first_host_to_empty_holds_the_least_the_first_in_order_on_a_tie():
    assert first_host(["c", "a", "b"], {"a": 2, "b": 3, "c": 2}) == "c"
    assert first_host(["a", "b"], {"a": 1}) == "b"  # an empty one wins
