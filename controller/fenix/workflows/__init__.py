"""Workflow plug-ins, found by name: the `workflow` field of a session."""

from __future__ import annotations

import importlib

_WORKFLOWS: dict[str, str | type] = {
    "default": "fenix.workflows.default:DefaultWorkflow",
    "k8s": "fenix.workflows.k8s:K8sWorkflow",
    "vnf": "fenix.workflows.vnf:VnfWorkflow",
}


def available_workflows() -> list[str]:
    return sorted(_WORKFLOWS)


def register_workflow(name: str, workflow: str | type) -> None:
    """Make a workflow class (or its "module:Class" path) available under `name`."""
    _WORKFLOWS[name] = workflow


def load_workflow(name: str) -> type:
    """The workflow class registered under `name`; KeyError if there is none."""
    workflow = _WORKFLOWS[name]
    if isinstance(workflow, type):
        return workflow
    module_name, _, class_name = workflow.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
