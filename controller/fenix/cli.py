"""The `fenix` command: serve the controller, run the demo, run a sample VNFM or simulated cloud."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from fenix.client.commands import add_session_parser, run_session_command
from fenix.logmask import mask_all_handlers

DEMO_HOSTS = 4
DEMO_HOSTS_VNF = 8
"""The simulated cloud has room to empty one host's worth of instances: with 4 hosts that is one
host at a time whatever the workflow, with 8 the vnf workflow maintains several at once."""


def _add_sim_options(parser: argparse.ArgumentParser, *, prefix: str = "sim-") -> None:
    parser.add_argument(f"--{prefix}hosts", type=int, default=None, help="compute hosts")
    parser.add_argument(f"--{prefix}projects", type=int, default=None, help="projects")
    parser.add_argument(
        f"--{prefix}instances", type=int, default=None, help="instances per project"
    )
    parser.add_argument(
        f"--{prefix}zones", type=int, default=None, help="zones the compute hosts are dealt into"
    )


def _add_controller_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 12347)")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (or FENIX_DATABASE_URL)")
    parser.add_argument("--public-url", default=None, help="URL managers use to reach us")
    parser.add_argument("--cloud", choices=["simulated", "openstack", "kubernetes"], default=None)
    parser.add_argument("--os-cloud", default=None, help="openstack: the cloud in clouds.yaml")
    parser.add_argument("--os-region", default=None, help="openstack: the region")
    parser.add_argument("--kubeconfig", default=None, help="kubernetes: the kubeconfig file")
    parser.add_argument("--kube-context", default=None, help="kubernetes: its context")
    parser.add_argument("--sim-url", default=None, help="a running simulated cloud")
    _add_sim_options(parser)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fenix", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the controller: the REST API, and the engine in a process of its own"
    )
    _add_controller_options(serve)
    serve.add_argument("--no-engine", action="store_true", help="API only, run no sessions")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="API processes on the port (default 1; more need PostgreSQL)",
    )
    engine = commands.add_parser(
        "engine",
        help="run sessions and deliver notifications, no API (beside `fenix serve --no-engine`)",
    )
    _add_controller_options(engine)
    worker = commands.add_parser("api-worker", add_help=False)  # started by `fenix serve` only
    worker.add_argument("listen_fd", type=int)

    demo = commands.add_parser("demo", help="a whole maintenance session on a simulated cloud")
    demo.add_argument(
        "--hosts",
        type=int,
        default=None,
        help=f"default {DEMO_HOSTS}; {DEMO_HOSTS_VNF} with --workflow vnf, so that there is room "
        "to maintain several at once",
    )
    demo.add_argument("--projects", type=int, default=2)
    demo.add_argument("--instances", type=int, default=4, help="instances per project")
    demo.add_argument(
        "--cloud",
        choices=["simulated", "openstack-sim", "k8s-sim"],
        default="simulated",
        help="the simulated cloud, or the openstack / kubernetes driver against its simulator",
    )
    demo.add_argument("--workflow", default=None, help="default: k8s on k8s-sim, else default")
    demo.add_argument("--report", default="fenix-demo-report.json", help="JSON report path")
    demo.add_argument(
        "--timeline", default=None, help="also draw the hosts' timeline: a .svg or .png path"
    )
    demo.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temporary file)")
    demo.add_argument("--quiet", action="store_true", help="no progress lines")
    demo.add_argument(
        "--no-actions", action="store_true", help="skip the dummy playbook run on each host"
    )
    demo.add_argument(
        "--zones", type=int, default=0, help="deal the hosts into this many zones (default none)"
    )
    demo.add_argument(
        "--max-hosts-per-zone",
        type=int,
        default=None,
        metavar="N",
        help="the session's limit of hosts out of service per zone",
    )

    vnfm = commands.add_parser("vnfm", help="a sample VNF manager for one project")
    vnfm.add_argument("--controller", required=True, help="controller URL")
    vnfm.add_argument("--project", required=True)
    vnfm.add_argument("--port", type=int, default=0)
    vnfm.add_argument("--listen", default="127.0.0.1")
    vnfm.add_argument(
        "--action",
        default="LIVE_MIGRATE",
        choices=["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION", "EVICTION"],
    )
    vnfm.add_argument("--delay", type=float, default=0.0, help="seconds to wait before replying")
    vnfm.add_argument("--nack", action="append", default=[], help="a step to NACK (repeatable)")
    vnfm.add_argument("--silent", action="store_true", help="never reply")
    vnfm.add_argument("--sim-url", default=None, help="simulated cloud, to scale and move")
    vnfm.add_argument(
        "--token",
        default=None,
        help="the project's token (shows in ps: prefer FENIX_TOKEN or --token-file)",
    )
    vnfm.add_argument("--token-file", default=None, help="a file holding the project's token")

    add_session_parser(commands)

    commands.add_parser(
        "sim-cloud",
        help="serve a simulated cloud on its own (options: sim-cloud --help)",
        add_help=False,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim-cloud"]:
        from fenix.simulators.cloud.__main__ import main as sim_cloud_main

        return sim_cloud_main(argv[1:])
    args = _parser().parse_args(argv)
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format=log_format)
    mask_all_handlers(log_format)
    if args.command == "demo":
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.WARNING)
        from fenix.demo.runner import DemoOptions, run_demo

        options = DemoOptions(
            hosts=args.hosts or (DEMO_HOSTS_VNF if args.workflow == "vnf" else DEMO_HOSTS),
            projects=args.projects,
            instances=args.instances,
            cloud=args.cloud,
            workflow=args.workflow,
            report_path=args.report,
            timeline_path=args.timeline,
            database_url=args.db,
            quiet=args.quiet,
            actions=not args.no_actions,
            zones=args.zones,
            max_hosts_per_zone=args.max_hosts_per_zone,
        )
        return run_demo(options)
    if args.command in ("serve", "engine", "api-worker"):
        return _controller(args)
    if args.command == "session":
        return run_session_command(args)
    return _vnfm(args)


def _controller(args) -> int:
    from fenix.config import Settings
    from fenix.serve import run_api_worker, run_engine, serve

    if args.command == "api-worker":
        return run_api_worker(Settings(), args.listen_fd)
    overrides = {
        "bind_host": args.host,
        "port": args.port,
        "database_url": args.db,
        "public_url": args.public_url,
        "cloud": args.cloud,
        "os_cloud": args.os_cloud,
        "os_region": args.os_region,
        "kubeconfig": args.kubeconfig,
        "kube_context": args.kube_context,
        "sim_url": args.sim_url,
        "sim_hosts": args.sim_hosts,
        "sim_projects": args.sim_projects,
        "sim_instances": args.sim_instances,
        "sim_zones": args.sim_zones,
        "api_workers": getattr(args, "workers", None),
    }
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    if args.command == "engine":
        return run_engine(settings)
    if args.no_engine:
        settings.run_engine = False
    return serve(settings, verbose=args.verbose)


def _vnfm(args) -> int:
    from fenix.vnfm import VnfmConfig, run_vnfm

    cloud = None
    if args.sim_url:
        from fenix.drivers.simulated import SimulatedDriver

        cloud = SimulatedDriver(args.sim_url)
    config = VnfmConfig(
        controller_url=args.controller,
        project_id=args.project,
        listen_host=args.listen,
        listen_port=args.port,
        instance_action=args.action,
        reply_delay=args.delay,
        nack_states=frozenset(args.nack),
        silent=args.silent,
        token=vnfm_token(args.token, args.token_file),
        cloud=cloud,
    )
    run_vnfm(config)
    return 0


def vnfm_token(argv_token: str | None, token_file: str | None) -> str | None:
    """The sample VNFM's token: --token-file, else FENIX_TOKEN, else --token (with a warning:
    the command line is visible to every user of the machine)."""
    if token_file:
        return Path(token_file).read_text().strip()
    if os.environ.get("FENIX_TOKEN"):
        return os.environ["FENIX_TOKEN"]
    if argv_token:
        logging.getLogger("fenix.vnfm").warning(
            "--token is visible to every user of this machine (ps); "
            "pass it in FENIX_TOKEN or a file named by --token-file instead"
        )
    return argv_token


if __name__ == "__main__":
    sys.exit(main())
