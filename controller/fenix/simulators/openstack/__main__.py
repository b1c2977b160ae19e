"""Run the simulated OpenStack as its own process: ``python -m fenix.simulators.openstack``.

It starts with a scene (compute hosts, a controller, servers of two projects, an anti-affinity
group per project) and prints one JSON line: the URL and the clouds.yaml entry that reaches it,
so ``openstack --os-cloud``-style tools and the openstack driver can be tried with no cloud.
SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse

from fenix.simulators.cli import serve_until_signalled

from .app import start_simulator
from .cloud import SimulatedOpenStack, SimulatorConfig
from .keystone import clouds_yaml_entry


def populate(sim: SimulatedOpenStack, computes: int, vcpus: int, servers_per_host: int) -> None:
    """compute-0..N-1, controller-0, and servers of project-a/-b spread over the computes."""
    for n in range(computes):
        sim.add_compute_host(f"compute-{n}", vcpus=vcpus)
    sim.add_controller_host("controller-0")
    flavor = sim.add_flavor("m1.small", vcpus=1)
    groups = {
        p: sim.add_server_group(f"{p}-ha", "anti-affinity", p) for p in ("project-a", "project-b")
    }
    for n in range(computes):
        for k in range(servers_per_host):
            project = ("project-a", "project-b")[k % 2]
            # One member per group on each of the first two hosts keeps anti-affinity satisfiable.
            group = groups[project] if n < 2 and k < 2 else None
            sim.add_server(f"{project}-vm-{n}-{k}", project, f"compute-{n}", flavor, group)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fenix.simulators.openstack",
        description="Serve a simulated Keystone v3 and Nova for the openstack driver.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 takes a free port")
    parser.add_argument("--computes", type=int, default=3)
    parser.add_argument("--vcpus", type=int, default=8)
    parser.add_argument("--servers-per-host", type=int, default=2)
    parser.add_argument("--max-microversion", default=SimulatorConfig.max_microversion)
    parser.add_argument("--move-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        max_microversion=args.max_microversion,
        live_migrate_seconds=args.move_seconds,
        migrate_seconds=args.move_seconds,
        confirm_seconds=args.move_seconds / 4,
        delete_seconds=args.move_seconds / 4,
    )
    sim, handle = start_simulator(config, host=args.host, port=args.port)
    populate(sim, args.computes, args.vcpus, args.servers_per_host)

    def stop() -> None:
        handle.stop()
        sim.close()

    first_line = {"url": handle.url, "cloud": clouds_yaml_entry(sim, handle.url)}
    return serve_until_signalled(first_line, stop)


if __name__ == "__main__":
    raise SystemExit(main())
