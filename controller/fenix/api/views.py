"""The JSON shapes the API answers with, built from database rows in one place.

Handlers never hand rows to jsonify: these functions decide which fields go out (never a
subscription's secret) and render every timestamp as ISO 8601 UTC.
"""

from __future__ import annotations

from typing import Any

from fenix.api.reads import WHOLE_DETAIL, DetailQuery
from fenix.db.models import (
    ActionPlugin,
    ActionRun,
    Event,
    InstanceConstraint,
    InstanceGroupConstraint,
    OutboxMessage,
    Session,
    SessionHost,
    SessionInstance,
    SessionProject,
    Subscription,
)
from fenix.db.repository import Repository
from fenix.timeutil import to_iso


def session_summary(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "state": session.state,
        "workflow": session.workflow,
        "maintenance_at": to_iso(session.maintenance_at),
        "created_at": to_iso(session.created_at),
        "updated_at": to_iso(session.updated_at),
        "percent_done": session.percent_done,
        "error": session.error,
    }


def session_detail(
    repo: Repository, session: Session, query: DetailQuery = WHOLE_DETAIL
) -> dict[str, Any]:
    """The session with its hosts, projects, instances and action plug-ins: all of its parts,
    or those `query` names (fenix.api.reads), each read with its own query and nothing else."""
    detail: dict[str, Any] = {
        **session_summary(session),
        "metadata": session.meta,
        "download": session.download,
        "max_hosts_per_zone": session.max_hosts_per_zone,
    }
    instances: list[SessionInstance] | None = None
    holds: dict[str, Any] | None = None
    for part in query.parts:
        if part == "hosts":
            page = query.hosts
            hosts = repo.session_hosts(session.id, page.offset, page.limit)
            detail["hosts"] = [host_view(host) for host in hosts]
        elif part == "projects":
            detail["projects"] = [project_view(p) for p in repo.session_projects(session.id)]
        elif part == "instances":
            page = query.instances
            instances = repo.session_instances_page(session.id, page.offset, page.limit)
            detail["instances"] = [instance_view(instance) for instance in instances]
            if page.asked:
                instances = None  # a page: the breaches need them all
        elif part == "action_plugins":
            detail["action_plugins"] = [
                action_plugin_view(action) for action in repo.session_action_plugins(session.id)
            ]
        elif part == "action_runs":
            detail["action_runs"] = [action_run_view(run) for run in repo.action_runs(session.id)]
        elif part == "deliveries":
            detail["deliveries"] = deliveries_view(repo, session.id)
        elif part == "dead_notifications":
            detail["dead_notifications"] = [
                dead_notification_view(repo, message) for message in repo.dead_outbox(session.id)
            ]
        elif part == "constraint_breaches":
            every_details = (
                [instance.details for instance in instances]
                if instances is not None
                else repo.instance_details(session.id)
            )
            detail["constraint_breaches"] = [
                breach
                for details in every_details
                for breach in (details or {}).get("breaches", [])
            ]
        elif part == "gates":
            detail["gates"] = session.gates
        elif part in HOLD_PARTS:
            holds = holds if holds is not None else holds_view(repo, session)
            detail[part] = holds[part]
    if query.hosts.asked:
        detail["hosts_total"] = repo.count_rows(SessionHost, session.id)
    if query.instances.asked:
        detail["instances_total"] = repo.count_rows(SessionInstance, session.id)
    return detail


HOLD_PARTS = ("paused", "pauses", "windows", "held")
HOLD_EVENTS = ("session.paused", "session.resumed", "session.held", "session.hold_ended")


def holds_view(repo: Repository, session: Session) -> dict[str, Any]:
    """The session's pause (now and every one before), its windows, and what the engine last
    said holds it: from its row and its event log, so an answer depends on nothing else."""
    pauses: list[dict[str, Any]] = []
    held: dict[str, Any] | None = None
    for event in repo.events_of_kinds(session.id, HOLD_EVENTS):
        data = event.data or {}
        if event.kind == "session.paused":
            pauses.append(
                {
                    "paused_at": to_iso(event.at),
                    "paused_by": data.get("by"),
                    "reason": data.get("reason"),
                    "resumed_at": None,
                    "resumed_by": None,
                }
            )
        elif event.kind == "session.resumed" and pauses and pauses[-1]["resumed_at"] is None:
            pauses[-1].update(resumed_at=to_iso(event.at), resumed_by=data.get("by"))
        elif event.kind == "session.held":
            held = {
                "why": data.get("why"),
                "since": to_iso(event.at),
                "until": data.get("until"),
                "reason": data.get("reason"),
            }
        elif event.kind == "session.hold_ended":
            held = None
    paused = None
    if session.paused_at is not None:
        paused = {
            "at": to_iso(session.paused_at),
            "by": session.paused_by,
            "reason": session.pause_reason,
        }
    return {"paused": paused, "pauses": pauses, "windows": session.windows, "held": held}


