"""Running a session's action plug-ins: in their order, recorded, with their events in the log.

Per-host plug-ins get all the hosts of a step in one ansible-runner invocation, so Ansible's
start-up cost is paid once per step, not once per host.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fenix.actions.download import DownloadFailed, fetch_plugins
from fenix.actions.plugins import PluginNotFound, resolve_playbook
from fenix.actions.runner import TaskResult, run_playbook
from fenix.timeutil import utcnow

LOG = logging.getLogger(__name__)


class ActionFailed(Exception):
    """An action plug-in failed; the message names the plug-in and its failing task."""


class ActionLauncher:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings

    def artifacts_root(self) -> Path:
        return Path(self.settings.artifacts_dir)

    def run_session_actions(self, ctx, types: list[str], hosts: list[str]) -> None:
        """Run the session's plug-ins whose type is in `types`, in the session's order."""
        with ctx.db.transaction() as repo:
            session = repo.get_session(ctx.session_id, with_deleted=True)
            plugins = [
                (a.plugin, a.type, dict(a.meta or {})) for a in session.actions if a.type in types
            ]
            meta = dict(session.meta or {})
            downloads = list(session.download or [])
        if plugins and downloads:
            self._download_once(ctx, downloads)
        for plugin, type_, plugin_meta in plugins:
            ctx.check_stop()
            self._run_one(ctx, plugin, type_, plugin_meta, meta, hosts)

    def _download_once(self, ctx, urls: list[str]) -> None:
        """Fetch the session's plug-in bundles before its first plug-in runs."""
        target = self.artifacts_root() / ctx.session_id / "plugins"
        marker = target / ".downloaded"
        if marker.exists():
            return
        try:
            names = fetch_plugins(urls, target)
        except DownloadFailed as exc:
            raise ActionFailed(str(exc)) from None
        marker.touch()
        with ctx.db.transaction() as repo:
            repo.add_event(
                ctx.session_id,
                "action.download",
                None,
                None,
                "DONE",
                {"urls": urls, "plugins": names},
            )

    def _run_one(
        self, ctx, plugin: str, type_: str, plugin_meta: dict, session_meta: dict, hosts: list[str]
    ) -> None:
        session_dir = self.artifacts_root() / ctx.session_id
        try:
            playbook = resolve_playbook(
                plugin, [session_dir / "plugins", *map(Path, self.settings.action_dirs)]
            )
        except PluginNotFound as exc:
            raise ActionFailed(str(exc)) from None
        with ctx.db.transaction() as repo:
            run = repo.add_action_run(ctx.session_id, plugin, type_, hosts)
            run_id = run.id
            repo.add_event(
                ctx.session_id,
                "action.start",
                plugin,
                None,
                "RUNNING",
                {"run_id": run_id, "type": type_, "hosts": hosts, "playbook": str(playbook)},
            )

        def record(result: TaskResult) -> None:
            with ctx.db.transaction() as repo:
                repo.add_event(
                    ctx.session_id,
                    "action.task",
                    result.host,
                    None,
                    result.status,
                    {
                        "run_id": run_id,
                        "plugin": plugin,
                        "task": result.task,
                        "changed": result.changed,
                        "message": result.message,
                    },
                )

        extravars = {
            **plugin_meta,
            "fenix_session_id": ctx.session_id,
            "fenix_action_type": type_,
            "fenix_action_plugin": plugin,
            "fenix_hosts": hosts,
            "fenix_session_metadata": session_meta,
            "fenix_controller_url": self.settings.controller_url(),
        }
        outcome = run_playbook(
            playbook,
            hosts=hosts,
            extravars=extravars,
            private_data_dir=session_dir / f"run-{run_id}",
            inventory=self.settings.action_inventory,
            on_task=record,
        )
        with ctx.db.transaction() as repo:
            run = repo.get_action_run(run_id)
            run.rc = outcome.rc
            run.state = "DONE" if outcome.ok else "FAILED"
            run.message = None if outcome.ok else outcome.error()
            run.artifacts_dir = outcome.artifacts_dir
            run.finished_at = utcnow()
            repo.add_event(
                ctx.session_id,
                "action.end",
                plugin,
                "RUNNING",
                run.state,
                {"run_id": run_id, "rc": outcome.rc, "message": run.message},
            )
        if not outcome.ok:
            raise ActionFailed(f"action plug-in {plugin} ({type_}) failed: {outcome.error()}")
