"""Serve a simulated Kubernetes API: ``python -m fenix.simulators.kubernetes``.

The first line on stdout is JSON ``{"url": ...}`` so a harness using ``--port 0`` learns where
it listens; point a kubeconfig's ``server`` there (see inventories/kubernetes/). SIGTERM or
SIGINT stops it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading

from .cluster import SimClusterConfig
from .server import start_sim_cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fenix.simulators.kubernetes",
        description="Serve a simulated Kubernetes API server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 takes a free port")
    parser.add_argument("--token", default=None, help="require this bearer token")
    parser.add_argument(
        "--no-workloads",
        dest="workloads",
        action="store_false",
        help="start with nodes and system namespaces only",
    )
    defaults = SimClusterConfig()
    for f in dataclasses.fields(SimClusterConfig):
        if f.name in ("token", "workloads"):
            continue
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            type=type(getattr(defaults, f.name)),
            default=getattr(defaults, f.name),
        )
    args = parser.parse_args(argv)
    config = SimClusterConfig(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(SimClusterConfig)}
    )
    _cluster, handle = start_sim_cluster(config, host=args.host, port=args.port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps({"url": handle.url}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
