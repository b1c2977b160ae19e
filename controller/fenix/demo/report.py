"""The demo's JSON report, built from what the controller recorded and what the cloud measured.

Downtime comes from the simulated cloud's own accounting, not from the controller's belief, so
the report shows what the applications really saw.
"""

from __future__ import annotations

from typing import Any


def host_timelines(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    timelines: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["kind"] == "host.state":
            timelines.setdefault(event["subject"], []).append(
                {"at": event["at"], "from": event["old"], "to": event["new"]}
            )
    return timelines


def instance_outcomes(
    cloud_report: dict[str, Any], detail: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    actions = {i["instance_id"]: i for i in detail.get("instances", [])}
    outcomes = {}
    for instance_id, measured in cloud_report["instances"].items():
        recorded = actions.get(instance_id, {})
        outcomes[instance_id] = {
            "project_id": measured["project_id"],
            "fate": measured["fate"],
            "action": recorded.get("action"),
            "hosts": measured["hosts"],
            "downtime_seconds": round(measured["downtime_seconds"], 3),
            "moves": len(measured["moves"]),
        }
    return outcomes


def build_report(
    *,
    detail: dict[str, Any],
    events: list[dict[str, Any]],
    cloud_report: dict[str, Any],
    manager_messages: dict[str, list[dict[str, Any]]],
    options: dict[str, Any],
    started_at: str,
    total_seconds: float,
) -> dict[str, Any]:
    notifications = [e for e in events if e["kind"] == "notification"]
    replies = [e for e in events if e["kind"].startswith("project.")]
    instances = instance_outcomes(cloud_report, detail)
    by_action: dict[str, list[float]] = {}
    for outcome in instances.values():
        by_action.setdefault(outcome["action"] or "none", []).append(outcome["downtime_seconds"])
    return {
        "session_id": detail["session_id"],
        "state": detail["state"],
        "error": detail.get("error"),
        "workflow": detail["workflow"],
        "options": options,
        "started_at": started_at,
        "total_seconds": round(total_seconds, 3),
        "hosts": {
            host["name"]: {
                "state": host["state"],
                "zone": (host.get("details") or {}).get("zone"),
                "maintained": host["maintained"],
                "disabled": host["disabled"],
                "maintenance_runs": len(cloud_report["hosts"][host["name"]]["maintenance"]),
            }
            for host in detail["hosts"]
        },
        "host_timelines": host_timelines(events),
        "action_runs": detail.get("action_runs", []),
        "instances": instances,
        "downtime_by_action": {
            action: {"instances": len(values), "max_seconds": max(values), "total": sum(values)}
            for action, values in sorted(by_action.items())
        },
        "managers": {
            project: {"messages": messages} for project, messages in manager_messages.items()
        },
        "controller_notifications": notifications,
        "controller_reply_log": replies,
        "event_count": len(events),
    }
