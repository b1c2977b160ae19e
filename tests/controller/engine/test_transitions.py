"""The session state machine table: what may follow what."""

from __future__ import annotations

import pytest

from fenix.engine.transitions import TRANSITIONS, allowed
from fenix.states import SessionState as S

FORWARD = [
    (S.MAINTENANCE, S.SCALE_IN),
    (S.MAINTENANCE, S.PREPARE_MAINTENANCE),
    (S.MAINTENANCE, S.START_MAINTENANCE),
    (S.SCALE_IN, S.PREPARE_MAINTENANCE),
    (S.PREPARE_MAINTENANCE, S.START_MAINTENANCE),
    (S.START_MAINTENANCE, S.PLANNED_MAINTENANCE),
    (S.START_MAINTENANCE, S.MAINTENANCE_COMPLETE),
    (S.PLANNED_MAINTENANCE, S.MAINTENANCE_COMPLETE),
    (S.MAINTENANCE_COMPLETE, S.MAINTENANCE_DONE),
]


@pytest.mark.parametrize(("old", "new"), FORWARD)
def test_contract_order_is_allowed(old, new):
    assert allowed(old, new)


@pytest.mark.parametrize(("old", "new"), [(new, old) for old, new in FORWARD])
def test_going_backwards_is_refused(old, new):
    assert not allowed(old, new)


@pytest.mark.parametrize("state", [s for s in S if not s.is_final])
def test_every_unfinished_state_may_fail(state):
    assert allowed(state, S.MAINTENANCE_FAILED)


def test_done_is_final():
    assert not any(allowed(S.MAINTENANCE_DONE, new) for new in S)


def test_failed_session_resumes_only_into_unfinished_states():
    assert allowed(S.MAINTENANCE_FAILED, S.PLANNED_MAINTENANCE)
    assert not allowed(S.MAINTENANCE_FAILED, S.MAINTENANCE_DONE)
    assert not allowed(S.MAINTENANCE_FAILED, S.MAINTENANCE_FAILED)


def test_table_covers_every_state():
    assert set(TRANSITIONS) == set(S)
