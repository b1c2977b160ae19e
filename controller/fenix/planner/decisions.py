"""What the planner decides, as values: the executor carries each out and records it.

They come in the order they are to be carried out: hosts to maintain, hosts to start (each
followed by the jobs of its instances), jobs opened ahead of their hosts, notices, actions
chosen, moves; then, if nothing of those was decided, what to wait for (or why nothing can go
on), or that the run is over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fenix.planner.snapshot import Job, ask_key


@dataclass(frozen=True)
class Notice:
    """One instance to tell of a step; `lead` is wall-clock seconds before acting on it."""

    step: str
    host: str
    instance_id: str
    project_id: str
    lead: float
    allowed_actions: list[str]

    @property
    def key(self) -> str:
        return ask_key(self.step, self.host, self.instance_id)


@dataclass(frozen=True)
class MaintainHost:
    """The host has nothing left to move off it: maintain it (once the cloud agrees)."""

    host: str


@dataclass(frozen=True)
class StartHost:
    """Take the host out of service; its instances go to `targets` (room reserved there)."""

    host: str
    targets: Mapping[str, str]
    delay: float
    """Seconds until every instance on it could be moved, as ranked (for the log)."""
    chain: float
    """Seconds of moves still ahead of its slowest group, as ranked (for the log)."""


@dataclass(frozen=True)
class OpenJob:
    """Keep track of one instance to take off its host (its host started, or it is to be
    told ahead of it)."""

    job: Job


@dataclass(frozen=True)
class Tell:
    """Tell the instance's project (a notice, or only a record when it has no manager)."""

    notice: Notice
    admit_at: float | None
    """The notice starts the instance's impact (its manager may act on it at once)."""


@dataclass(frozen=True)
class ChooseAction:
    """How the instance will be moved: the manager's answer, or the default."""

    instance_id: str
    action: str
    refused: str | None = None
    """The manager's answer, when it named an action it was not offered (recorded)."""


@dataclass(frozen=True)
class MoveInstance:
    instance_id: str
    action: str
    target: str | None
    """Where it goes (MIGRATE, LIVE_MIGRATE); None when the cloud or its manager decides."""
    ahead: bool
    """Ahead of its host, to a maintained host, while its group is idle."""
    admit_at: float | None
    """Its impact starts with the move (it was not admitted when told)."""


@dataclass(frozen=True)
class NoHostFits:
    """No host could start on this version of the cloud: the snapshot says so next time."""

    version: int
    allow_due: bool


@dataclass(frozen=True)
class ToldAhead:
    """Instances were told ahead of their hosts at this (starts, hosts in maintenance)."""

    mark: tuple[int, int]


@dataclass(frozen=True)
class Fail:
    """The session's settings say a manager's answer (or silence) ends it."""

    reason: str


@dataclass(frozen=True)
class Finished:
    """Every host of the run is done (maintained, or emptied for PREPARE_MAINTENANCE)."""


@dataclass(frozen=True)
class WaitUntil:
    """Nothing to do now. Something planned becomes possible at `at` (a lead time or a reply
    window runs out, a member has recovered); None: no such moment."""

    at: float | None
    busy: bool
    """Moves or maintenance are running: their ends may come sooner."""
    asking: bool
    """Managers have questions open: their answers may come sooner."""


@dataclass(frozen=True)
class Blocked:
    """Nothing runs, nothing is waited for, and work is left: why."""

    reason: str


Decision = (
    MaintainHost
    | StartHost
    | OpenJob
    | Tell
    | ChooseAction
    | MoveInstance
    | NoHostFits
    | ToldAhead
    | Fail
    | Finished
    | WaitUntil
    | Blocked
)
