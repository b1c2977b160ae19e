"""Following a session while it runs: its percent done, its current step, and what happens.

`follow` polls the controller and hands each new view to a display: a rich progress bar on a
terminal, one line per change when the output is a file or a pipe, or JSON lines for scripts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from fenix.client.http import FenixClient

FINAL = ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")
REPLY_STEPS = frozenset(
    {
        "MAINTENANCE",
        "SCALE_IN",
        "PREPARE_MAINTENANCE",
        "PLANNED_MAINTENANCE",
        "MAINTENANCE_COMPLETE",
    }
)

Update = Callable[[dict[str, Any], list[dict[str, Any]]], None]


@dataclass
class Outcome:
    detail: dict[str, Any]
    timed_out: bool = False


def follow(
    client: FenixClient,
    session_id: str,
    on_update: Update,
    *,
    interval: float = 1.0,
    timeout: float | None = None,
) -> Outcome:
    """Poll until the session ends (or `timeout` seconds pass), calling `on_update` each time.

    Each poll sends the ETags of the last answers: while nothing changed the controller answers
    304 from the session's change counter, and the last detail is shown again.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    log = _EventLog(client, session_id)
    detail: dict[str, Any] | None = None
    detail_tag: str | None = None
    while True:
        # The events first: the detail read after them shows at least what they tell, so a
        # reply printed is not followed by a line still waiting for it.
        events = log.new_events()
        fresh, detail_tag = client.detail_if_changed(session_id, detail_tag)
        detail = fresh if fresh is not None else detail
        assert detail is not None  # the first read has no tag to send
        if detail["state"] in FINAL:
            events += log.new_events()
        on_update(detail, events)
        if detail["state"] in FINAL:
            return Outcome(detail)
        if deadline is not None and time.monotonic() >= deadline:
            return Outcome(detail, timed_out=True)
        time.sleep(interval)


class _EventLog:
    """The session's events read a page at a time, each poll asking only after the last one."""

    def __init__(self, client: FenixClient, session_id: str) -> None:
        self.client = client
        self.session_id = session_id
        self.since = 0
        self._tag: str | None = None

    def new_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while True:
            page, self._tag = self.client.events_page(self.session_id, self.since, self._tag)
            if page is None:  # 304: none since the last poll
                return events
            events += page["events"]
            self.since = page.get("next", events[-1]["id"] if events else self.since)
            if not page.get("more"):
                return events


def current_step(detail: dict[str, Any]) -> str:
    """What the session is doing now, in one line (the web page says the same)."""
    if detail["state"] == "MAINTENANCE_DONE":
        return "done: every host maintained"
    if detail["state"] == "MAINTENANCE_FAILED":
        return f"failed: {detail.get('error') or 'see the event log'}"
    parts = []
    for host in detail.get("hosts", []):
        if host["state"] == "PREPARING":
            parts.append(f"{host['name']}: moving its instances away")
        elif host["state"] == "IN_MAINTENANCE":
            parts.append(f"{host['name']}: in maintenance")
    for run in detail.get("action_runs", []):
        if run["state"] == "RUNNING":
            parts.append(f"playbook {run['plugin']} on {', '.join(run['hosts'])}")
    for project in detail.get("projects", []):
        if project["reply"] is None and project["step"] in REPLY_STEPS:
            parts.append(f"waiting for {project['project_id']} to answer {project['step']}")
    return "; ".join(parts) or "working"


def describe_event(event: dict[str, Any], *, everything: bool = False) -> str | None:
    """One line for an event worth showing while watching; None for the routine ones."""
    kind, subject, old, new = event["kind"], event["subject"], event["old"], event["new"]
    data = event.get("data") or {}
    if kind == "session.state":
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return f"session {old} -> {new}{reason}"
    if kind == "host.state":
        return f"{subject}: {old} -> {new}"
    if kind == "session.paused":
        why = f": {data['reason']}" if data.get("reason") else ""
        return f"session paused by {data.get('by')}{why}"
    if kind == "session.resumed":
        return f"session resumed by {data.get('by')} after {data.get('paused_seconds')} s"
    if kind == "session.held":
        return f"holding: {data.get('reason')}"
    if kind == "session.hold_ended":
        return "going on"
    if kind == "project.reply":
        return f"{subject} answered {new}"
    if kind == "project.reply.timeout":
        return f"{subject} did not answer {new} in time"
    if kind == "project.no_manager":
        return f"{subject} has no manager: default behaviour for {new}"
    if kind == "project.reply.rejected":
        return f"{subject}: reply {new} refused: {data.get('reason', '')}"
    if kind == "action.end" and new != "DONE":
        return f"playbook {subject} {new}: {data.get('message') or ''}".rstrip(": ")
    if kind == "notification.dead":
        return f"delivery to {data.get('callback_url', subject)} given up: {data.get('error')}"
    if kind == "instance.action" and new in ("STARTING", "FAILED"):
        details = data.get("details") or {}
        if new == "FAILED":
            return f"{subject}: move failed"
        if everything:
            target = details.get("target") or "?"
            return f"{subject}: {data.get('action')} {data.get('action_from')} -> {target}"
        return None
    if everything:
        change = " -> ".join(part for part in (old, new) if part)
        return f"{kind} {subject or ''} {change}".strip()
    return None


# -- displays --------------------------------------------------------------------------------
class LineDisplay:
    """One line per change, for files, pipes and CI logs."""

    def __init__(self, out: IO[str], *, everything: bool = False) -> None:
        self.out = out
        self.everything = everything
        self.started = time.monotonic()
        self._last: tuple | None = None

    def __call__(self, detail: dict[str, Any], events: list[dict[str, Any]]) -> None:
        elapsed = time.monotonic() - self.started
        for event in events:
            line = describe_event(event, everything=self.everything)
            if line:
                print(f"[{elapsed:7.1f}s]   {line}", file=self.out)
        step = current_step(detail)
        shown = (detail["state"], detail["percent_done"], step)
        if shown != self._last:
            print(
                f"[{elapsed:7.1f}s] {_bar(detail['percent_done'])} {detail['percent_done']:3d}% "
                f"{detail['state']}: {step}",
                file=self.out,
            )
            self._last = shown
        self.out.flush()


class JsonDisplay:
    """One JSON object per change, for scripts: the last line is the final state."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._last: dict[str, Any] | None = None

    def __call__(self, detail: dict[str, Any], events: list[dict[str, Any]]) -> None:
        line = {
            "session_id": detail["session_id"],
            "state": detail["state"],
            "percent_done": detail["percent_done"],
            "step": current_step(detail),
            "hosts": {host["name"]: host["state"] for host in detail.get("hosts", [])},
            "error": detail.get("error"),
        }
        if line != self._last:
            print(json.dumps(line), file=self.out, flush=True)
            self._last = line


class RichDisplay:
    """A live progress bar with the current step, and the notable events printed above it."""

    def __init__(self, console: Any, *, everything: bool = False) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.everything = everything
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[state]}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("starting", total=100, state="")

    def __enter__(self) -> RichDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def __call__(self, detail: dict[str, Any], events: list[dict[str, Any]]) -> None:
        for event in events:
            line = describe_event(event, everything=self.everything)
            if line:
                self.progress.console.print(f"  {line}", highlight=False, markup=False)
        self.progress.update(
            self.task,
            completed=detail["percent_done"],
            description=current_step(detail),
            state=detail["state"],
        )


def _bar(percent: int, width: int = 20) -> str:
    filled = round(width * max(0, min(percent, 100)) / 100)
    return "[" + "#" * filled + "." * (width - filled) + "]"
