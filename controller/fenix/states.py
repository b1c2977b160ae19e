"""The names of every state a session, a host, a project or an instance can be in.

Session states and reply states are the wire contract (../shared/fenix-api.md): VNFMs written
for OpenStack Fenix send and expect these exact strings.
"""

import enum


class SessionState(enum.StrEnum):
    MAINTENANCE = "MAINTENANCE"
    SCALE_IN = "SCALE_IN"
    PREPARE_MAINTENANCE = "PREPARE_MAINTENANCE"
    START_MAINTENANCE = "START_MAINTENANCE"
    PLANNED_MAINTENANCE = "PLANNED_MAINTENANCE"
    MAINTENANCE_COMPLETE = "MAINTENANCE_COMPLETE"
    MAINTENANCE_DONE = "MAINTENANCE_DONE"
    MAINTENANCE_FAILED = "MAINTENANCE_FAILED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_SESSION_STATES


FINAL_SESSION_STATES = frozenset({SessionState.MAINTENANCE_DONE, SessionState.MAINTENANCE_FAILED})


class ProjectStep(enum.StrEnum):
    """The `state` of a maintenance.planned notification: the step a manager is told of."""

    MAINTENANCE = "MAINTENANCE"
    SCALE_IN = "SCALE_IN"
    PREPARE_MAINTENANCE = "PREPARE_MAINTENANCE"
    PLANNED_MAINTENANCE = "PLANNED_MAINTENANCE"
    IN_MAINTENANCE = "IN_MAINTENANCE"
    MAINTENANCE_COMPLETE = "MAINTENANCE_COMPLETE"
    INSTANCE_ACTION_DONE = "INSTANCE_ACTION_DONE"
    ADMIN_ACTION_DONE = "ADMIN_ACTION_DONE"
    MAINTENANCE_DONE = "MAINTENANCE_DONE"
    MAINTENANCE_FAILED = "MAINTENANCE_FAILED"


REPLY_STEPS = frozenset(
    {
        ProjectStep.MAINTENANCE,
        ProjectStep.SCALE_IN,
        ProjectStep.PREPARE_MAINTENANCE,
        ProjectStep.PLANNED_MAINTENANCE,
        ProjectStep.MAINTENANCE_COMPLETE,
    }
)
"""Steps a manager answers with ACK_<step> or NACK_<step>; the others are for information."""

FENIX_ERA_STEPS = frozenset(
    {
        ProjectStep.MAINTENANCE,
        ProjectStep.SCALE_IN,
        ProjectStep.PREPARE_MAINTENANCE,
        ProjectStep.PLANNED_MAINTENANCE,
        ProjectStep.INSTANCE_ACTION_DONE,
        ProjectStep.MAINTENANCE_COMPLETE,
    }
)
"""The steps OpenStack Fenix sent to managers: what an `aodh` subscriber (Tacker's plug-in,
OPNFV Doctor) knows; such managers answer any other state with 400 or 500."""

NO_MANAGER = "NO_MANAGER"
NO_REPLY = "NO_REPLY"
"""What stands for a reply that never came: the project has no manager to ask (settled at
once), or its manager let the reply window close."""


class HostState(enum.StrEnum):
    PENDING = "PENDING"
    PREPARING = "PREPARING"
    """Taken out of service; its instances are being moved away."""
    IN_MAINTENANCE = "IN_MAINTENANCE"
    MAINTENANCE_COMPLETE = "MAINTENANCE_COMPLETE"
    FAILED = "FAILED"


class InstanceAction(enum.StrEnum):
    MIGRATE = "MIGRATE"
    LIVE_MIGRATE = "LIVE_MIGRATE"
    OWN_ACTION = "OWN_ACTION"
    EVICTION = "EVICTION"


class ActionState(enum.StrEnum):
    """Progress of one move of one instance, recorded as intent before it starts."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class EventType(enum.StrEnum):
    """The kinds of maintenance notifications; maintenance.scheduled is Fenix's old name."""

    PLANNED = "maintenance.planned"
    SCHEDULED = "maintenance.scheduled"
    HOST = "maintenance.host"
    SESSION = "maintenance.session"
