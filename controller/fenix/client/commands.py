"""`fenix session create|plan|list|show|watch|pause|resume|delete`: the admin API from a shell
or a script.

Exit codes tell success from failure:

- 0: done (for watch: the session ended MAINTENANCE_DONE);
- 1: the session ended MAINTENANCE_FAILED (watch, and create --watch), or its plan cannot go
  to the end (plan: it says why);
- 2: a usage error, no controller at the URL, or the controller refused the request (its
  message is printed);
- 3: watch --timeout ran out while the session was still running.

`--json` prints JSON on stdout (watch: one object per change, the last one final) and keeps
messages for people on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from fenix.client.http import DEFAULT_URL, ControllerError, FenixClient, Unreachable
from fenix.client.plan import print_plan
from fenix.client.tables import table
from fenix.client.watch import (
    JsonDisplay,
    LineDisplay,
    Outcome,
    RichDisplay,
    Update,
    current_step,
    follow,
)

OK = 0
SESSION_FAILED = 1
PLAN_BLOCKED = 1
USAGE = 2
TIMED_OUT = 3


class UsageError(Exception):
    """The arguments cannot make a request; the message says which and why."""


def add_session_parser(commands: Any) -> None:
    """Add `session` and its subcommands to the `fenix` command's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("FENIX_URL", DEFAULT_URL),
        help=f"the controller (env FENIX_URL; default {DEFAULT_URL})",
    )
    common.add_argument(
        "--token",
        default=os.environ.get("FENIX_TOKEN"),
        help="API token sent as X-Auth-Token (env FENIX_TOKEN)",
    )
    common.add_argument("--json", action="store_true", help="print JSON, for scripts")
    common.add_argument(
        "--http-timeout", type=float, default=10.0, help="seconds to wait for each answer"
    )

    session = commands.add_parser(
        "session",
        help="create, plan, list, show, watch, pause, resume or delete maintenance sessions on "
        "a controller",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = session.add_subparsers(dest="session_command", required=True)

    body = argparse.ArgumentParser(add_help=False)
    body.add_argument(
        "--host",
        dest="hosts",
        action="append",
        default=None,
        help="a host to maintain (repeatable); none: every compute host",
    )
    body.add_argument("--workflow", default=None, help="workflow plug-in (default: default)")
    body.add_argument(
        "--at", dest="maintenance_at", default=None, help="start time, UTC (default: now)"
    )
    body.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="session metadata (repeatable); VALUE is JSON when it parses as JSON",
    )
    body.add_argument(
        "--action",
        action="append",
        default=[],
        metavar="PLUGIN:TYPE",
        help="an action plug-in to run, e.g. os_upgrade:host (repeatable)",
    )
    body.add_argument(
        "--download", action="append", default=[], metavar="URL", help="plug-in bundle URL"
    )
    body.add_argument(
        "--window",
        action="append",
        default=[],
        metavar="START/END",
        help="a maintenance window, UTC, e.g. '2030-01-04 22:00:00/2030-01-05 04:00:00' "
        "(repeatable): new hosts start only inside a window",
    )
    body.add_argument(
        "--weekly",
        action="append",
        default=[],
        metavar="DAYS@HH:MM-HH:MM",
        help="a weekly window, UTC, e.g. sat,sun@22:00-04:00 (repeatable; past midnight when "
        "the end is earlier)",
    )
    body.add_argument(
        "--max-hosts-per-zone",
        type=int,
        default=None,
        metavar="N",
        help="at most N hosts of one zone out of service at once",
    )
    body.add_argument(
        "--from-file",
        metavar="FILE",
        help="the request body as JSON ('-' for stdin); the options above override its fields",
    )

    create = actions.add_parser(
        "create", parents=[common, body], help="start a maintenance session"
    )
    create.add_argument("--watch", action="store_true", help="then watch it until it ends")
    _add_watch_options(create)

    plan = actions.add_parser(
        "plan",
        parents=[common, body],
        help="the plan of a session, without starting it: hosts, waves, moves, makespan",
    )
    plan.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="WHAT=SECONDS",
        help="seconds the estimate assumes, e.g. maintain=900 or live_migrate=20 (repeatable; "
        "live_migrate, migrate, evict, own_action, maintain, answer)",
    )

    actions.add_parser("list", parents=[common], help="list the sessions")

    show = actions.add_parser("show", parents=[common], help="one session in detail")
    show.add_argument("session_id")

    watch = actions.add_parser(
        "watch", parents=[common], help="follow a session until it ends, with a progress bar"
    )
    watch.add_argument("session_id")
    _add_watch_options(watch)

    delete = actions.add_parser(
        "delete", parents=[common], help="end a session (it stops at a safe point)"
    )
    delete.add_argument("session_id")

    pause = actions.add_parser(
        "pause",
        parents=[common],
        help="hold a session at its next safe point: no new host, no new move; what is in "
        "flight finishes",
    )
    pause.add_argument("session_id")
    pause.add_argument("--reason", default=None, help="why, for its detail and timeline")

    resume = actions.add_parser("resume", parents=[common], help="let a paused session go on")
    resume.add_argument("session_id")


