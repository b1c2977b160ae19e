"""Run the simulated cloud as its own process: ``python -m fenix.simulators.cloud``.

A separate process keeps the cloud (and its downtime ledger) alive while a controller is killed
and resumed. The first line on stdout is JSON ``{"url": ...}`` so a harness using ``--port 0``
learns where it listens; SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading

from .cloud import SimulatedCloudConfig
from .server import start_sim_cloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fenix.simulators.cloud", description="Serve a simulated cloud."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 takes a free port")
    defaults = SimulatedCloudConfig()
    for f in dataclasses.fields(SimulatedCloudConfig):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            type=type(getattr(defaults, f.name)),
            default=getattr(defaults, f.name),
        )
    args = parser.parse_args(argv)
    config = SimulatedCloudConfig(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(SimulatedCloudConfig)}
    )
    cloud, handle = start_sim_cloud(config, host=args.host, port=args.port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps({"url": handle.url}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
        cloud.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
