"""What the vnf workflow's tests share: setting constraints, and reading the cloud's record."""

from __future__ import annotations

from collections import Counter
from datetime import datetime


def put_group(live, group_id: str, project_id: str, **fields) -> None:
    body = {"project_id": project_id, **fields}
    response = live.http.put(f"{live.url}/v1/instance_group/{group_id}", json=body, timeout=10)
    assert response.status_code == 200, response.text


def put_instance(live, instance_id: str, project_id: str, **fields) -> None:
    body = {"project_id": project_id, **fields}
    response = live.http.put(f"{live.url}/v1/instance/{instance_id}", json=body, timeout=10)
    assert response.status_code == 200, response.text


def group_of(live, group_id: str, project_id: str, members: list[str], **fields) -> None:
    put_group(live, group_id, project_id, **fields)
    for member in members:
        put_instance(live, member, project_id, group_id=group_id)


def moves(report: dict, instance_ids) -> list[dict]:
    """The cloud's finished moves of these instances, by start time."""
    found = [
        {**move, "instance_id": instance_id}
        for instance_id in instance_ids
        for move in report["instances"][instance_id]["moves"]
        if move["status"] == "DONE"
    ]
    return sorted(found, key=lambda m: m["start"])


def most_at_once(intervals) -> int:
    """The largest number of (start, end) intervals that overlap at one moment."""
    points = sorted([(s, 1) for s, _e in intervals] + [(e, -1) for _s, e in intervals])
    depth = most = 0
    for _at, step in points:
        depth += step
        most = max(most, depth)
    return most


def most_members_on_a_host(report: dict, members: list[str]) -> int:
    """Replay the cloud's moves: the most members of the group ever on one host."""
    where = {m: report["instances"][m]["hosts"][0] for m in members}
    most = max(Counter(where.values()).values())
    for move in sorted(moves(report, members), key=lambda m: m["end"]):
        where[move["instance_id"]] = move["to"]
        most = max(most, max(Counter(where.values()).values()))
    return most


def at(event: dict) -> float:
    return datetime.fromisoformat(event["at"]).timestamp()


def host_windows(events: list[dict], start: str = "IN_MAINTENANCE") -> list[tuple[float, float]]:
    """Each host's time from `start` to MAINTENANCE_COMPLETE, from the host.state events."""
    opened: dict[str, float] = {}
    windows = []
    for event in events:
        if event["kind"] != "host.state":
            continue
        if event["new"] == start:
            opened[event["subject"]] = at(event)
        elif event["new"] == "MAINTENANCE_COMPLETE" and event["subject"] in opened:
            windows.append((opened.pop(event["subject"]), at(event)))
    return windows


def session_states(events: list[dict]) -> list[str]:
    return [e["new"] for e in events if e["kind"] == "session.state"]
