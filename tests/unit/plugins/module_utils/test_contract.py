"""The modules' copy of the contract's names must equal the controller's own.

Modules cannot import ``fenix`` (AnsiballZ ships only module_utils), so _contract.py copies
fenix.states; this test is what keeps the copy honest. It imports fenix when it is
installed, and otherwise reads controller/fenix/states.py as text.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from ansible_collections.fenix.maintenance.plugins.module_utils import _contract

STATES_FILE = Path(__file__).resolve().parents[4] / "controller" / "fenix" / "states.py"


def _enum_values_from_source(source: str) -> dict[str, list[str]]:
    """{class name: [member values in order]} for the StrEnum classes of states.py."""
    enums: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            values = [
                stmt.value.value
                for stmt in node.body
                if isinstance(stmt, ast.Assign)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ]
            enums[node.name] = values
    return enums


def _reply_steps_from_source(source: str) -> set[str]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "REPLY_STEPS" for t in node.targets
        ):
            # frozenset({ProjectStep.MAINTENANCE, ...}): member names equal their values.
            return {n.attr for n in ast.walk(node.value) if isinstance(n, ast.Attribute)}
    raise AssertionError("REPLY_STEPS not found in states.py")


@pytest.fixture(scope="module")
def controller_names() -> dict[str, object]:
    """The controller's names: from the fenix package, or parsed from its source file."""
    try:
        from fenix import states
    except ImportError:
        if not STATES_FILE.exists():
            pytest.skip("neither the fenix package nor controller/fenix/states.py is here")
        source = STATES_FILE.read_text(encoding="utf-8")
        enums = _enum_values_from_source(source)
        return {
            "session": enums["SessionState"],
            "steps": enums["ProjectStep"],
            "actions": enums["InstanceAction"],
            "events": enums["EventType"],
            "reply_steps": _reply_steps_from_source(source),
        }
    return {
        "session": [str(s) for s in states.SessionState],
        "steps": [str(s) for s in states.ProjectStep],
        "actions": [str(a) for a in states.InstanceAction],
        "events": [str(e) for e in states.EventType],
        "reply_steps": {str(s) for s in states.REPLY_STEPS},
    }


def test_session_states_match_the_controller_in_order(controller_names):
    assert list(_contract.SESSION_STATES) == controller_names["session"]


def test_final_states_are_done_and_failed(controller_names):
    assert {"MAINTENANCE_DONE", "MAINTENANCE_FAILED"} == _contract.FINAL_SESSION_STATES
    assert set(controller_names["session"]) >= _contract.FINAL_SESSION_STATES


def test_project_steps_match_the_controller_in_order(controller_names):
    assert list(_contract.PROJECT_STEPS) == controller_names["steps"]


def test_reply_steps_match_the_controller(controller_names):
    assert set(_contract.REPLY_STEPS) == controller_names["reply_steps"]


def test_reply_states_are_ack_or_nack_of_each_reply_step():
    expected = {f"{answer}_{step}" for step in _contract.REPLY_STEPS for answer in ("ACK", "NACK")}
    assert set(_contract.REPLY_STATES) == expected
    assert "ACK_PLANNED_MAINTENANCE" in _contract.REPLY_STATES


def test_instance_actions_match_the_controller(controller_names):
    assert list(_contract.INSTANCE_ACTIONS) == controller_names["actions"]
    assert set(_contract.DEFAULT_ALLOWED_ACTIONS) <= set(_contract.INSTANCE_ACTIONS)


def test_planned_event_name_is_the_controllers(controller_names):
    assert _contract.EVENT_PLANNED in controller_names["events"]


def test_source_parser_agrees_with_the_package():
    """The text fallback reads states.py as the package does (checked where both exist)."""
    states = pytest.importorskip("fenix.states")
    enums = _enum_values_from_source(STATES_FILE.read_text(encoding="utf-8"))
    assert enums["SessionState"] == [str(s) for s in states.SessionState]
    assert _reply_steps_from_source(STATES_FILE.read_text(encoding="utf-8")) == {
        str(s) for s in states.REPLY_STEPS
    }
