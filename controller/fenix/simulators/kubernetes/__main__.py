"""Serve a simulated Kubernetes API: ``python -m fenix.simulators.kubernetes``.

The first line on stdout is JSON ``{"url": ...}`` so a harness using ``--port 0`` learns where
it listens; point a kubeconfig's ``server`` there (see inventories/kubernetes/). SIGTERM or
SIGINT stops it.
"""

from __future__ import annotations

import argparse
import sys

from fenix.simulators.cli import add_config_options, config_from, serve_until_signalled

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
    add_config_options(parser, SimClusterConfig, skip=("token", "workloads"))
    args = parser.parse_args(argv)
    _cluster, handle = start_sim_cluster(
        config_from(args, SimClusterConfig), host=args.host, port=args.port
    )
    return serve_until_signalled({"url": handle.url}, handle.stop)


if __name__ == "__main__":
    sys.exit(main())