def _add_watch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument(
        "--timeout", type=float, default=None, help="give up after this many seconds (exit 3)"
    )
    parser.add_argument("--all-events", action="store_true", help="print every event")


def run_session_command(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Run one `fenix session` subcommand; returns the exit code."""
    out = out or sys.stdout
    client = FenixClient(args.url, token=args.token, timeout=args.http_timeout)
    try:
        return _COMMANDS[args.session_command](client, args, out)
    except UsageError as exc:
        _complain(f"fenix session {args.session_command}: {exc}")
    except Unreachable as exc:
        _complain(f"{exc}\nIs the controller running? Set --url or FENIX_URL.")
    except ControllerError as exc:
        hint = ""
        if exc.status == 401:
            hint = "\nGive a token with --token or FENIX_TOKEN."
        _complain(f"the controller refused ({exc.status}): {exc.message}{hint}")
    finally:
        client.close()
    return USAGE


def _complain(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the subcommands ---------------------------------------------------------------------------
def _create(client: FenixClient, args: argparse.Namespace, out: IO[str]) -> int:
    session_id = client.create_session(_create_body(args))
    if args.json and not args.watch:
        print(json.dumps({"session_id": session_id}), file=out)
    elif not args.json:
        print(session_id, file=out, flush=True)
    if args.watch:
        return _follow(client, session_id, args, out)
    return OK


def _create_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.from_file:
        body = _read_body(args.from_file)
    body.setdefault("state", "MAINTENANCE")
    body.setdefault("hosts", [])
    if args.hosts:
        body["hosts"] = [name for value in args.hosts for name in value.split(",") if name]
    if args.workflow:
        body["workflow"] = args.workflow
    if args.maintenance_at:
        body["maintenance_at"] = args.maintenance_at
    if args.metadata:
        body["metadata"] = {**body.get("metadata", {}), **_key_values(args.metadata)}
    if args.action:
        body["actions"] = [_action(value) for value in args.action]
    if args.download:
        body["download"] = list(args.download)
    if args.window:
        body["windows"] = [_window(value) for value in args.window]
    if args.weekly:
        body["weekly_windows"] = [_weekly(value) for value in args.weekly]
    if args.max_hosts_per_zone is not None:
        body["max_hosts_per_zone"] = args.max_hosts_per_zone
    return body


def _window(value: str) -> dict[str, str]:
    start, sep, end = value.partition("/")
    if not sep or not start.strip() or not end.strip():
        raise UsageError(f"--window {value!r}: expected START/END, e.g. '{_WINDOW_EXAMPLE}'")
    return {"start": start.strip(), "end": end.strip()}


_WINDOW_EXAMPLE = "2030-01-04 22:00:00/2030-01-05 04:00:00"


def _weekly(value: str) -> dict[str, Any]:
    days, sep, times = value.partition("@")
    start, dash, end = times.partition("-")
    if not sep or not dash or not days.strip():
        raise UsageError(f"--weekly {value!r}: expected DAYS@HH:MM-HH:MM, e.g. sat,sun@22:00-04:00")
    names = [day.strip() for day in days.split(",") if day.strip()]
    return {"days": names, "start": start.strip(), "end": end.strip()}


def _read_body(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UsageError(f"{path} must hold a JSON object (the request body)")
    return body


def _key_values(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata {pair!r}: expected KEY=VALUE")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def _action(value: str) -> dict[str, Any]:
    plugin, sep, type_ = value.partition(":")
    if not sep or not plugin or not type_:
        raise UsageError(f"--action {value!r}: expected PLUGIN:TYPE, e.g. os_upgrade:host")
    return {"plugin": plugin, "type": type_}


def _plan(client: FenixClient, args: argparse.Namespace, out: IO[str]) -> int:
    body = _create_body(args)
    if args.assume:
        body["durations"] = {**body.get("durations", {}), **_seconds(args.assume)}
    plan = client.plan_session(body)
    if args.json:
        print(json.dumps(plan, indent=2), file=out)
    else:
        print_plan(plan, out)
    if plan["blocked"]:
        _complain(f"the plan cannot go to the end: {plan['blocked']}")
        return PLAN_BLOCKED
    return OK


def _seconds(pairs: list[str]) -> dict[str, float]:
    figures: dict[str, float] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        try:
            if not sep or not key:
                raise ValueError(pair)
            figures[key] = float(raw)
        except ValueError:
            raise UsageError(
                f"--assume {pair!r}: expected WHAT=SECONDS, e.g. maintain=900"
            ) from None
    return figures


def _list(client: FenixClient, args: argparse.Namespace, out: IO[str]) -> int:
    summaries = [client.session(session_id) for session_id in client.session_ids()]
    if args.json:
        print(json.dumps(summaries, indent=2), file=out)
        return OK
    if not summaries:
        print("no maintenance sessions", file=out)
        return OK
    rows = [
        (s["session_id"], s["state"], f"{s['percent_done']}%", s["workflow"], s["created_at"])
        for s in summaries
    ]
    table(out, ("SESSION", "STATE", "DONE", "WORKFLOW", "CREATED"), rows)
    return OK


def _show(client: FenixClient, args: argparse.Namespace, out: IO[str]) -> int:
    detail = client.detail(args.session_id)
    if args.json:
        print(json.dumps(detail, indent=2), file=out)
        return OK
    print(f"session   {detail['session_id']}", file=out)
    print(f"state     {detail['state']} ({detail['percent_done']}% done)", file=out)
    print(f"workflow  {detail['workflow']}; created {detail['created_at']}", file=out)
    print(f"now       {current_step(detail)}", file=out)
    if detail.get("error"):
        print(f"error     {detail['error']}", file=out)
    for line in _hold_lines(detail):
        print(line, file=out)
    if detail.get("max_hosts_per_zone") is not None:
        print(f"limit     {detail['max_hosts_per_zone']} host(s) out per zone", file=out)
    print(file=out)
    zones = [(h.get("details") or {}).get("zone") for h in detail["hosts"]]
    header = ("HOST", "KIND", "STATE", "OUT OF SERVICE", "MAINTAINED")
    rows = [
        (h["name"], h["kind"], h["state"], _yes(h["disabled"]), _yes(h["maintained"]))
        for h in detail["hosts"]
    ]
    if any(zones):  # a column only for clouds with zones
        header = (*header, "ZONE")
        rows = [(*row, zone or "-") for row, zone in zip(rows, zones, strict=True)]
    table(out, header, rows)
    if detail["projects"]:
        print(file=out)
        table(
            out,
            ("PROJECT", "STEP", "REPLY", "MANAGER"),
            [
                (
                    p["project_id"],
                    p["step"] or "-",
                    p["reply"] or "(waiting)",
                    _yes(p["has_manager"]),
                )
                for p in detail["projects"]
            ],
        )
    if detail["action_runs"]:
        print(file=out)
        table(
            out,
            ("PLUG-IN", "TYPE", "HOSTS", "STATE", "RC"),
            [
                (r["plugin"], r["type"], ",".join(r["hosts"]), r["state"], _text(r["rc"]))
                for r in detail["action_runs"]
            ],
        )
    return OK


def _hold_lines(detail: dict[str, Any]) -> list[str]:
    """What holds the session, its past pauses and its windows, one line each."""
    lines = []
    paused = detail.get("paused")
    if paused:
        why = f": {paused['reason']}" if paused.get("reason") else ""
        lines.append(f"paused    since {paused['at']} by {paused['by']}{why}")
    held = detail.get("held")
    if held and held["why"] == "window":
        until = f" until {held['until']}" if held.get("until") else " (no window left)"
        lines.append(f"waiting   for a maintenance window{until}")
    for pause in detail.get("pauses", []):
        if pause["resumed_at"]:
            lines.append(
                f"was paused {pause['paused_at']} .. {pause['resumed_at']} by "
                f"{pause['paused_by']}" + (f": {pause['reason']}" if pause["reason"] else "")
            )
    windows = detail.get("windows") or {}
    for window in windows.get("windows", []):
        lines.append(f"window    {window['start']} .. {window['end']}")
    for weekly in windows.get("weekly", []):
        lines.append(f"weekly    {','.join(weekly['days'])} {weekly['start']} .. {weekly['end']}")
    gates = detail.get("gates") or {}
    for gate in gates.get("prometheus", []):
        lines.append(
            f"gate      {gate['name']}: {gate['query']} at {gate['url']} "
            f"({gate['healthy']}, {'/'.join(gate['stages'])})"
        )
    return lines


def _watch(client: FenixClient, args: argparse.Namespace, out: IO[str]) -> int:
    return _follow(client, args.session_id, args, out)


def _follow(client: FenixClient, session_id: str, args: argparse.Namespace, out: IO[str]) -> int:
    def run(display: Update) -> Outcome:
        return follow(client, session_id, display, interval=args.interval, timeout=args.timeout)

    if args.json:
        outcome = run(JsonDisplay(out))
    elif out.isatty():
        from rich.console import Console

        with RichDisplay(Console(file=out), everything=args.all_events) as live:
            outcome = run(live)
    else:
        outcome = run(LineDisplay(out, everything=args.all_events))
    detail = outcome.detail
    if outcome.timed_out:
        _complain(
            f"session {session_id} is still {detail['state']} ({detail['percent_done']}%) "
            f"after {args.timeout:g} s; it goes on without us"
        )
        return TIMED_OUT
    if not args.json:
        print(f"session {session_id}: {detail['state']}", file=out)
    if detail["state"] == "MAINTENANCE_DONE":
        return OK
    _complain(f"session {session_id} failed: {detail.get('error') or 'see its event log'}")
    return SESSION_FAILED


def _delete(client: FenixClient, args: argparse.Namespace, out: IO[str]) -> int:
    answer = client.delete_session(args.session_id)
    return _tell(
        args,
        out,
        answer,
        f"session {answer['session_id']} deleted (it was {answer['state']}); "
        "it stops at a safe point and gives its hosts back",
    )


def _pause(client: FenixClient, args: argparse.Namespace, out: IO[str]) -> int:
    fields: dict[str, Any] = {"action": "pause"}
    if args.reason:
        fields["reason"] = args.reason
    answer = client.update_session(args.session_id, **fields)
    return _tell(
        args,
        out,
        answer,
        f"session {answer['session_id']} paused in {answer['state']}: no new host or move "
        "starts; what is in flight finishes. `fenix session resume` lets it go on",
    )


def _resume(client: FenixClient, args: argparse.Namespace, out: IO[str]) -> int:
    answer = client.update_session(args.session_id, action="resume")
    return _tell(args, out, answer, f"session {answer['session_id']} resumed in {answer['state']}")


def _tell(args: argparse.Namespace, out: IO[str], answer: dict, text: str) -> int:
    """The controller's answer to a change: as it came (--json), or said in a line."""
    print(json.dumps(answer) if args.json else text, file=out)
    return OK


_COMMANDS = {
    "create": _create,
    "plan": _plan,
    "list": _list,
    "show": _show,
    "watch": _watch,
    "delete": _delete,
    "pause": _pause,
    "resume": _resume,
}


# -- cells ------------------------------------------------------------------------------------
def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _text(value: object) -> str:
    return "-" if value is None else str(value)
