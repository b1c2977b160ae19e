"""What the simulators' ``python -m`` entry points share: options from a config dataclass, and
serving until SIGTERM or SIGINT with the address on the first line of stdout."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

Config = TypeVar("Config")


def add_config_options(
    parser: argparse.ArgumentParser, config_type: type, skip: Iterable[str] = ()
) -> None:
    """An option per field of the dataclass (``--migrate-seconds`` for ``migrate_seconds``),
    typed and defaulted as the field's default is."""
    defaults = config_type()
    for field in dataclasses.fields(config_type):
        if field.name in skip:
            continue
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=field.name,
            type=type(getattr(defaults, field.name)),
            default=getattr(defaults, field.name),
        )


def config_from(args: argparse.Namespace, config_type: Callable[..., Config]) -> Config:
    """The dataclass from the options of add_config_options (and any of the same names)."""
    names = [f.name for f in dataclasses.fields(config_type)]  # type: ignore[arg-type]
    return config_type(**{name: getattr(args, name) for name in names if hasattr(args, name)})


def serve_until_signalled(first_line: dict[str, Any], stop_serving: Callable[[], None]) -> int:
    """Print `first_line` as JSON (so a harness that asked for port 0 learns where it is), wait
    for SIGTERM or SIGINT, then stop."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps(first_line), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        stop_serving()
    return 0
