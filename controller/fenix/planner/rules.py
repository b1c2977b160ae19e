"""The ETSI constraints as the planner reads them: one rule per instance, one per group.

Managers set them through /v1/instance and /v1/instance_group at any time; the vnf workflow
reads them (fenix.workflows.constraints) and hands them to the planner as these values.

An instance without constraints is a group of one with no limits: it may be moved whenever its
host is maintained, by the workflow's default action.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from fenix.states import InstanceAction

ALL_ACTIONS = (
    InstanceAction.MIGRATE,
    InstanceAction.LIVE_MIGRATE,
    InstanceAction.OWN_ACTION,
    InstanceAction.EVICTION,
)


@dataclass(frozen=True)
class GroupRule:
    group_id: str
    anti_affinity: bool = False
    max_per_host: int | None = None
    """None: no limit (the API's 0, as OPNFV Doctor and Tacker send it)."""
    max_impacted: int | None = None
    """How many members may be impacted at once; None: no limit."""
    recovery_time: float = 0.0
    """Seconds a member needs after it is back before another member may be impacted."""

    @property
    def per_host_limit(self) -> int | None:
        return 1 if self.anti_affinity else self.max_per_host


@dataclass(frozen=True)
class InstanceRule:
    instance_id: str
    group_id: str
    migration_type: str | None = None
    max_interruption: float | None = None
    """Seconds of downtime a move may cause; None: no limit."""
    lead_time: float = 0.0
    """Seconds between telling the manager and acting on the instance."""

    @property
    def own_action(self) -> bool:
        return self.migration_type == InstanceAction.OWN_ACTION


def solo_group(instance_id: str) -> str:
    """The group of one of an instance that names no group."""
    return f"instance:{instance_id}"


class Rules:
    """Every instance's rule and every group's, as read at one moment, and the session's
    limit of hosts out of service per zone."""

    def __init__(
        self,
        instances: dict[str, InstanceRule],
        groups: dict[str, GroupRule],
        max_hosts_per_zone: int | None = None,
    ) -> None:
        self._instances = instances
        self._groups = groups
        self._solo: dict[str, InstanceRule] = {}
        self.max_hosts_per_zone = max_hosts_per_zone
        """At most this many of the session's hosts of one zone in progress (being emptied
        or maintained) at once; None: no limit. The session's, not a manager's."""

    def with_zone_limit(self, max_hosts_per_zone: int | None) -> Rules:
        """The same constraints under the session's limit per zone."""
        return Rules(self._instances, self._groups, max_hosts_per_zone)

    def of(self, instance_id: str) -> InstanceRule:
        rule = self._instances.get(instance_id) or self._solo.get(instance_id)
        if rule is None:
            rule = self._solo[instance_id] = InstanceRule(instance_id, solo_group(instance_id))
        return rule

    def group(self, group_id: str) -> GroupRule:
        return self._groups.get(group_id) or GroupRule(group_id)

    def group_of(self, instance_id: str) -> GroupRule:
        return self.group(self.of(instance_id).group_id)

    def scaled(self, factor: float) -> Rules:
        """The same rules with every duration multiplied by `factor`.

        The workflow plans in wall-clock seconds; a benchmark that runs the cloud N times faster
        than real time scales the constraints' seconds by 1/N the same way.
        """
        if factor == 1.0:
            return self
        instances = {
            k: replace(
                v,
                lead_time=v.lead_time * factor,
                max_interruption=None
                if v.max_interruption is None
                else v.max_interruption * factor,
            )
            for k, v in self._instances.items()
        }
        groups = {
            k: replace(v, recovery_time=v.recovery_time * factor) for k, v in self._groups.items()
        }
        return Rules(instances, groups, self.max_hosts_per_zone)

    def snapshot(self) -> dict[str, dict]:
        """The values in force, for the event log: constrained instances and groups only."""
        values = {
            **{f"instance/{k}": _plain(asdict(v)) for k, v in sorted(self._instances.items())},
            **{f"group/{k}": _plain(asdict(v)) for k, v in sorted(self._groups.items())},
        }
        if self.max_hosts_per_zone is not None:
            values["session/max_hosts_per_zone"] = {"limit": self.max_hosts_per_zone}
        return values


def changed(old: Rules, new: Rules) -> dict[str, dict | None]:
    """What differs between two readings: key -> new values (None where one was removed)."""
    diff: dict[str, dict | None] = {}
    for kind, before, after in (
        ("instance", old._instances, new._instances),
        ("group", old._groups, new._groups),
    ):
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                value = after.get(key)
                diff[f"{kind}/{key}"] = None if value is None else _plain(asdict(value))
    return diff


def allowed_actions(rule: InstanceRule, *, own_action: bool) -> list[str]:
    """What a manager may answer for the instance: its migration_type first.

    OWN_ACTION is offered only when the notice itself may start the instance's impact (the
    manager moves the instance as soon as it is told), that is when the workflow has admitted
    the instance against its group's limits before telling.
    """
    actions = [str(a) for a in ALL_ACTIONS if own_action or a != InstanceAction.OWN_ACTION]
    if rule.migration_type in actions:
        actions.remove(rule.migration_type)
        actions.insert(0, rule.migration_type)
    return actions


def _plain(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}
