"""What a demo run is asked for: the cloud's shape and kind, the workflow, where reports go.

Its own module, so that the clouds and the runner both read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DemoOptions:
    hosts: int = 4
    projects: int = 2
    instances: int = 4
    cloud: str = "simulated"
    """simulated, openstack-sim or k8s-sim: the driver and the simulator (fenix.demo.clouds)."""
    workflow: str | None = None
    """Default: the cloud's (k8s on k8s-sim, else default)."""
    report_path: str | None = "fenix-demo-report.json"
    timeline_path: str | None = None
    """Also draw the hosts' timeline there: .svg, or .png (needs cairosvg)."""
    database_url: str | None = None
    quiet: bool = False
    actions: bool = True
    """Run the `dummy` action plug-in (a real playbook) as each host's maintenance."""
    timeout: float = 300.0
    migrate_seconds: float = 1.0
    live_migrate_seconds: float = 0.5
    maintain_seconds: float = 1.0
    zones: int = 0
    """Zones the hosts are dealt into, round robin (zone-1 ... zone-Z); 0: none."""
    max_hosts_per_zone: int | None = None
    """The session's limit of hosts out of service per zone; None: no limit."""

    def zone_of(self, index: int) -> str | None:
        """The zone of host number ``index`` (from 0), as every demo cloud deals them."""
        return f"zone-{index % self.zones + 1}" if self.zones else None
