"""The engine's cost against the size of the cloud: one session over every host.

    .venv/bin/python bench/engine_scale.py [--hosts 100,300,1000] [--workflow default,vnf]
                                           [--timeout 3600] [--profile DIR]

The case: a simulated cloud of N compute hosts with 10 instances a host (20 projects of N / 2
instances), moves and maintenance that take no time, no manager subscribed (every project gets
its default at once), no action plug-in. One session over every host, on SQLite, with the
engine in-process (a Runtime with its engine, no API server), as bench/vnf_makespan.py runs it.

Each case runs in a process of its own (this script started again with --case), so its peak
RSS is its own; the simulated cloud is a child process of that one. Printed per case:
- wall: from the session's creation to its end;
- cpu/host: the controller process's CPU time (time.process_time(): every thread of the engine,
  the database and the HTTP client to the cloud) over that same span, divided by the hosts; the
  cloud's own CPU is printed apart (its process's, from getrusage once it has exited);
- peak RSS of the controller process (ru_maxrss: the imports included);
- the load average before and after, since the machine is shared.
The targets (issue 14): default workflow <= 50 ms of controller CPU per host, flat within
+-20 % from 100 to 1,000 hosts; vnf workflow 1,000 hosts in <= 60 s wall, < 300 MB.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_HOST = 10
PROJECTS = 20
FINAL = ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")


def start_cloud(hosts: int) -> tuple[subprocess.Popen, str]:
    """The simulated cloud in its own process, every move and maintenance instant."""
    command = [
        sys.executable,
        "-m",
        "fenix.simulators.cloud",
        "--hosts",
        str(hosts),
        "--projects",
        str(PROJECTS),
        "--instances",
        str(hosts * PER_HOST // PROJECTS),
        "--maintain-seconds",
        "0",
        "--live-migrate-seconds",
        "0",
        "--migrate-seconds",
        "0",
        "--evict-seconds",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    url = json.loads(process.stdout.readline())["url"]
    return process, url


def run_case(workflow: str, hosts: int, timeout: float) -> dict:
    """One session over every host of a fresh cloud; its figures (run in its own process)."""
    from sqlalchemy import select

    from fenix.config import Settings
    from fenix.db.models import Session
    from fenix.drivers.simulated import SimulatedDriver
    from fenix.runtime import Runtime
    from fenix.timeutil import utcnow

    cloud, url = start_cloud(hosts)
    try:
        with tempfile.TemporaryDirectory(prefix="fenix-scale-") as tmp:
            settings = Settings(
                database_url=f"sqlite:///{Path(tmp) / 'fenix.db'}",
                artifacts_dir=str(Path(tmp) / "artifacts"),
                sim_url=url,
                poll_interval=0.01,
                reply_window=1.0,
                long_reply_window=1.0,
                lease_seconds=60.0,
                max_hosts=max(hosts, 10_000),
            )
            runtime = Runtime(settings)
            driver = SimulatedDriver(url)
            names = [(h.name, str(h.kind)) for h in driver.list_hosts()]
            instances = len(driver.list_instances())
            driver.close()
            runtime.start()
            cpu, started = time.process_time(), time.monotonic()
            with runtime.db.transaction() as repo:
                session_id = repo.add_session(
                    workflow=workflow,
                    maintenance_at=utcnow(),
                    meta={"bench": "engine_scale"},
                    download=[],
                    hosts=names,
                    actions=[],
                ).id
            runtime.wake()
            state, error = "", None
            # Watched as cheaply as possible (two columns, five times a second): this process's
            # CPU is what is measured.
            watch = select(Session.state, Session.error).where(Session.id == session_id)
            while time.monotonic() - started < timeout:
                with runtime.db.transaction() as repo:
                    state, error = repo.orm.execute(watch).one()
                if state in FINAL:
                    break
                time.sleep(0.2)
            wall, cpu = time.monotonic() - started, time.process_time() - cpu
            with runtime.db.transaction() as repo:
                row = repo.get_session(session_id)
                maintained = sum(1 for h in row.hosts if h.maintained)
            runtime.stop()
    finally:
        cloud.terminate()
        cloud.wait(30)
    return {
        "workflow": workflow,
        "hosts": hosts,
        "instances": instances,
        "state": state,
        "error": error,
        "maintained": maintained,
        "wall": wall,
        "cpu": cpu,
        "cloud_cpu": _children_cpu(),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_profiled(workflow: str, hosts: int, timeout: float, out: str) -> dict:
    """The case under cProfile, every thread of the controller (the engine runs the session
    on threads of its own), in CPU seconds, merged and dumped to `out` for pstats."""
    import pstats
    import threading

    profilers: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(self, *args, **kwargs):
        # A profiler is one thread's: each thread started from now on gets its own, timed in
        # the thread's CPU time (waits cost nothing, so the profile shows where CPU goes).
        profiler = cProfile.Profile(time.thread_time)
        profilers.append(profiler)
        profiler.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            profiler.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile(time.thread_time)
    main.enable()
    try:
        result = run_case(workflow, hosts, timeout)
    finally:
        main.disable()
        threading.Thread.run = original  # type: ignore[method-assign]
    stats = pstats.Stats(main)
    for profiler in profilers:
        try:
            stats.add(profiler)
        except TypeError:  # a thread that never ran under it
            continue
    stats.dump_stats(out)
    return result


def spawn_case(workflow: str, hosts: int, timeout: float, profile: str | None) -> dict:
    command = [sys.executable, __file__, "--case", f"{workflow}:{hosts}", "--timeout", str(timeout)]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr[-4000:])
        return {"workflow": workflow, "hosts": hosts, "state": "BENCH ERROR", "error": "see above"}
    return json.loads(lines[-1])


def report(result: dict, load: tuple[float, float]) -> None:
    if "cpu" not in result:
        print(f"{result['workflow']:<8} {result['hosts']:>5}  {result['state']}", flush=True)
        return
    per_host = 1000 * result["cpu"] / result["hosts"]
    print(
        f"{result['workflow']:<8} {result['hosts']:>5} {result['instances']:>6} "
        f"{result['state']:<18} {result['maintained']:>5} {result['wall']:>8.1f} "
        f"{result['cpu']:>8.1f} {per_host:>8.1f} {result['cloud_cpu']:>8.1f} "
        f"{result['rss_mb']:>7.0f}   {load[0]:.1f} / {load[1]:.1f}",
        flush=True,
    )
    if result["error"]:
        print(f"  error: {result['error']}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", default="100,300,1000", help="comma-separated host counts")
    parser.add_argument("--workflow", default="default,vnf", help="default, vnf or both")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="give a case up after this many seconds"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="run each case under cProfile (slower) and write DIR/<workflow>-<hosts>.prof",
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, in this process
    args = parser.parse_args(argv)

    if args.case:
        workflow, hosts = args.case.split(":")
        if args.profile:
            out = str(Path(args.profile) / f"{workflow}-{hosts}.prof")
            result = run_profiled(workflow, int(hosts), args.timeout, out)
        else:
            result = run_case(workflow, int(hosts), args.timeout)
        print(json.dumps(result), flush=True)
        return 0

    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    print(
        f"{'workflow':<8} {'hosts':>5} {'inst.':>6} {'state':<18} {'done':>5} {'wall s':>8} "
        f"{'cpu s':>8} {'ms/host':>8} {'cloud s':>8} {'RSS MB':>7}   "
        "load avg (1 min) before / after",
        flush=True,
    )
    for workflow in args.workflow.split(","):
        for hosts in (int(h) for h in args.hosts.split(",")):
            before = os.getloadavg()[0]
            result = spawn_case(workflow, hosts, args.timeout, args.profile)
            report(result, (before, os.getloadavg()[0]))
    print(
        "wall: session created -> ended. cpu s / ms/host: the controller process's CPU time "
        "(engine threads, SQLite, HTTP client) over that span, per host; cloud s: the simulated "
        "cloud's own process, not counted in cpu. RSS: peak of the controller process. "
        "Moves and maintenance are instant, no managers, no action plug-ins."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
