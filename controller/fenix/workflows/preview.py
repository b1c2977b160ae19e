"""A session's plan before it starts, for the admin to approve: read the cloud and the
standing constraints, and ask the planner (fenix.planner.preview) what it would do.

Only reads: the driver's listings and the constraints and subscriptions in the database. No
host is disabled, no manager told, no row written.
"""

from __future__ import annotations

from dataclasses import replace

from fenix.config import PlanSeconds, Settings
from fenix.db.database import Database
from fenix.drivers.base import CloudDriver
from fenix.planner.preview import (
    Durations,
    Preview,
    preview_one_at_a_time,
    preview_parallel,
)
from fenix.states import HostState, InstanceAction
from fenix.workflows import load_workflow
from fenix.workflows.constraints import load_rules
from fenix.workflows.default import DefaultWorkflow
from fenix.workflows.k8s import ALLOWED_ACTIONS as POD_ACTIONS
from fenix.workflows.k8s import K8sWorkflow
from fenix.workflows.planner_input import read_hosts, read_instances, read_managers
from fenix.workflows.vnf import VnfWorkflow


class NoPreview(Exception):
    """The workflow is not one whose choices the planner knows."""


def assumed_durations(settings: Settings, asked: PlanSeconds | None = None) -> Durations:
    """The request's figures, else the settings' (plan_seconds), else the simulated cloud's
    own when it is started in-process (its sim_* settings), else Durations' round figures."""
    durations = Durations()
    if settings.cloud == "simulated" and not settings.sim_url:
        durations = replace(
            durations,
            live_migrate=settings.sim_live_migrate_seconds,
            migrate=settings.sim_migrate_seconds,
            evict=settings.sim_migrate_seconds,
            own_action=settings.sim_migrate_seconds,
            maintain=settings.sim_maintain_seconds,
            answer=1.0,
        )
    for figures in (settings.plan_seconds, asked or PlanSeconds()):
        given = {k: v for k, v in figures.model_dump().items() if v is not None}
        durations = replace(durations, **given)
    return durations


def preview_session(
    driver: CloudDriver,
    db: Database,
    settings: Settings,
    *,
    hosts: list[str],
    workflow: str,
    durations: Durations,
    max_hosts_per_zone: int | None = None,
) -> Preview:
    """The plan of a session of these hosts (in this order) under this workflow, and its
    limit of hosts out of service per zone."""
    kind = load_workflow(workflow)
    if not issubclass(kind, DefaultWorkflow):
        raise NoPreview(f"the {workflow} workflow's choices are its own: no plan to show")
    ours = {name: (HostState.PENDING, position) for position, name in enumerate(hosts)}
    cloud_hosts = read_hosts(driver, ours)
    instances = read_instances(driver)
    with db.transaction() as repo:
        rules = load_rules(repo, [i.instance_id for i in instances])
        rules = rules.with_zone_limit(max_hosts_per_zone)
        managers = read_managers(repo, {i.project_id for i in instances})
    if issubclass(kind, VnfWorkflow):
        return preview_parallel(
            cloud_hosts,
            instances,
            rules,
            managers,
            durations,
            reply_window=settings.reply_window,
        )
    if issubclass(kind, K8sWorkflow):
        return preview_one_at_a_time(
            cloud_hosts,
            instances,
            rules,
            managers,
            durations,
            default_action=InstanceAction.EVICTION,
            allowed=tuple(POD_ACTIONS),
            replaced=True,
        )
    return preview_one_at_a_time(cloud_hosts, instances, rules, managers, durations)
