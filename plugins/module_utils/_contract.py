# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The names of the wire contract that the modules need: session states and reply states.

A copy of ``fenix.states`` (modules never import ``fenix``: they run under AnsiballZ
with only module_utils shipped). tests/unit/plugins/module_utils/test_contract.py pins this
copy against controller/fenix/states.py, so the two cannot drift apart.
"""

from __future__ import annotations

SESSION_STATES = (
    "MAINTENANCE",
    "SCALE_IN",
    "PREPARE_MAINTENANCE",
    "START_MAINTENANCE",
    "PLANNED_MAINTENANCE",
    "MAINTENANCE_COMPLETE",
    "MAINTENANCE_DONE",
    "MAINTENANCE_FAILED",
)
"""In the order a session goes through them; any of them may end in MAINTENANCE_FAILED."""

MAINTENANCE_DONE = "MAINTENANCE_DONE"
MAINTENANCE_FAILED = "MAINTENANCE_FAILED"
FINAL_SESSION_STATES = frozenset((MAINTENANCE_DONE, MAINTENANCE_FAILED))

PROJECT_STEPS = (
    "MAINTENANCE",
    "SCALE_IN",
    "PREPARE_MAINTENANCE",
    "PLANNED_MAINTENANCE",
    "IN_MAINTENANCE",
    "MAINTENANCE_COMPLETE",
    "INSTANCE_ACTION_DONE",
    "ADMIN_ACTION_DONE",
    "MAINTENANCE_DONE",
    "MAINTENANCE_FAILED",
)
"""The ``state`` of a maintenance.planned notification: the step a manager is told of."""

REPLY_STEPS = (
    "MAINTENANCE",
    "SCALE_IN",
    "PREPARE_MAINTENANCE",
    "PLANNED_MAINTENANCE",
    "MAINTENANCE_COMPLETE",
)
"""Steps a manager answers with ACK_<step> or NACK_<step>; the others are for information."""

REPLY_STATES = tuple(f"{answer}_{step}" for step in REPLY_STEPS for answer in ("ACK", "NACK"))

INSTANCE_ACTIONS = ("MIGRATE", "LIVE_MIGRATE", "OWN_ACTION", "EVICTION")

EVENT_PLANNED = "maintenance.planned"
"""Fenix's code sent it as maintenance.scheduled; managers accept either name."""

DEFAULT_ALLOWED_ACTIONS = ("MIGRATE", "LIVE_MIGRATE", "OWN_ACTION")


def is_final(state):
    return state in FINAL_SESSION_STATES
