"""Which host goes next: of the hosts that could, the one whose instances can all be moved
soonest; among those, the one with members of the groups that have the longest chain of moves
still ahead, so that slow groups are never left for the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fenix.planner.cloud import Cluster
from fenix.planner.impact import ImpactLedger


@dataclass(frozen=True)
class HostOutlook:
    host: str
    delay: float
    """Seconds until every instance on it could be moved (notices, group limits)."""
    chain: float
    """Seconds of moves still ahead of its slowest group."""
    position: int


def rank_hosts(
    cluster: Cluster,
    ledger: ImpactLedger,
    candidates: Iterable[str],
    *,
    now: float,
    pending: set[str],
    waiting: Counter[str],
    notice_ready: Callable[[str], float],
    move_seconds: float,
    quantum: float = 1.0,
) -> list[HostOutlook]:
    """The candidates, best first (see the module's docstring).

    `pending` are the hosts not yet started (whose members count in a group's chain),
    `waiting` the members per group already on started hosts and not yet admitted,
    `notice_ready(instance_id)` the earliest moment the instance's notice allows acting on it.
    Delays closer than `quantum` seconds count as equal.
    """
    remaining: Counter[str] = Counter()
    for host in pending:
        remaining.update(constrained_groups(cluster, host))
    return best_first(
        host_outlook(
            cluster,
            ledger,
            name,
            now=now,
            remaining=remaining,
            waiting=waiting,
            notice_ready=notice_ready,
            move_seconds=move_seconds,
            quantum=quantum,
        )
        for name in candidates
    )


def best_first(outlooks: Iterable[HostOutlook]) -> list[HostOutlook]:
    return sorted(outlooks, key=lambda o: (o.delay, -o.chain, o.position))


def constrained_groups(cluster: Cluster, host: str) -> Counter[str]:
    """Members on the host of each group with a limit on its members impacted at once: the
    only groups whose chain and turn a host's rank depends on."""
    rules = cluster.rules
    groups: Counter[str] = Counter()
    for instance in cluster.on(host):
        group_id = rules.of(instance.instance_id).group_id
        if rules.group(group_id).max_impacted is not None:
            groups[group_id] += 1
    return groups


def host_outlook(
    cluster: Cluster,
    ledger: ImpactLedger,
    name: str,
    *,
    now: float,
    remaining: Counter[str],
    waiting: Counter[str],
    notice_ready: Callable[[str], float],
    move_seconds: float,
    quantum: float,
) -> HostOutlook:
    """One candidate's outlook; `remaining`: members per group on the hosts not yet started."""
    rules = cluster.rules
    delay = 0.0
    chain = 0.0
    ahead: Counter[str] = Counter()
    for instance in cluster.on(name):
        group = rules.group(rules.of(instance.instance_id).group_id)
        delay = max(delay, notice_ready(instance.instance_id) - now)
        if group.max_impacted is None:
            continue
        turn = waiting[group.group_id] + ahead[group.group_id]
        at = ledger.free_at(group, now, turn, move_seconds)
        ahead[group.group_id] += 1
        delay = max(delay, at - now)
        per_member = move_seconds + group.recovery_time
        chain = max(chain, remaining[group.group_id] * per_member / group.max_impacted)
    return HostOutlook(name, round(delay / quantum) * quantum, chain, cluster.hosts[name].position)
