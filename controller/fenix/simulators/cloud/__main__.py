"""Run the simulated cloud as its own process: ``python -m fenix.simulators.cloud``.

A separate process keeps the cloud (and its downtime ledger) alive while a controller is killed
and resumed. The first line on stdout is JSON ``{"url": ...}`` so a harness using ``--port 0``
learns where it listens; SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import sys

from fenix.simulators.cli import add_config_options, config_from, serve_until_signalled

from .cloud import SimulatedCloudConfig
from .server import start_sim_cloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fenix.simulators.cloud", description="Serve a simulated cloud."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 takes a free port")
    add_config_options(parser, SimulatedCloudConfig)
    args = parser.parse_args(argv)
    cloud, handle = start_sim_cloud(
        config_from(args, SimulatedCloudConfig), host=args.host, port=args.port
    )

    def stop() -> None:
        handle.stop()
        cloud.close()

    return serve_until_signalled({"url": handle.url}, stop)


if __name__ == "__main__":
    sys.exit(main())
