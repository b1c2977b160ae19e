"""`fenix session create|list|show|watch|delete`: the admin API from a shell or a script.

Exit codes tell success from failure:

- 0: done (for watch: the session ended MAINTENANCE_DONE);
- 1: the session ended MAINTENANCE_FAILED (watch, and create --watch);
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
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from fenix.client.http import DEFAULT_URL, ControllerError, FenixClient, Unreachable
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
        help="create, list, show, watch or delete maintenance sessions on a controller",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = session.add_subparsers(dest="session_command", required=True)

    create = actions.add_parser("create", parents=[common], help="start a maintenance session")
    create.add_argument(
        "--host",
        dest="hosts",
        action="append",
        default=None,
        help="a host to maintain (repeatable); none: every compute host",
    )
    create.add_argument("--workflow", default=None, help="workflow plug-in (default: default)")
    create.add_argument(
        "--at", dest="maintenance_at", default=None, help="start time, UTC (default: now)"
    )
    create.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="session metadata (repeatable); VALUE is JSON when it parses as JSON",
    )
    create.add_argument(
        "--action",
        action="append",
        default=[],
        metavar="PLUGIN:TYPE",
        help="an action plug-in to run, e.g. os_upgrade:host (repeatable)",
    )
    create.add_argument(
        "--download", action="append", default=[], metavar="URL", help="plug-in bundle URL"
    )
    create.add_argument(
        "--from-file",
        metavar="FILE",
        help="the request body as JSON ('-' for stdin); the options above override its fields",
    )
    create.add_argument("--watch", action="store_true", help="then watch it until it ends")
    _add_watch_options(create)

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
    return body


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
    _table(out, ("SESSION", "STATE", "DONE", "WORKFLOW", "CREATED"), rows)
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
    print(file=out)
    _table(
        out,
        ("HOST", "KIND", "STATE", "OUT OF SERVICE", "MAINTAINED"),
        [
            (h["name"], h["kind"], h["state"], _yes(h["disabled"]), _yes(h["maintained"]))
            for h in detail["hosts"]
        ],
    )
    if detail["projects"]:
        print(file=out)
        _table(
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
        _table(
            out,
            ("PLUG-IN", "TYPE", "HOSTS", "STATE", "RC"),
            [
                (r["plugin"], r["type"], ",".join(r["hosts"]), r["state"], _text(r["rc"]))
                for r in detail["action_runs"]
            ],
        )
    return OK


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
    if args.json:
        print(json.dumps(answer), file=out)
    else:
        print(
            f"session {answer['session_id']} deleted (it was {answer['state']}); "
            "it stops at a safe point and gives its hosts back",
            file=out,
        )
    return OK


_COMMANDS = {
    "create": _create,
    "list": _list,
    "show": _show,
    "watch": _watch,
    "delete": _delete,
}


# -- plain tables ----------------------------------------------------------------------------
def _table(out: IO[str], header: tuple[str, ...], rows: Sequence[Sequence[object]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        line = "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip(), file=out)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _text(value: object) -> str:
    return "-" if value is None else str(value)
