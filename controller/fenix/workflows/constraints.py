"""Reading the ETSI constraints from the database, as the planner's rules.

Managers set them through /v1/instance and /v1/instance_group at any time; the vnf workflow
reloads them while it runs and records in the session's event log which values it planned
with, so the history of a session says which version of each constraint applied when. The
rules themselves, and what they mean, are fenix.planner.rules'.
"""

from __future__ import annotations

from collections.abc import Iterable

from fenix.db.repository import Repository
from fenix.planner.rules import GroupRule, InstanceRule, Rules, solo_group


def load_rules(repo: Repository, instance_ids: Iterable[str]) -> Rules:
    """The constraints of these instances and of the groups they name."""
    instances: dict[str, InstanceRule] = {}
    for row in repo.instance_constraints(instance_ids).values():
        instances[row.instance_id] = InstanceRule(
            instance_id=row.instance_id,
            group_id=row.group_id or solo_group(row.instance_id),
            migration_type=row.migration_type,
            max_interruption=_seconds(row.max_interruption_time),
            lead_time=float(row.lead_time or 0),
        )
    named = {rule.group_id for rule in instances.values() if rule.group_id}
    groups: dict[str, GroupRule] = {}
    for group in repo.group_constraints(named).values():
        groups[group.group_id] = GroupRule(
            group_id=group.group_id,
            anti_affinity=bool(group.anti_affinity_group),
            max_per_host=group.max_instances_per_host or None,
            max_impacted=group.max_impacted_members,
            recovery_time=float(group.recovery_time or 0),
        )
    return Rules(instances, groups)


def _seconds(value: int | None) -> float | None:
    return None if value is None else float(value)
