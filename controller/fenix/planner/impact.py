"""Which members of each group are impacted now, and until when.

A member is impacted from the start of its move (or from its notice, when its manager may act
on the notice itself) until recovery_time after it is back; a group never has more than
max_impacted_members members impacted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from fenix.planner.rules import GroupRule


@dataclass(frozen=True)
class Impact:
    group_id: str
    instance_id: str
    start: float
    recovery: float
    end: float | None = None
    """When the instance was back; it stays impacted for `recovery` seconds more."""

    def active(self, now: float) -> bool:
        return self.end is None or now < self.end + self.recovery


class ImpactLedger:
    def __init__(self, impacts: Iterable[Impact] = ()) -> None:
        self._groups: dict[str, dict[str, Impact]] = {}
        for impact in impacts:
            self._groups.setdefault(impact.group_id, {})[impact.instance_id] = impact

    def freeze(self, now: float) -> tuple[Impact, ...]:
        """The impacts still active at `now`, for a snapshot (the others are forgotten)."""
        for group_id in list(self._groups):
            self.impacted(group_id, now)
        return tuple(imp for impacts in self._groups.values() for imp in impacts.values())

    def begin(self, group_id: str, instance_id: str, start: float, recovery: float) -> None:
        self._groups.setdefault(group_id, {})[instance_id] = Impact(
            group_id, instance_id, start, recovery
        )

    def end(self, group_id: str, instance_id: str, at: float) -> None:
        impacts = self._groups.get(group_id, {})
        impact = impacts.get(instance_id)
        if impact is not None and impact.end is None:
            impacts[instance_id] = replace(impact, end=at)

    def impacted(self, group_id: str, now: float) -> int:
        impacts = self._groups.get(group_id, {})
        for instance_id in [i for i, imp in impacts.items() if not imp.active(now)]:
            del impacts[instance_id]
        return len(impacts)

    def admits(self, group: GroupRule, now: float) -> bool:
        if group.max_impacted is None:
            return True
        return self.impacted(group.group_id, now) < group.max_impacted

    def next_release(self, now: float) -> float | None:
        """The next moment a recovering member stops counting, for the workflow's timer."""
        ends = [
            imp.end + imp.recovery
            for impacts in self._groups.values()
            for imp in impacts.values()
            if imp.end is not None and imp.end + imp.recovery > now
        ]
        return min(ends, default=None)

    def free_at(self, group: GroupRule, now: float, ahead: int, move_seconds: float) -> float:
        """When one more member could be impacted, with `ahead` members waiting before it."""
        if group.max_impacted is None:
            return now
        limit = group.max_impacted
        busy = group.recovery_time
        ends = sorted(
            (max(now, imp.start + move_seconds) if imp.end is None else imp.end) + imp.recovery
            for imp in self._groups.get(group.group_id, {}).values()
            if imp.active(now)
        )
        at = now
        for _ in range(ahead + 1):
            at = ends[len(ends) - limit] if len(ends) >= limit else at
            ends = sorted([e for e in ends if e > at] + [at + move_seconds + busy])
        return at
