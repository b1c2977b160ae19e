"""Running a session's action plug-ins: in their order, recorded, with their events in the log.

Per-host plug-ins get all the hosts of a step in one ansible-runner invocation, so Ansible's
start-up cost is paid once per step, not once per host.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from fenix.actions import leftovers
from fenix.actions.download import DownloadFailed, fetch_plugins
from fenix.actions.plugins import PluginNotFound, missing_plugins, resolve_playbook
from fenix.actions.runner import TaskResult, UnsafeHostName, check_host_names, run_playbook
from fenix.timeutil import utcnow

LOG = logging.getLogger(__name__)


class ActionFailed(Exception):
    """An action plug-in failed; the message names the plug-in and its failing task."""


class RunLeftUnchecked(Exception):
    """A run left RUNNING by a dead engine on another machine: its processes cannot be seen."""


class ActionLauncher:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings

    def artifacts_root(self) -> Path:
        return Path(self.settings.artifacts_dir)

    def settle_left_runs(self, session_id: str, engine_id: str) -> None:
        """End the runs an engine that stopped left RUNNING, before this one decides anything.

        A run's processes are ended (they outlived their controller) and the run is marked
        INTERRUPTED with the reason, so a plug-in never runs twice at once on a host. A run
        launched on another machine cannot be checked from here: RunLeftUnchecked says so, and
        the session is failed for the admin to check that machine and resume it.
        """
        node = socket.gethostname()
        with self.runtime.db.transaction() as repo:
            left = [
                (run.id, run.plugin, run.engine_id, run.node)
                for run in repo.running_action_runs(session_id)
            ]
        for run_id, plugin, previous_engine, run_node in left:
            if run_node not in (None, node) or not leftovers.can_see_processes():
                reason = (
                    f"engine {previous_engine} stopped during this run on {run_node}; "
                    f"engine {engine_id} on {node} cannot see whether its ansible-playbook "
                    "still runs there"
                )
                self._mark_interrupted(session_id, run_id, plugin, reason)
                raise RunLeftUnchecked(
                    f"action plug-in {plugin} (run {run_id}) may still be running on "
                    f"{run_node}: check that machine, then resume the session"
                )
            pids = leftovers.marked_processes(leftovers.run_marker(session_id, run_id))
            if pids:
                leftovers.end_processes(pids)
                fate = f"its processes {pids} were ended by engine {engine_id}"
            else:
                fate = "its processes had already ended"
            reason = f"engine {previous_engine} stopped during this run; {fate}"
            LOG.warning("session %s: action run %s interrupted: %s", session_id, run_id, reason)
            self._mark_interrupted(session_id, run_id, plugin, reason)

    def _mark_interrupted(self, session_id: str, run_id: int, plugin: str, reason: str) -> None:
        with self.runtime.db.transaction() as repo:
            run = repo.get_action_run(run_id)
            if run is None or run.state != "RUNNING":
                return
            run.state = "INTERRUPTED"
            run.message = reason
            run.finished_at = utcnow()
            repo.add_event(
                session_id,
                "action.end",
                plugin,
                "RUNNING",
                "INTERRUPTED",
                {"run_id": run_id, "rc": None, "message": reason},
            )

    def prepare_session_plugins(self, ctx) -> None:
        """Download the session's plug-ins and find each one, before anything is touched.

        ActionFailed names the plug-ins that cannot run, so a session fails at its start and
        not after it emptied a host.
        """
        with ctx.db.transaction() as repo:
            session = repo.get_session(ctx.session_id, with_deleted=True)
            names = [a.plugin for a in session.actions]
            downloads = list(session.download or [])
        if not names:
            return
        if downloads:
            self._download_once(ctx, downloads)
        missing = missing_plugins(names, self._search_dirs(ctx.session_id))
        if missing:
            raise ActionFailed("action plug-ins that cannot run: " + "; ".join(missing.values()))

    def _search_dirs(self, session_id: str) -> list[Path]:
        plugins = self.artifacts_root() / session_id / "plugins"
        return [plugins, *map(Path, self.settings.action_dirs)]

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

    def run_gates(self, ctx, stage: str, hosts: list[str]) -> str | None:
        """Run the session's `gate` plug-ins over `hosts` (with `fenix_gate_stage`): None when
        every one passed, else the first failure, which means unhealthy."""
        with ctx.db.transaction() as repo:
            session = repo.get_session(ctx.session_id, with_deleted=True)
            plugins = [(a.plugin, dict(a.meta or {})) for a in session.actions if a.type == "gate"]
            meta = dict(session.meta or {})
            downloads = list(session.download or [])
        if plugins and downloads:
            self._download_once(ctx, downloads)
        for plugin, plugin_meta in plugins:
            ctx.check_stop()
            try:
                self._run_one(
                    ctx, plugin, "gate", {**plugin_meta, "fenix_gate_stage": stage}, meta, hosts
                )
            except ActionFailed as exc:
                return str(exc)
        return None

    def _download_once(self, ctx, urls: list[str]) -> None:
        """Fetch the session's plug-in bundles before its first plug-in runs."""
        target = self.artifacts_root() / ctx.session_id / "plugins"
        marker = target / ".downloaded"
        if marker.exists():
            return
        try:
            names = fetch_plugins(
                urls,
                target,
                allow_http=self.settings.allow_http_downloads,
                allow_unverified=self.settings.allow_unverified_downloads,
            )
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
            playbook = resolve_playbook(plugin, self._search_dirs(ctx.session_id))
            check_host_names(hosts)
        except (PluginNotFound, UnsafeHostName) as exc:
            raise ActionFailed(str(exc)) from None
        with ctx.db.transaction() as repo:
            run = repo.add_action_run(
                ctx.session_id, plugin, type_, hosts, engine_id=ctx.owner, node=socket.gethostname()
            )
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
            marker=leftovers.run_marker(ctx.session_id, run_id),
        )
        with ctx.db.transaction() as repo:
            run = repo.get_action_run(run_id)
            if run.state != "RUNNING":
                # Another engine took the session over and ended this run: its record stands.
                ctx.stop_event.set()
                ctx.check_stop()
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
