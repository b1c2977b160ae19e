# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A followed session told as it happens: one line per event worth a reader's eye.

Shared by the maintenance_session module (its state-change log and its failure messages) and
its action plug-in, which prints these lines in the job's output while the session runs. The
controller's own ``fenix session watch`` tells the same story from the same event log.
"""

from __future__ import annotations

from ansible_collections.fenix.maintenance.plugins.module_utils._contract import (
    EVENT_PLANNED,
    MAINTENANCE_FAILED,
    REPLY_STEPS,
)

STATE_EVENTS = ("session.created", "session.state")
"""Events that change the session's state (the RV(progress) of maintenance_session)."""

UNSUPPORTED_LOG_STATUSES = (404, 405, 501)
"""Answers of a controller that keeps no event log (OpenStack Fenix itself)."""


def progress_entry(event):
    """The RV(progress) entry for a state-changing event, else None."""
    if event.get("kind") not in STATE_EVENTS:
        return None
    return dict(state=event.get("new"), previous=event.get("old"), at=event.get("at"))


def _clock(event):
    """HH:MM:SS of the event's UTC time ("at" is ISO 8601), or empty when it has none."""
    at = event.get("at") or ""
    return at[11:19] if len(at) >= 19 else ""


def _instance_actions(data):
    actions = data.get("instance_actions") or {}
    return ", ".join(f"{instance} {action}" for instance, action in sorted(actions.items()))


def _describe(kind, subject, old, new, data):
    if kind == "session.created":
        return f"session created in {new}"
    if kind == "session.state":
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return f"session {old} -> {new}{reason}"
    if kind == "host.state":
        return f"host {subject}: {old} -> {new}"
    if kind == "notification" and data.get("event_type") == EVENT_PLANNED and subject:
        return f"{subject} {'asked' if new in REPLY_STEPS else 'told'}: {new}"
    if kind == "project.reply":
        moves = _instance_actions(data)
        return f"{subject} answered {new}" + (f" ({moves})" if moves else "")
    if kind == "project.reply.timeout":
        return f"{subject} did not answer {new} in time"
    if kind == "project.reply.undeliverable":
        return f"{subject} could not be told of {new}"
    if kind == "project.no_manager":
        return f"{subject} has no manager: default behaviour for {new}"
    if kind == "project.reply.rejected":
        return f"{subject}: reply {new} refused: {data.get('reason') or ''}".rstrip(": ")
    if kind == "instance.action" and new == "STARTING":
        target = (data.get("details") or {}).get("target") or "?"
        return f"instance {subject}: {data.get('action')} {data.get('action_from')} -> {target}"
    if kind == "instance.action" and new == "FAILED":
        return f"instance {subject}: move failed"
    if kind == "action.start":
        return f"playbook {subject} started"
    if kind == "action.end":
        message = data.get("message") or ""
        return f"playbook {subject} {new}: {message}".rstrip(": ")
    if kind == "notification.dead":
        return f"delivery to {data.get('callback_url', subject)} given up: {data.get('error')}"
    return None


def describe_event(event):
    """One line for an event of the session's log, or None for the routine ones."""
    line = _describe(
        event.get("kind"),
        event.get("subject"),
        event.get("old"),
        event.get("new"),
        event.get("data") or {},
    )
    if line is None:
        return None
    clock = _clock(event)
    return f"{clock} {line}" if clock else line


def describe_changes(before, after):
    """Lines for what changed between two reads of a session's detail.

    For a controller without an event log: the session's state, each host's state and each
    project's step and reply, as polling sees them.
    """
    before = before or {}
    lines = []
    if after.get("state") != before.get("state"):
        lines.append(f"session {before.get('state') or '-'} -> {after.get('state')}")
    old_hosts = {h.get("name"): h.get("state") for h in before.get("hosts") or []}
    for host in after.get("hosts") or []:
        if old_hosts.get(host.get("name")) != host.get("state"):
            old = old_hosts.get(host.get("name")) or "-"
            lines.append(f"host {host.get('name')}: {old} -> {host.get('state')}")
    old_projects = {p.get("project_id"): p for p in before.get("projects") or []}
    for project in after.get("projects") or []:
        old = old_projects.get(project.get("project_id")) or {}
        step = project.get("step")
        if step and step != old.get("step"):
            verb = "asked" if step in REPLY_STEPS else "told"
            lines.append(f"{project.get('project_id')} {verb}: {step}")
        if project.get("reply") and project.get("reply") != old.get("reply"):
            lines.append(f"{project.get('project_id')} answered {project.get('reply')}")
    return lines


def failed_message(session_id, detail):
    return (
        f"maintenance session {session_id} ended {MAINTENANCE_FAILED}: "
        f"{detail.get('error') or 'no error recorded'}. Fix the cause, then resume it (PUT "
        f"/v1/maintenance/{session_id} with the state to resume from) or delete it with "
        "state=absent"
    )


def unfinished_message(session_id, detail, wait_timeout):
    return (
        f"maintenance session {session_id} is still in {detail['state']} "
        f"({detail.get('percent_done')}% done) after {wait_timeout} s; it goes on "
        f"on the controller: follow it again with session_id={session_id} or read it with "
        "maintenance_info"
    )


def deleted_message(session_id):
    return f"session {session_id} was deleted while it was followed"
