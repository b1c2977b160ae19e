"""`fenix demo --zones Z --max-hosts-per-zone N`: the demo's clouds deal their hosts into zones,
and its vnf session keeps to the limit (read from the report's host timelines)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from fenix.demo.runner import DemoOptions, run_demo
from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS

pytestmark = [*OPENSTACKSDK_MARKS, pytest.mark.slow]


def _most_out_per_zone(report: dict) -> tuple[Counter, int]:
    zones = {name: host["zone"] for name, host in report["hosts"].items()}
    changes = sorted(
        (change["at"], name, change["to"])
        for name, timeline in report["host_timelines"].items()
        for change in timeline
    )
    out: set[str] = set()
    most: Counter[str] = Counter()
    most_overall = 0
    for _at, name, state in changes:
        if state in ("PREPARING", "IN_MAINTENANCE"):
            out.add(name)
        else:
            out.discard(name)
        for zone, count in Counter(zones[h] for h in out).items():
            most[zone] = max(most[zone], count)
        most_overall = max(most_overall, len(out))
    return most, most_overall


@pytest.mark.parametrize("cloud", ["simulated", "openstack-sim"])
def test_the_vnf_demo_keeps_one_host_per_zone_out_at_a_time(tmp_path, cloud):
    report_path = tmp_path / "report.json"
    options = DemoOptions(
        hosts=8,
        cloud=cloud,
        workflow="vnf",
        report_path=str(report_path),
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        quiet=True,
        actions=False,
        migrate_seconds=0.2,
        live_migrate_seconds=0.1,
        maintain_seconds=0.3,
        zones=2,
        max_hosts_per_zone=1,
    )

    assert run_demo(options) == 0
    report = json.loads(report_path.read_text())
    assert report["state"] == "MAINTENANCE_DONE", report["error"]
    assert {h["zone"] for h in report["hosts"].values()} == {"zone-1", "zone-2"}
    most, most_overall = _most_out_per_zone(report)
    assert most == {"zone-1": 1, "zone-2": 1}
    assert most_overall == 2
