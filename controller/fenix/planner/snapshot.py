"""Everything the planner knows at one moment, as values nobody changes.

The executor (fenix.workflows.parallel) builds one from what the cloud, the database and its
own threads have told it, and asks the planner what to do next. The clock is in it: the planner
reads no other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from fenix.planner.cloud import Cloud, Instance
from fenix.planner.impact import Impact
from fenix.planner.rules import InstanceRule, Rules
from fenix.states import InstanceAction

WAITING, TOLD, MOVING, DONE = "WAITING", "TOLD", "MOVING", "DONE"
HOLD_PAUSED, HOLD_WINDOW, HOLD_GATE = "paused", "window", "gate"
TARGETED = (InstanceAction.MIGRATE, InstanceAction.LIVE_MIGRATE)
"""Actions that take an instance to a host the planner chooses."""


def ask_key(step: str, host: str, instance_id: str) -> str:
    return f"{step}:{host}:{instance_id}"


@dataclass(frozen=True)
class Ask:
    """What a manager was told of one instance and what it answered; times are epoch seconds."""

    key: str
    instance_id: str
    project_id: str
    notified_at: float
    actions_at: float
    reply_at: float
    has_manager: bool
    reply: str | None
    action: str | None
    allowed_actions: tuple[str, ...]

    @property
    def settled(self) -> bool:
        """Answered, timed out, or nobody to ask."""
        return self.reply is not None

    @property
    def nacked(self) -> bool:
        return bool(self.reply and self.reply.startswith("NACK_"))

    @property
    def answered(self) -> bool:
        return bool(self.reply and self.reply.startswith(("ACK_", "NACK_")))


@dataclass(frozen=True)
class Job:
    """One instance to take off one host, and how far that has gone."""

    instance_id: str
    project_id: str
    host: str
    group_id: str
    early: bool
    """Told before its host starts (a lead time, or no manager; never OWN_ACTION): admitted
    against its group's limits only when it moves."""
    seq: float
    """Order of its host's start (inf while the host has not started): first come, first go."""
    state: str = WAITING
    ask: Ask | None = None
    admitted_at: float | None = None
    action: str | None = None
    action_id: str | None = None
    started_at: float | None = None
    ahead: bool = False
    """Moved ahead of its host, to a maintained host, while its group was idle."""
    refused_by: frozenset[str] = frozenset()
    """Targets the cloud refused it (another session took the room): not planned again."""

    def ready(self, now: float) -> bool:
        """Told, answered (or no answer to wait for) and past its lead time."""
        ask = self.ask
        return self.state == TOLD and ask is not None and ask.settled and now >= ask.actions_at


@dataclass(frozen=True)
class Estimates:
    """How long moves take here, learnt from the moves that ended (wall-clock seconds)."""

    move_seconds: float = 0.0
    """Running average over every targeted move, for the plan's estimates."""
    durations: Mapping[str, float] = field(default_factory=dict)
    """Running average per kind of move, for guessing which move ends first."""

    def after(self, action: str, took: float) -> Estimates:
        last = self.move_seconds or took
        kind = str(action)
        return Estimates(
            0.8 * last + 0.2 * took,
            {**self.durations, kind: 0.8 * self.durations.get(kind, took) + 0.2 * took},
        )


@dataclass(frozen=True)
class Policy:
    """The session's settings the plan follows."""

    default_action: str
    """What an instance gets when its manager names no action it may take."""
    on_nack: str
    """"fail": a manager's NACK fails the session (fenix.config.Settings.on_nack)."""
    on_no_manager: str
    """"fail": an instance nobody answered for fails the session (Settings.on_no_manager)."""
    quantum: float = 1.0
    """Delays closer than this many seconds count as equal when hosts are ranked."""


@dataclass(frozen=True)
class Snapshot:
    now: float
    step: str
    """The step managers are told of: PREPARE_MAINTENANCE or PLANNED_MAINTENANCE."""
    maintain: bool
    """Maintain hosts once empty (PLANNED_MAINTENANCE), or only empty them (PREPARE)."""
    new_hosts: bool
    """Hosts not yet started may start."""
    cloud: Cloud
    rules: Rules
    """The constraints in wall-clock seconds."""
    raw_rules: Rules
    """The constraints as the managers set them (what they may answer)."""
    jobs: Mapping[str, Job]
    impacts: tuple[Impact, ...]
    managers: Mapping[str, bool]
    """Whether each project has a manager to tell."""
    maintaining: frozenset[str]
    """Hosts whose maintenance is running."""
    starts: int
    """Hosts started so far by this run: the next one's seq."""
    estimates: Estimates
    policy: Policy
    no_host_fits: tuple[int, bool] | None = None
    """The cloud's version (and whether hosts still due could take instances) when no host
    could start: no need to look again until the cloud changes."""
    told_ahead_at: tuple[int, int] | None = None
    """(starts, hosts in maintenance) when instances were last told ahead of their host."""
    hold: str | None = None
    """What holds the session now: HOLD_PAUSED (no new host, no new notice or move: what is
    in flight finishes), HOLD_WINDOW (outside its maintenance windows: no new host, nothing
    ahead of its host; hosts in work are emptied and maintained), HOLD_GATE (a health gate
    fails: as HOLD_WINDOW), or None."""
    hold_until: float | None = None
    """When the hold lifts by itself (the next window opens), if it does."""


def is_early(rule: InstanceRule, has_manager: bool) -> bool:
    """Told ahead of its host: it has a lead time to serve, or nobody to act on the notice
    (no manager) so telling costs nothing later. Never when its manager is to move it
    (OWN_ACTION): for it the notice is the start of the move."""
    if rule.own_action:
        return False
    return rule.lead_time > 0 or not has_manager


def jobs_for_host(
    instances: Iterable[Instance],
    host: str,
    seq: float,
    jobs: Mapping[str, Job],
    rules: Rules,
    managers: Mapping[str, bool],
) -> list[Job]:
    """A job for every instance on a host that has started: new ones, or those opened ahead of
    the host, now in its turn (`seq`)."""
    opened = []
    for instance in instances:
        job = jobs.get(instance.instance_id)
        if job is not None and job.host == host and job.state != DONE:
            opened.append(replace(job, seq=min(job.seq, seq)))
        else:
            opened.append(new_job(instance, host, seq, rules, managers))
    return opened


def new_job(
    instance: Instance, host: str, seq: float, rules: Rules, managers: Mapping[str, bool]
) -> Job:
    rule = rules.of(instance.instance_id)
    return Job(
        instance_id=instance.instance_id,
        project_id=instance.project_id,
        host=host,
        group_id=rule.group_id,
        early=is_early(rule, managers[instance.project_id]),
        seq=seq,
    )
