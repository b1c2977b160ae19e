"""The default workflow's choices, made by the planner one host at a time: which host to empty
first, in which order the others go, where each instance goes.

The default workflow knows no constraints, as OpenStack Fenix's default workflow does not: an
instance goes to the first host with room for it, maintained hosts first, then hosts outside
the session, then hosts still due for maintenance, the one due last first (an instance put
there will have to move again, and the later the better). The ranks are the vnf plan's
(fenix.planner.cloud.target_rank); the vnf plan then picks the best fit, for its parallel hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fenix.planner.cloud import IN_PROGRESS, RANK_DUE, Host, target_rank
from fenix.states import HostState


def first_host(candidates: Sequence[str], used: Mapping[str, int]) -> str:
    """The host to empty first: the one with the least in use; the first in session order on
    a tie (an empty one wins)."""
    return min(candidates, key=lambda host: used.get(host, 0))


def order_of_work(states: Mapping[str, str]) -> list[str]:
    """The session's hosts (name -> state, in session order) still to maintain: a host
    interrupted half-way first, then the rest in the session's order."""
    started = [host for host, state in states.items() if state in IN_PROGRESS]
    rest = [
        h for h, s in states.items() if s != HostState.MAINTENANCE_COMPLETE and h not in started
    ]
    return started + rest


def room_by_preference(
    hosts: Iterable[Host], used: Mapping[str, int], reserved: Mapping[str, int], *, exclude: str
) -> dict[str, int]:
    """Room on each host an instance from `exclude` may go to, best places first. Room that
    moves in flight will take (`reserved`) is not free."""
    ranked: list[tuple[int, int, str, int]] = []
    for host in hosts:
        if host.name == exclude or not host.enabled or not host.compute:
            continue
        rank = target_rank(host.state, allow_due=True)
        if rank is None:
            continue
        room = host.capacity - used.get(host.name, 0) - reserved.get(host.name, 0)
        ranked.append((rank, -host.position if rank == RANK_DUE else 0, host.name, room))
    ranked.sort()
    return {name: room for _rank, _order, name, room in ranked}


def first_fit(room: Mapping[str, int], size: int, refused: Iterable[str] = ()) -> str | None:
    """The first host in `room`'s order with room for `size`, but those that refused it."""
    refused = set(refused)
    for name, free in room.items():
        if free >= size and name not in refused:
            return name
    return None
