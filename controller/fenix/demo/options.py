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
