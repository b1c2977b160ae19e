"""max_hosts_per_zone through the API: a vnf session on a simulated cloud with zones keeps to
it, read from the session's own event log; the hosts carry their zone in the detail."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.slow


def _most_out_per_zone(events: list[dict], zones: dict[str, str]) -> tuple[Counter, int]:
    """Replaying the host.state events in order: the most hosts of each zone out of service
    (PREPARING or IN_MAINTENANCE) at once, and the most out at once in all."""
    out: set[str] = set()
    most: Counter[str] = Counter()
    most_overall = 0
    for event in events:
        if event["kind"] != "host.state":
            continue
        if event["new"] in ("PREPARING", "IN_MAINTENANCE"):
            out.add(event["subject"])
        else:
            out.discard(event["subject"])
        per_zone = Counter(zones[host] for host in out)
        for zone, count in per_zone.items():
            most[zone] = max(most[zone], count)
        most_overall = max(most_overall, len(out))
    return most, most_overall


def test_no_zone_has_two_hosts_down_at_once_under_a_limit_of_one(live_stack):
    # Six hosts of capacity 2, one instance each, in two zones: capacity alone lets several
    # hosts of one zone be emptied together.
    live = live_stack.start(
        cloud={"hosts": 6, "projects": 1, "instances": 6, "zones": 2, "maintain_seconds": 0.3}
    )
    session_id = live.create_session(workflow="vnf", max_hosts_per_zone=1)

    detail = live.wait_for(session_id, timeout=120)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    zones = {h["name"]: h["details"]["zone"] for h in detail["hosts"]}
    assert zones == {f"compute-{n}": f"zone-{(n - 1) % 2 + 1}" for n in range(1, 7)}
    most, most_overall = _most_out_per_zone(live.events(session_id), zones)
    assert most == {"zone-1": 1, "zone-2": 1}
    assert most_overall == 2  # the zones were maintained side by side
    assert all(h["state"] == "MAINTENANCE_COMPLETE" for h in detail["hosts"])
    assert all(h["enabled"] for h in live.cloud_report()["hosts"].values())


def test_without_a_limit_the_same_cloud_takes_several_hosts_of_a_zone_at_once(live_stack):
    live = live_stack.start(
        cloud={"hosts": 6, "projects": 1, "instances": 6, "zones": 2, "maintain_seconds": 0.3}
    )
    session_id = live.create_session(workflow="vnf")

    detail = live.wait_for(session_id, timeout=120)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    zones = {h["name"]: h["details"]["zone"] for h in detail["hosts"]}
    most, _overall = _most_out_per_zone(live.events(session_id), zones)
    assert max(most.values()) >= 2  # so the limit above is what kept it to one


def _most_planned_per_zone(plan: dict, zones: dict[str, str]) -> int:
    """The most hosts of one zone the plan has out of service at one moment."""
    most = 0
    for host in plan["hosts"]:
        at = host["out_of_service_at"]
        together = [
            other
            for other in plan["hosts"]
            if zones[other["host"]] == zones[host["host"]]
            and other["out_of_service_at"] <= at < other["maintenance_until"]
        ]
        most = max(most, len(together))
    return most


def test_the_plan_before_the_start_keeps_to_the_limit_too(live_stack):
    live = live_stack.start(
        cloud={"hosts": 6, "projects": 1, "instances": 6, "zones": 2, "maintain_seconds": 0.3}
    )
    zones = {f"compute-{n}": f"zone-{(n - 1) % 2 + 1}" for n in range(1, 7)}
    body = {"state": "MAINTENANCE", "workflow": "vnf", "hosts": []}

    limited = live.http.post(
        f"{live.url}/v1/maintenance/plan", json={**body, "max_hosts_per_zone": 1}, timeout=30
    )
    free = live.http.post(f"{live.url}/v1/maintenance/plan", json=body, timeout=30)

    assert limited.status_code == 200, limited.text
    assert free.status_code == 200, free.text
    assert sorted(h["host"] for h in limited.json()["hosts"]) == sorted(zones)
    assert _most_planned_per_zone(limited.json(), zones) == 1
    assert _most_planned_per_zone(free.json(), zones) >= 2
