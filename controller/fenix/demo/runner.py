"""`fenix demo`: a whole maintenance session on one machine, with nothing to set up.

It starts a simulated cloud (or, with --cloud, the OpenStack or Kubernetes driver against its
simulator: fenix.demo.clouds), the controller on a free port, one sample VNFM per project,
runs one session over every host, prints progress as it goes and writes a JSON report.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import requests

from fenix.app import create_app
from fenix.client.http import FenixClient
from fenix.config import Settings, TokenGrant
from fenix.demo.clouds import start_demo_cloud
from fenix.demo.options import DemoOptions
from fenix.demo.report import build_report
from fenix.demo.timeline import TimelineError, check_target, render_svg, write_timeline
from fenix.runtime import Runtime
from fenix.timeutil import to_iso, utcnow
from fenix.vnfm import SampleVnfm, VnfmConfig
from fenix.wsgi import serve_in_thread


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


def demo_tokens(projects: int) -> dict[str, TokenGrant]:
    """Fresh API tokens for the run: the admin's, and one per project for its manager.

    The demo runs with authentication on, as a deployed controller does, so what it shows is
    the real path: each manager sees and answers for its own project only.
    """
    tokens = {secrets.token_urlsafe(24): TokenGrant(role="admin")}
    for index in range(projects):
        project = f"project-{index + 1}"
        tokens[secrets.token_urlsafe(24)] = TokenGrant(role="member", project=project)
    return tokens


def _tokens_by_owner(tokens: dict[str, TokenGrant]) -> tuple[str, dict[str, str]]:
    admin = next(token for token, grant in tokens.items() if grant.role == "admin")
    members = {grant.project: token for token, grant in tokens.items() if grant.project}
    return admin, members


def run_demo(options: DemoOptions) -> int:
    """Run the demo; 0 when the session ended MAINTENANCE_DONE."""
    if options.timeline_path:
        try:
            check_target(options.timeline_path)
        except TimelineError as exc:
            print(f"fenix demo: {exc}", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="fenix-demo-") as workdir:
        report, timeline = _run(options, Path(workdir))
    if options.report_path:
        Path(options.report_path).write_text(json.dumps(report, indent=2) + "\n")
    _summary(report, options)
    if options.timeline_path:
        print(f"timeline: {write_timeline(options.timeline_path, timeline)}")
    return 0 if report["state"] == "MAINTENANCE_DONE" else 1


def _run(options: DemoOptions, workdir: Path) -> tuple[dict, str]:
    """Run the session; its report, and its timeline as SVG."""
    started_at = to_iso(utcnow())
    t0 = time.monotonic()
    cloud = start_demo_cloud(options)
    tokens = demo_tokens(options.projects)
    settings = Settings(
        database_url=options.database_url or f"sqlite:///{workdir / 'fenix.db'}",
        artifacts_dir=str(workdir / "artifacts"),
        port=0,
        tokens=tokens,
        # The demo's managers listen on this host's loopback, where a controller posts only
        # when the admin allows it (fenix.notify.callbacks); `fenix serve` never does by itself.
        callback_allow_networks=["127.0.0.0/8"],
    )
    admin_token, project_tokens = _tokens_by_owner(tokens)
    runtime = Runtime(settings, driver=cloud.driver())
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
                    instance_action=cloud.manager_actions[index % len(cloud.manager_actions)],
                    cloud=cloud.manager_cloud(),
                    token=project_tokens[f"project-{index + 1}"],
                )
            )
            managers.append(vnfm.start())
        if not options.quiet:
            print(
                f"controller {api.url}, {cloud.label} {cloud.url}, "
                f"{len(managers)} managers; starting the session",
                flush=True,
            )
        http = requests.Session()
        http.headers["X-Auth-Token"] = admin_token
        workflow = options.workflow or cloud.workflow
        if workflow == "vnf":
            _put_vnf_constraints(http, api.url, runtime, managers, options)
        created = http.post(
            f"{api.url}/v1/maintenance",
            json={
                "hosts": [],
                "state": "MAINTENANCE",
                "workflow": workflow,
                "metadata": {"demo": True},
                "actions": [{"plugin": "dummy", "type": "host"}] if options.actions else [],
                **(
                    {"max_hosts_per_zone": options.max_hosts_per_zone}
                    if options.max_hosts_per_zone is not None
                    else {}
                ),
            },
            timeout=10,
        )
        created.raise_for_status()
        session_id = created.json()["session_id"]
        detail = _follow(http, api.url, session_id, options)
        events = FenixClient(api.url, token=admin_token).events(session_id)
        cloud_report = cloud.report()
        report = build_report(
            detail=detail,
            events=events,
            cloud_report=cloud_report,
            manager_messages={m.config.project_id: m.messages for m in managers},
            options=asdict(options),
            started_at=started_at,
            total_seconds=time.monotonic() - t0,
        )
        report["cloud"] = cloud.describe()
        report["constraint_breaches"] = detail.get("constraint_breaches", [])
        return report, render_svg(detail, events)
    finally:
        for vnfm in managers:
            vnfm.stop()
        api.stop()
        runtime.stop()
        cloud.stop()


def _put_vnf_constraints(
    http: requests.Session, url: str, runtime: Runtime, managers: list, options: DemoOptions
) -> None:
    """What each manager tells the vnf workflow: one group per project, one member impacted
    at a time, moved the way its manager answers, a second of notice, a bounded outage."""
    actions = {m.config.project_id: m.config.instance_action for m in managers}
    outage = max(5, round(5 * options.migrate_seconds))
    for project, action in actions.items():
        group = f"{project}-app"
        body = {"project_id": project, "max_impacted_members": 1, "recovery_time": 0}
        http.put(f"{url}/v1/instance_group/{group}", json=body, timeout=10).raise_for_status()
        for instance in runtime.driver.list_instances(project_id=project):
            body = {
                "project_id": project,
                "group_id": group,
                "migration_type": action,
                "max_interruption_time": outage,
                "lead_time": 1,
            }
            response = http.put(f"{url}/v1/instance/{instance.instance_id}", json=body, timeout=10)
            response.raise_for_status()


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
    windows, most, out = report.get("host_timelines", {}), 0, 0
    for step in sorted((s for t in windows.values() for s in t), key=lambda s: s["at"]):
        out += {"IN_MAINTENANCE": 1, "MAINTENANCE_COMPLETE": -1}.get(step["to"], 0)
        most = max(most, out)
    print(
        f"hosts in maintenance at once: up to {most}; "
        f"constraint breaches: {len(report.get('constraint_breaches', []))}"
    )
    print(f"downtime, {report['cloud']['downtime']}:")
    for action, figures in report["downtime_by_action"].items():
        print(
            f"  {action:<13} {figures['instances']:3d} instances, "
            f"max downtime {figures['max_seconds']:.2f} s"
        )
    if options.report_path:
        print(f"report: {options.report_path}")
