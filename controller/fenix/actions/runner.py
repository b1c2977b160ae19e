"""The one place a playbook is launched: ansible-runner with a private data dir per run.

The private data dir (inventory, extra vars, artifacts) is the whole contract of a run, so a
run can be inspected afterwards. Runner events are handed to a callback as plain dicts.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

from fenix.actions.leftovers import RUN_MARKER
from fenix.actions.plugins import collection_root

EventCallback = Callable[[dict[str, Any]], None]
_RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass(frozen=True)
class TaskResult:
    host: str
    task: str
    status: str
    changed: bool
    message: str | None


@dataclass(frozen=True)
class PlaybookOutcome:
    rc: int
    status: str
    artifacts_dir: str
    failures: list[TaskResult]

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.status == "successful"

    def error(self) -> str:
        if self.failures:
            first = self.failures[0]
            return f"task '{first.task}' {first.status} on {first.host}: {first.message}"
        return f"ansible-playbook ended {self.status} (rc {self.rc})"


class UnsafeHostName(ValueError):
    """A host name Ansible would read as a pattern (glob, regex, exclusion), not as a name."""


_PATTERN_FIRST = ("!", "&", "~")
_PATTERN_CHARACTERS = set("*?[]\n\r")


class _DataDumper(yaml.SafeDumper):
    """YAML in which every string is `!unsafe`: Ansible reads it as data, never as a template.

    Extra vars carry what the API, the cloud and managers sent (session metadata, host names);
    ansible-core would otherwise evaluate `{{ lookup('pipe', ...) }}` found in them.
    """


def _unsafe_string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("!unsafe", value, style='"')


_DataDumper.add_representer(str, _unsafe_string)


def write_extravars(private_data_dir: Path, extravars: dict[str, Any]) -> Path:
    """`env/extravars` of the run, every string value marked unsafe (keys are only names)."""
    path = private_data_dir / "env" / "extravars"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(
        {str(key): value for key, value in extravars.items()},
        Dumper=_DataDumper,
        allow_unicode=True,
        sort_keys=False,
    )
    # Keys must stay plain: a variable's name is never a template, and !unsafe keys are refused.
    path.write_text(text)
    path.chmod(0o600)
    return path


def check_host_names(hosts: list[str]) -> None:
    """UnsafeHostName for names a limit pattern would not take literally."""
    unsafe = [
        host
        for host in hosts
        if not host
        or host != host.strip()
        or host.startswith(_PATTERN_FIRST)
        or _PATTERN_CHARACTERS & set(host)
    ]
    if unsafe:
        raise UnsafeHostName(
            f"host names that Ansible would read as patterns, not names: {unsafe!r}; "
            "rename them in the inventory or leave them out of the session"
        )


def write_limit(private_data_dir: Path, hosts: list[str]) -> Path:
    """`--limit @file`: one host per line, so a `,` or `:` in a name cannot split it."""
    check_host_names(hosts)
    path = private_data_dir / "env" / "limit"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{host}\n" for host in hosts))
    return path


def _bin_dir() -> str:
    """The interpreter's bin dir: ansible-playbook is there even in a venv not activated."""
    return str(Path(sys.executable).parent)


def _link_collection(private_data_dir: Path) -> Path | None:
    """Make fenix.maintenance importable by FQCN (its roles and modules) for this run."""
    root = collection_root()
    if root is None:
        return None
    path = private_data_dir / "collections"
    link = path / "ansible_collections" / "fenix" / "maintenance"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(root, target_is_directory=True)
    return path


def _message(result: dict[str, Any]) -> str | None:
    """The task's message; for a loop, the messages of the items that failed."""
    failed_items = [
        item.get("msg")
        for item in result.get("results") or []
        if isinstance(item, dict) and item.get("failed") and item.get("msg")
    ]
    if failed_items:
        return "; ".join(str(m) for m in failed_items)
    return result.get("msg")


def task_result(event: dict[str, Any]) -> TaskResult | None:
    """A task's result on a host, from a runner event; None for other events."""
    status = _RESULT_EVENTS.get(event.get("event", ""))
    if status is None:
        return None
    data = event.get("event_data", {})
    result = data.get("res") or {}
    message = _message(result) if isinstance(result, dict) else None
    return TaskResult(
        host=data.get("host", "?"),
        task=data.get("task", "?"),
        status=status,
        changed=bool(isinstance(result, dict) and result.get("changed")),
        message=str(message) if message is not None else None,
    )


def run_playbook(
    playbook: Path,
    *,
    hosts: list[str],
    extravars: dict[str, Any],
    private_data_dir: Path,
    inventory: str | dict[str, Any] | None = None,
    on_task: Callable[[TaskResult], None] | None = None,
    marker: str | None = None,
) -> PlaybookOutcome:
    """Run `playbook` over `hosts`; with no inventory, every host runs on this machine.

    `marker` goes into the environment of every process of the run (`RUN_MARKER`), so they
    can be found and ended if this controller dies during the run.
    """
    private_data_dir.mkdir(parents=True, exist_ok=True)
    project = private_data_dir / "project"
    project.mkdir(exist_ok=True)
    shutil.copy(playbook, project / playbook.name)
    if inventory is None:
        inventory = {
            "all": {
                "hosts": {
                    host: {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                    }
                    for host in hosts
                }
            }
        }
    failures: list[TaskResult] = []
    envvars = {
        "PATH": f"{_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    if marker is not None:
        envvars[RUN_MARKER] = marker
    collections = _link_collection(private_data_dir)
    if collections:
        others = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "~/.ansible/collections")
        envvars["ANSIBLE_COLLECTIONS_PATH"] = f"{collections}{os.pathsep}{others}"

    def handle(event: dict[str, Any]) -> bool:
        result = task_result(event)
        if result is not None:
            if result.status in ("failed", "unreachable"):
                failures.append(result)
            if on_task is not None:
                on_task(result)
        return True

    write_extravars(private_data_dir, extravars)
    limit = write_limit(private_data_dir, hosts) if hosts else None
    run = ansible_runner.run(
        private_data_dir=str(private_data_dir),
        playbook=playbook.name,
        inventory=inventory,
        limit=f"@{limit}" if limit else None,
        envvars=envvars,
        event_handler=handle,
        quiet=True,
    )
    return PlaybookOutcome(
        rc=run.rc if run.rc is not None else -1,
        status=run.status,
        artifacts_dir=str(run.config.artifact_dir),
        failures=failures,
    )
