"""How short any maintenance of these hosts can be: a lower bound on the makespan.

It holds for any workflow that keeps what it is given (capacity always; the constraints when
`constraints`), with the given durations, so a plan's estimate can be judged against it
(bench/vnf_makespan.py reads the same bound for its case):

- capacity: the instances that stay in the cloud need room, so hosts whose capacities add up to
  more than the spare room (total capacity less what stays) cannot all be empty at once; at
  most k session hosts can (the smallest first). Each needs `maintain` seconds, so the hosts
  take at least ceil(N / k) rounds of maintenance, after the quickest move when no session
  host is empty at the start.
- groups: a group with at most m members impacted at once, whose n members on session hosts
  must each move once, needs ceil(n / m) waves, each a move and the group's recovery time:
  lead_time + (waves - 1) * (move + recovery) + move + maintain.
- instances: an instance on a session host is told, waits its lead time and moves before its
  host can be maintained.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fenix.planner.cloud import Host, Instance
from fenix.planner.rules import Rules
from fenix.states import HostState


@dataclass(frozen=True)
class Bound:
    seconds: float | None
    """The bound; None: no session host can ever be emptied (not enough spare room)."""
    by_capacity: float | None
    hosts_at_once: int
    """The most session hosts that can be empty at once."""
    by_group: float
    tightest_group: str | None
    by_instance: float


def lower_bound(
    hosts: Iterable[Host],
    instances: Iterable[Instance],
    rules: Rules,
    *,
    action_of: Mapping[str, str],
    move_seconds: Mapping[str, float],
    maintain: float,
    leaving: frozenset[str] = frozenset(),
    constraints: bool = True,
) -> Bound:
    """The bound for the session's hosts (state PENDING), each instance moved by
    `action_of[instance_id]`; `leaving`: instances that leave the cloud when moved (evicted,
    or taken by their manager), which need no room."""
    hosts = list(hosts)
    if not any(h.state == HostState.PENDING for h in hosts):
        return Bound(0.0, 0.0, 0, 0.0, None, 0.0)
    hosts = [h for h in hosts if h.compute and (h.enabled or h.state == HostState.PENDING)]
    ours = sorted((h for h in hosts if h.state == HostState.PENDING), key=lambda h: h.capacity)
    if not ours:
        # Only hosts that hold no instances (controllers): each needs its maintenance.
        return Bound(maintain, maintain, 0, 0.0, None, 0.0)
    names = {h.name for h in ours}
    instances = list(instances)
    moving = [i for i in instances if i.host in names]
    staying = sum(i.size for i in instances if i.instance_id not in leaving)
    spare = sum(h.capacity for h in hosts) - staying
    at_once = 0
    for host in ours:
        if host.capacity > spare:
            break
        spare -= host.capacity
        at_once += 1
    occupied = {i.host for i in moving}
    first_move = 0.0
    if names <= occupied:
        first_move = min(move_seconds[action_of[i.instance_id]] for i in moving)
    by_capacity = first_move + math.ceil(len(ours) / at_once) * maintain if at_once else None
    by_instance, by_group, tightest = 0.0, 0.0, None
    if constraints:
        members: dict[str, list[Instance]] = defaultdict(list)
        for instance in moving:
            rule = rules.of(instance.instance_id)
            move = move_seconds[action_of[instance.instance_id]]
            by_instance = max(by_instance, rule.lead_time + move + maintain)
            members[rule.group_id].append(instance)
        for group_id, group_members in sorted(members.items()):
            group = rules.group(group_id)
            if group.max_impacted is None or group.max_impacted < 1:
                continue
            move = min(move_seconds[action_of[i.instance_id]] for i in group_members)
            lead = min(rules.of(i.instance_id).lead_time for i in group_members)
            waves = math.ceil(len(group_members) / group.max_impacted)
            bound = lead + (waves - 1) * (move + group.recovery_time) + move + maintain
            if bound > by_group:
                by_group, tightest = bound, group_id
    seconds = None if by_capacity is None else max(by_capacity, by_group, by_instance)
    return Bound(seconds, by_capacity, at_once, by_group, tightest, by_instance)
