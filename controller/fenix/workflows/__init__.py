"""Workflow plug-ins, found by name: the `workflow` field of a session."""

from __future__ import annotations

import importlib

_WORKFLOWS = {
    "default": "fenix.workflows.default:DefaultWorkflow",
}


def available_workflows() -> list[str]:
    return sorted(_WORKFLOWS)


def load_workflow(name: str) -> type:
    """The workflow class registered under `name`; KeyError if there is none."""
    module_name, _, class_name = _WORKFLOWS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