def deliveries_view(repo: Repository, session_id: str) -> dict[str, Any]:
    """How many of the session's notifications (one per subscriber) are in each state, and
    what the subscribers answered (an AODH-style one's 500 is delivered, and shown here)."""
    counts = repo.outbox_counts(session_id)
    view: dict[str, Any] = {
        state.lower(): counts.get(state, 0) for state in ("PENDING", "DELIVERED", "DEAD", "DROPPED")
    }
    view["http_statuses"] = {
        str(status): count for status, count in repo.outbox_http_statuses(session_id).items()
    }
    return view


def dead_notification_view(repo: Repository, message: OutboxMessage) -> dict[str, Any]:
    """A notification given up on: to whom, which step, and why (never the secret)."""
    subscription = repo.get_subscription(message.subscription_id)
    return {
        "message_id": message.message_id,
        "event_type": message.event_type,
        "state": (message.body.get("payload") or {}).get("state"),
        "project_id": message.project_id,
        "subscription_id": message.subscription_id,
        "callback_url": subscription.callback_url if subscription is not None else None,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "created_at": to_iso(message.created_at),
    }


def host_view(host: SessionHost) -> dict[str, Any]:
    return {
        "name": host.name,
        "kind": host.kind,
        "state": host.state,
        "disabled": host.disabled,
        "maintained": host.maintained,
        "details": host.details,
        "updated_at": to_iso(host.updated_at),
    }


def project_view(project: SessionProject) -> dict[str, Any]:
    return {
        "project_id": project.project_id,
        "step": project.step,
        "reply": project.reply,
        "notified_at": to_iso(project.notified_at),
        "reply_at": to_iso(project.reply_at),
        "replied_at": to_iso(project.replied_at),
        "instance_ids": project.instance_ids,
        "instance_actions": project.instance_actions,
        "has_manager": project.has_manager,
    }


def instance_view(instance: SessionInstance) -> dict[str, Any]:
    return {
        "instance_id": instance.instance_id,
        "name": instance.name,
        "project_id": instance.project_id,
        "host": instance.host,
        "size": instance.size,
        "state": instance.state,
        "action": instance.action,
        "action_state": instance.action_state,
        "details": instance.details,
    }


def action_plugin_view(action: ActionPlugin) -> dict[str, Any]:
    return {"plugin": action.plugin, "type": action.type, "metadata": action.meta}


def action_run_view(run: ActionRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "plugin": run.plugin,
        "type": run.type,
        "hosts": run.hosts,
        "state": run.state,
        "rc": run.rc,
        "message": run.message,
        "artifacts_dir": run.artifacts_dir,
        "started_at": to_iso(run.started_at),
        "finished_at": to_iso(run.finished_at),
    }


def event_view(event: Event) -> dict[str, Any]:
    """An event as the API shows it; its `id` is its position in the session's log."""
    return {
        "id": event.position,
        "at": to_iso(event.at),
        "kind": event.kind,
        "subject": event.subject,
        "old": event.old,
        "new": event.new,
        "data": event.data,
    }


def instance_constraint_view(row: InstanceConstraint) -> dict[str, Any]:
    return {
        "instance_id": row.instance_id,
        "project_id": row.project_id,
        "group_id": row.group_id,
        "instance_name": row.instance_name,
        "max_interruption_time": row.max_interruption_time,
        "migration_type": row.migration_type,
        "resource_mitigation": row.resource_mitigation,
        "lead_time": row.lead_time,
        "updated_at": to_iso(row.updated_at),
    }


def group_constraint_view(row: InstanceGroupConstraint) -> dict[str, Any]:
    return {
        "group_id": row.group_id,
        "project_id": row.project_id,
        "group_name": row.group_name,
        "anti_affinity_group": row.anti_affinity_group,
        "max_instances_per_host": row.max_instances_per_host,
        "max_impacted_members": row.max_impacted_members,
        "recovery_time": row.recovery_time,
        "resource_mitigation": row.resource_mitigation,
        "updated_at": to_iso(row.updated_at),
    }


def subscription_view(subscription: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": subscription.id,
        "event_types": subscription.event_types,
        "project_id": subscription.project_id,
        "callback_url": subscription.callback_url,
        "format": subscription.format,
        "has_secret": subscription.secret is not None,
        "created_at": to_iso(subscription.created_at),
    }
