"""`fenix demo`: a whole maintenance session on one machine, with nothing to set up.

It starts a simulated cloud, the controller on a free port, one sample VNFM per project, runs
one session over every host, prints progress as it goes and writes a JSON report.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from fenix.app import create_app
from fenix.config import Settings
from fenix.demo.report import build_report
from fenix.drivers.simulated import SimulatedCloudConfig, SimulatedDriver, start_sim_cloud
from fenix.runtime import Runtime
from fenix.timeutil import to_iso, utcnow
from fenix.vnfm import SampleVnfm, VnfmConfig
from fenix.wsgi import serve_in_thread

MANAGER_ACTIONS = ("LIVE_MIGRATE", "MIGRATE")
"""What each project's manager answers, in turn: so the report shows both kinds of move."""


@dataclass
class DemoOptions:
    hosts: int = 4
    projects: int = 2
    instances: int = 4
    workflow: str = "default"
    report_path: str | None = "fenix-demo-report.json"
    database_url: str | None = None
    quiet: bool = False
    actions: bool = True
    """Run the `dummy` action plug-in (a real playbook) as each host's maintenance."""
    timeout: float = 300.0
    migrate_seconds: float = 1.0
    live_migrate_seconds: float = 0.5
    maintain_seconds: float = 1.0


class _Progress:
    """One line per change: session state, percent, and each host's state."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last: tuple | None = None
        self.started = time.monotonic()

    def show(self, detail: dict) -> None:
        hosts = " ".join(f"{h['name']}={h['state']}" for h in detail["hosts"])
        running = [r for r in detail.get("action_runs", []) if r["state"] == "RUNNING"]
        if running:
            hosts += f"  (playbook {running[-1]['plugin']} on {','.join(running[-1]['hosts'])})"
        line = (detail["state"], detail["percent_done"], hosts)
        if line != self.last and not self.quiet:
            elapsed = time.monotonic() - self.started
            print(
                f"[{elapsed:6.1f}s] {detail['state']:<22} {detail['percent_done']:3d}%  {hosts}",
                flush=True,
            )
        self.last = line


def run_demo(options: DemoOptions) -> int:
    """Run the demo; 0 when the session ended MAINTENANCE_DONE."""
    with tempfile.TemporaryDirectory(prefix="fenix-demo-") as workdir:
        report = _run(options, Path(workdir))
    if options.report_path:
        Path(options.report_path).write_text(json.dumps(report, indent=2) + "\n")
    _summary(report, options)
    return 0 if report["state"] == "MAINTENANCE_DONE" else 1


def _run(options: DemoOptions, workdir: Path) -> dict:
    started_at = to_iso(utcnow())
    t0 = time.monotonic()
    cloud, cloud_server = start_sim_cloud(
        SimulatedCloudConfig(
            hosts=options.hosts,
            projects=options.projects,
            instances=options.instances,
            migrate_seconds=options.migrate_seconds,
            live_migrate_seconds=options.live_migrate_seconds,
            maintain_seconds=options.maintain_seconds,
        )
    )
    settings = Settings(
        database_url=options.database_url or f"sqlite:///{workdir / 'fenix.db'}",
        artifacts_dir=str(workdir / "artifacts"),
        sim_url=cloud_server.url,
        port=0,
    )
    runtime = Runtime(settings)
    api = serve_in_thread(create_app(runtime), threads=16, name="api")
    settings.public_url = api.url
    runtime.start()
    managers = []
    try:
        for index in range(options.projects):
            vnfm = SampleVnfm(
                VnfmConfig(
                    controller_url=api.url,
                    project_id=f"project-{index + 1}",
                    instance_action=MANAGER_ACTIONS[index % len(MANAGER_ACTIONS)],
                    cloud=SimulatedDriver(cloud_server.url),
                )
            )
            managers.append(vnfm.start())
        if not options.quiet:
            print(
                f"controller {api.url}, simulated cloud {cloud_server.url}, "
                f"{len(managers)} managers; starting the session",
                flush=True,
            )
        http = requests.Session()
        created = http.post(
            f"{api.url}/v1/maintenance",
            json={
                "hosts": [],
                "state": "MAINTENANCE",
                "workflow": options.workflow,
                "metadata": {"demo": True},
                "actions": [{"plugin": "dummy", "type": "host"}] if options.actions else [],
            },
            timeout=10,
        )
        created.raise_for_status()
        session_id = created.json()["session_id"]
        detail = _follow(http, api.url, session_id, options)
        events = http.get(f"{api.url}/v1/maintenance/{session_id}/events", timeout=10).json()
        cloud_report = SimulatedDriver(cloud_server.url).report()
        return build_report(
            detail=detail,
            events=events["events"],
            cloud_report=cloud_report,
            manager_messages={m.config.project_id: m.messages for m in managers},
            options=asdict(options),
            started_at=started_at,
            total_seconds=time.monotonic() - t0,
        )
    finally:
        for vnfm in managers:
            vnfm.stop()
        api.stop()
        runtime.stop()
        cloud_server.stop()
        cloud.close()


def _follow(http: requests.Session, url: str, session_id: str, options: DemoOptions) -> dict:
    progress = _Progress(options.quiet)
    deadline = time.monotonic() + options.timeout
    while True:
        detail = http.get(f"{url}/v1/maintenance/{session_id}/detail", timeout=10).json()
        progress.show(detail)
        if detail["state"] in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED"):
            return detail
        if time.monotonic() > deadline:
            detail["error"] = f"the demo gave up after {options.timeout:.0f} s"
            return detail
        time.sleep(0.2)


def _summary(report: dict, options: DemoOptions) -> None:
    maintained = sum(1 for h in report["hosts"].values() if h["maintained"])
    print(
        f"\nsession {report['session_id']}: {report['state']}"
        + (f" ({report['error']})" if report.get("error") else "")
    )
    print(
        f"hosts maintained: {maintained}/{len(report['hosts'])}; "
        f"instances: {len(report['instances'])}; total {report['total_seconds']:.1f} s"
    )
    for action, figures in report["downtime_by_action"].items():
        print(
            f"  {action:<13} {figures['instances']:3d} instances, "
            f"max downtime {figures['max_seconds']:.2f} s"
        )
    if options.report_path:
        print(f"report: {options.report_path}")
