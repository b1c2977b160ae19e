"""Many clients polling the API while a 200-host session runs: throughput, latency, and
whether the session's progress slowed. Prints its figures; asserts nothing (bench/README.md).

    .venv/bin/python bench/api_load.py [--hosts 200] [--projects 20] [--instances 30]
        [--clients 32] [--think 0] [--duration 90] [--db postgresql+psycopg://postgres@127.0.0.1]

Each run is a fresh stack of separate processes, so that the figures are the controller's:
- the simulated cloud (`python -m fenix.simulators.cloud`), 200 hosts, 20 projects of 30
  instances, short moves and maintenances;
- the controller (`fenix serve --sim-url ...`), API and engine in one process as deployed, with
  static tokens, on a fresh SQLite file (or a fresh database on the PostgreSQL server of --db);
- one sample VNFM per project, all in one more process (this script with --serve-managers):
  they subscribe, get every maintenance.planned webhook and answer it (half LIVE_MIGRATE, half
  MIGRATE), as real managers would;
- this process: it creates one default-workflow session over every host and, in the loaded run,
  starts --clients polling clients (threads with a keep-alive http.client connection each,
  spread over four processes at `--client-nice`) that poll with the admin token: mostly
  GET /v1/maintenance/{id}/detail, some GET /v1/maintenance and GET .../events?since=<last
  seen>, each client waiting --think seconds between its requests (0: as fast as it can).

`fenix serve` runs its engine in a process of its own, as deployed; --workers N serves the API
from N processes (PostgreSQL). Clients poll as a browser or `fenix session watch` does: each
asks again with If-None-Match the ETag it last got, and a 304 answers an unchanged resource
(--unconditional: every poll gets the whole body, for comparison).

The load generator and the engine do not share a GIL (an in-process controller would have
made the clients' own Python work slow the engine down and counted it against the API), but
they do share the machine's cores, as they would not in a deployment: the clients run at a
lower CPU priority (nice 10 by default, below the API's 5), so that they take what the
controller leaves rather than the engine's share, and the controller's and the clients' CPU
seconds are printed beside the figures. The baseline run is the same session with no polling
load (only this script's own look at the session summary every second).

Progress is read from the session's event log afterwards (the controller's own timestamps, not
the clients'): makespan from session.created to MAINTENANCE_DONE, hosts maintained per minute.
Each run stops after --duration seconds of session time (90 by default, so that the whole
script takes about four minutes) and progress is compared as hosts maintained per minute in
that window; with --duration 0 each session runs to its end and the makespans are compared too.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import psutil
import requests

from fenix.client.http import FenixClient

FINAL = ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")
MIX = (("detail", 0.7), ("list", 0.15), ("events", 0.15))
"""What each polling client asks for, by weight."""


# -- the processes ---------------------------------------------------------------------------
@dataclass
class Child:
    """A process of the stack: stopped with SIGTERM (then killed) when the run ends."""

    name: str
    proc: subprocess.Popen
    log: IO[str]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the process and every process under it (`fenix
        serve`'s engine and API workers, the playbooks they ran)."""
        return sum(_cpu_seconds(tree) for tree in self.process_tree())

    def process_tree(self) -> list[psutil.Process]:
        try:
            top = psutil.Process(self.proc.pid)
            return [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def _spawn(name: str, argv: list[str], log: Path, env: dict | None = None) -> Child:
    stderr = log.open("w")
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ, **(env or {})}
    )
    return Child(name, proc, stderr)


def _first_line(child: Child, log: Path, timeout: float = 60.0) -> str:
    """The child's first stdout line: where it listens, or that it is ready."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(child.proc.stdout.readline()))
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        raise SystemExit(f"{child.name} did not start; its log {log}:\n{log.read_text()[-3000:]}")
    return result[0].strip()


@dataclass
class Stack:
    url: str
    admin: str
    controllers: list[Child]
    """The controller (`fenix serve`; its engine and API workers are its children)."""
    children: list[Child]
    database: str

    def controller_cpu(self) -> float:
        return sum(child.cpu_seconds() for child in self.controllers)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()


def start_stack(args, workdir: Path, database_url: str) -> Stack:
    children: list[Child] = []
    try:
        log = workdir / "sim-cloud.log"
        sim = _spawn(
            "simulated cloud",
            [
                sys.executable,
                "-m",
                "fenix.simulators.cloud",
                "--port=0",
                f"--hosts={args.hosts}",
                f"--projects={args.projects}",
                f"--instances={args.instances}",
                f"--migrate-seconds={args.migrate_seconds}",
                f"--live-migrate-seconds={args.live_migrate_seconds}",
                f"--maintain-seconds={args.maintain_seconds}",
            ],
            log,
        )
        children.append(sim)
        sim_url = json.loads(_first_line(sim, log))["url"]

        admin = secrets.token_urlsafe(16)
        tokens = {admin: {"role": "admin"}}
        members = {}
        for index in range(1, args.projects + 1):
            members[f"project-{index}"] = token = secrets.token_urlsafe(16)
            tokens[token] = {"role": "member", "project": f"project-{index}"}
        env = {
            "FENIX_DATABASE_URL": database_url,
            "FENIX_TOKENS": json.dumps(tokens),
            "FENIX_ARTIFACTS_DIR": str(workdir / "artifacts"),
            "FENIX_CALLBACK_ALLOW_NETWORKS": '["127.0.0.0/8"]',  # the managers run here
        }
        serve = [sys.executable, "-m", "fenix.cli", "serve", f"--sim-url={sim_url}"]
        if args.switch_interval:
            # An experiment: the controller's GIL switch interval (CPython's default 5 ms).
            serve[1:3] = ["-c", _SWITCHING.format(args.switch_interval)]
        log = workdir / "controller.log"
        workers = [f"--workers={args.workers}"] if args.workers > 1 else []
        controller = _spawn("controller", [*serve, f"--port={_free_port()}", *workers], log, env)
        children.append(controller)
        controllers = [controller]
        url = _first_line(controller, log).rsplit(" ", 1)[-1]

        log = workdir / "managers.log"
        managers = _spawn(
            "managers",
            [sys.executable, __file__, "--serve-managers", url, sim_url],
            log,
            env={"BENCH_MANAGER_TOKENS": json.dumps(members)},
        )
        children.append(managers)
        if _first_line(managers, log) != "ready":
            raise SystemExit(f"the managers did not start; see {log}")
        return Stack(url, admin, controllers, children, database_url)
    except BaseException:
        for child in reversed(children):
            child.stop()
        raise


_SWITCHING = "import sys; sys.setswitchinterval({}); from fenix.cli import main; sys.exit(main())"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_managers(controller_url: str, sim_url: str) -> int:
    """The --serve-managers process: one sample VNFM per project until SIGTERM."""
    from fenix.drivers.simulated import SimulatedDriver
    from fenix.vnfm import SampleVnfm, VnfmConfig

    tokens: dict[str, str] = json.loads(os.environ["BENCH_MANAGER_TOKENS"])
    managers = []
    for index, (project, token) in enumerate(sorted(tokens.items())):
        config = VnfmConfig(
            controller_url=controller_url,
            project_id=project,
            token=token,
            instance_action=("LIVE_MIGRATE", "MIGRATE")[index % 2],
            cloud=SimulatedDriver(sim_url),
        )
        managers.append(SampleVnfm(config).start())
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    for manager in managers:
        manager.stop()
    return 0


# -- databases -------------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_database(base_url: str | None, workdir: Path, name: str):
    """A SQLite file in workdir, or a new database on base_url's server, dropped afterwards."""
    if base_url is None:
        yield f"sqlite:///{workdir / f'{name}.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(base_url)
    database = f"fenix_bench_{os.getpid()}_{name}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield server.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


# -- the load --------------------------------------------------------------------------------
@dataclass
class Sample:
    kind: str
    seconds: float
    size: int
    error: str | None = None
    """Why the request failed: "HTTP 500", "ReadTimeout", ...; None when it answered 200/304."""
    status: int = 0


@dataclass
class Load:
    """The polling clients: `processes` processes of threads, `clients` threads in all, each
    with one keep-alive connection (http.client, as light as a client gets in Python: the
    load generator shares the controller's two cores, and requests cost it 2.4 ms of CPU a
    poll against 0.4). Each process prints its samples when it is told to stop."""

    url: str
    admin: str
    session_id: str
    clients: int
    think: float
    etags: bool = True
    """Ask again with If-None-Match (False: every poll a full answer, as before ETags)."""
    processes: int = 4
    nice: int = 10
    """The client processes' CPU priority below the others' (os.nice)."""
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0
    seconds: float = 0.0
    """How long the clients ran."""
    cpu: float = 0.0
    """CPU seconds the client processes took."""
    _children: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> None:
        spread = [self.clients // self.processes] * self.processes
        for index in range(self.clients % self.processes):
            spread[index] += 1
        first = 0
        for threads in spread:
            if not threads:
                continue
            argv = [sys.executable, __file__, "--poll", self.url, self.session_id, str(first)]
            argv += [str(threads), str(self.think), "1" if self.etags else "0", str(self.nice)]
            env = {**os.environ, "BENCH_ADMIN_TOKEN": self.admin}
            self._children.append(
                subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
            )
            first += threads
        self.started = time.monotonic()

    def stop(self) -> None:
        self.seconds = time.monotonic() - self.started
        for child in self._children:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.cpu += _cpu_seconds(psutil.Process(child.pid))
            child.send_signal(signal.SIGTERM)
        for child in self._children:
            out, _ = child.communicate(timeout=60)
            self.samples += [Sample(**json.loads(line)) for line in out.splitlines() if line]


def poll(
    url: str, session_id: str, first: int, threads: int, think: float, etags: bool, nice: int
) -> int:
    """The --poll process: `threads` clients polling until SIGTERM, then their samples on
    stdout, a JSON line each. At `nice`: clients on other machines would take none of the
    controller's CPU; here they take what it leaves, and wait for it (their latencies count
    that wait too, so they are if anything worse than the controller's own)."""
    os.nice(nice)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    mine: list[list[Sample]] = [[] for _ in range(threads)]
    workers = [
        threading.Thread(
            target=_client, args=(url, session_id, first + index, think, etags, stop, mine[index])
        )
        for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for samples in mine:
        for sample in samples:
            print(json.dumps(sample.__dict__))
    return 0


def _client(
    url: str,
    session_id: str,
    index: int,
    think: float,
    etags: bool,
    stop: threading.Event,
    mine: list[Sample],
) -> None:
    rng = random.Random(index)
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    base = "/v1/maintenance"
    paths = {"detail": f"{base}/{session_id}/detail", "list": base}
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    admin = os.environ["BENCH_ADMIN_TOKEN"]
    last_event = 0
    tags: dict[str, str] = {}
    """What this client last saw of each path: asked again with If-None-Match, as a
    browser's cache or `fenix session watch` asks."""
    time.sleep(rng.random() * max(think, 0.05))  # do not start in lock step
    while not stop.is_set():
        kind = rng.choices(kinds, weights)[0]
        path = paths.get(kind) or f"{base}/{session_id}/events?since={last_event}"
        headers = {"X-Auth-Token": admin, "Accept-Encoding": "gzip"}
        if etags and path in tags:
            headers["If-None-Match"] = tags[path]
        started = time.perf_counter()
        error, size, status = None, 0, 0
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            size, status = len(body), response.status
            if status not in (200, 304):
                error = f"HTTP {status}"
            elif status == 200:
                if response.getheader("ETag"):
                    tags[path] = response.getheader("ETag")
                if kind == "events":
                    if response.getheader("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    last_event = json.loads(body)["next"]
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
            connection.close()  # reconnects on the next request
        mine.append(Sample(kind, time.perf_counter() - started, size, error, status))
        if think:
            stop.wait(think)
    connection.close()


# -- one run ---------------------------------------------------------------------------------
@dataclass
class RunResult:
    name: str
    clients: int
    state: str
    hosts: int
    maintained: int
    window: float
    """Session seconds the figures cover: its makespan, or the --duration cap."""
    makespan: float | None
    first_host: float | None
    controller_cpu: float
    load_cpu: float
    samples: list[Sample]
    load_seconds: float
    detail_bytes: int
    detail_ms: float
    loadavg: tuple[float, float, float]

    @property
    def errors(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for sample in self.samples:
            if sample.error is not None:
                counts[sample.error] += 1
        return dict(counts)

    @property
    def hosts_per_minute(self) -> float:
        return 60.0 * self.maintained / self.window if self.window else 0.0


def run_once(args, name: str, clients: int, base_db: str | None) -> RunResult:
    with (
        tempfile.TemporaryDirectory(prefix=f"fenix-bench-{name}-") as tmp,
        fresh_database(base_db, Path(tmp), name) as database_url,
    ):
        stack = start_stack(args, Path(tmp), database_url)
        try:
            return _run_session(args, name, clients, stack)
        finally:
            stack.stop()


def _run_session(args, name: str, clients: int, stack: Stack) -> RunResult:
    http = requests.Session()
    http.headers["X-Auth-Token"] = stack.admin
    base = f"{stack.url}/v1/maintenance"
    body = {"state": "MAINTENANCE", "hosts": [], "workflow": "default", "actions": []}
    cpu_before = stack.controller_cpu()
    response = http.post(base, json=body, timeout=30)
    response.raise_for_status()
    session_id = response.json()["session_id"]
    load = Load(
        stack.url,
        stack.admin,
        session_id,
        clients,
        args.think,
        not args.unconditional,
        nice=args.client_nice,
    )
    load.start()
    started = time.monotonic()
    limit = args.duration or args.timeout
    state = "?"
    while time.monotonic() - started < limit:
        with contextlib.suppress(requests.RequestException):
            state = http.get(f"{base}/{session_id}", timeout=60).json()["state"]
        if state in FINAL:
            break
        time.sleep(1.0)
    load.stop()
    load_cpu = load.cpu
    controller_cpu = stack.controller_cpu() - cpu_before
    loadavg = os.getloadavg()
    events = FenixClient(stack.url, token=stack.admin, timeout=120).events(session_id)
    detail_ms, detail_bytes = _time_detail(http, f"{base}/{session_id}/detail")
    if state not in FINAL:
        http.delete(f"{base}/{session_id}", timeout=30)
    return _figures(
        name,
        clients,
        state,
        events,
        load,
        args,
        controller_cpu,
        load_cpu,
        detail_ms,
        detail_bytes,
        loadavg,
    )


def _time_detail(http: requests.Session, url: str, times: int = 10) -> tuple[float, int]:
    """One client alone: the median time of GET detail (ms), and its size in bytes."""
    seconds, size = [], 0
    for _ in range(times):
        started = time.perf_counter()
        response = http.get(url, timeout=60)
        seconds.append(time.perf_counter() - started)
        size = len(response.content)
    return 1000 * sorted(seconds)[len(seconds) // 2], size


def _at(event: dict) -> float:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()


def _figures(
    name,
    clients,
    state,
    events,
    load,
    args,
    controller_cpu,
    load_cpu,
    detail_ms,
    detail_bytes,
    loadavg,
) -> RunResult:
    created = next(_at(e) for e in events if e["kind"] == "session.created")
    # The log's last word: the 1 s poll may have missed an end just before the --duration cap.
    state = next((e["new"] for e in reversed(events) if e["kind"] == "session.state"), state)
    done = next(
        (_at(e) for e in events if e["kind"] == "session.state" and e["new"] in FINAL), None
    )
    complete = sorted(
        _at(e) for e in events if e["kind"] == "host.state" and e["new"] == "MAINTENANCE_COMPLETE"
    )
    window = (done - created) if done is not None else float(args.duration or args.timeout)
    maintained = sum(1 for at in complete if at - created <= window)
    return RunResult(
        name=name,
        clients=clients,
        state=state,
        hosts=args.hosts,
        maintained=maintained,
        window=window,
        makespan=(done - created) if done is not None else None,
        first_host=(complete[0] - created) if complete else None,
        controller_cpu=controller_cpu,
        load_cpu=load_cpu,
        samples=load.samples,
        load_seconds=load.seconds,
        detail_bytes=detail_bytes,
        detail_ms=detail_ms,
        loadavg=loadavg,
    )


# -- the report ------------------------------------------------------------------------------
def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _latency_row(label: str, samples: list[Sample], seconds: float, errors: int) -> str:
    ms = [1000 * s.seconds for s in samples]
    rps = len(samples) / seconds if seconds else 0.0
    unchanged = 100.0 * sum(s.status == 304 for s in samples) / len(samples) if samples else 0.0
    return (
        f"  {label:<10} {len(samples):>8} {rps:>8.1f} {_percentile(ms, 0.5):>8.1f} "
        f"{_percentile(ms, 0.95):>8.1f} {_percentile(ms, 0.99):>8.1f} "
        f"{max(ms, default=float('nan')):>8.1f} {errors:>7} {unchanged:>6.1f}%"
    )


def report(results: list[RunResult]) -> None:
    def seconds(value: float | None) -> str:
        return f"{value:.1f}s" if value is not None else "-"

    print()
    print(
        f"{'run':<9} {'clients':>7} {'state':<17} {'maintained':>10} {'window':>8} "
        f"{'makespan':>9} {'hosts/min':>9} {'first host':>10} {'ctrl cpu':>9} "
        f"{'load cpu':>9} {'loadavg':>16}"
    )
    for r in results:
        print(
            f"{r.name:<9} {r.clients:>7} {r.state:<17} {r.maintained:>4}/{r.hosts:<5} "
            f"{r.window:>7.1f}s {seconds(r.makespan):>9} {r.hosts_per_minute:>9.1f} "
            f"{seconds(r.first_host):>10} {r.controller_cpu:>8.1f}s {r.load_cpu:>8.1f}s "
            f"{'/'.join(f'{x:.2f}' for x in r.loadavg):>16}"
        )
    for r in results:
        if not r.samples:
            continue
        print(f"\n{r.name}: {r.clients} clients for {r.load_seconds:.1f}s")
        print(
            f"  {'endpoint':<10} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'max ms':>8} {'errors':>7} {'304':>7}"
        )
        failed = sum(r.errors.values())
        print(_latency_row("all", r.samples, r.load_seconds, failed))
        for kind, _ in MIX:
            mine = [s for s in r.samples if s.kind == kind]
            failed = sum(s.error is not None for s in mine)
            print(_latency_row(kind, mine, r.load_seconds, failed))
        if r.errors:
            print(f"  errors: {r.errors}")
    last = results[-1]
    print(
        f"\ndetail of a {last.hosts}-host session: {last.detail_bytes / 1024:.0f} KiB, "
        f"{last.detail_ms:.1f} ms for one client alone (median of 10, after the session)"
    )
    baseline = next((r for r in results if r.clients == 0), None)
    for r in results:
        if baseline is None or r is baseline or not baseline.hosts_per_minute:
            continue
        slowed = 100.0 * (1 - r.hosts_per_minute / baseline.hosts_per_minute)
        span = ""
        if r.makespan and baseline.makespan:
            span = f"; makespan {baseline.makespan:.1f}s -> {r.makespan:.1f}s"
        print(
            f"progress slowed by {slowed:.1f}% under {r.clients} clients "
            f"({baseline.hosts_per_minute:.1f} -> {r.hosts_per_minute:.1f} hosts/min{span})"
        )


def main() -> int:
    if sys.argv[1:2] == ["--serve-managers"]:
        return serve_managers(*sys.argv[2:4])
    if sys.argv[1:2] == ["--poll"]:
        url, session_id, first, threads, think, etags, nice = sys.argv[2:9]
        return poll(
            url, session_id, int(first), int(threads), float(think), etags == "1", int(nice)
        )
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--instances", type=int, default=30, help="instances per project")
    parser.add_argument("--clients", type=int, default=32, help="polling clients (threads)")
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds between a client's requests"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=90.0,
        help="stop each run after this many seconds of session time (0: run to the end)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="give up on a session")
    parser.add_argument("--db", default=None, help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--migrate-seconds", type=float, default=0.1)
    parser.add_argument("--live-migrate-seconds", type=float, default=0.05)
    parser.add_argument("--maintain-seconds", type=float, default=0.1)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="set the controller's sys.setswitchinterval (seconds; CPython's default is 0.005)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="fenix serve --workers: API processes (PostgreSQL)"
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=10,
        help="the polling processes' os.nice (0: the same priority as the controller's engine)",
    )
    parser.add_argument(
        "--unconditional",
        action="store_true",
        help="clients send no If-None-Match: every poll answered in full, as before ETags",
    )
    args = parser.parse_args()
    print(
        f"{args.hosts} hosts, {args.projects} projects x {args.instances} instances, "
        f"{'PostgreSQL' if args.db else 'SQLite'}, "
        f"{args.workers} API process(es) and the engine's, "
        f"{'unconditional' if args.unconditional else 'conditional'} polls"
        f", clients at nice {args.client_nice}"
        f"; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = []
    runs = [("loaded", args.clients)]
    if not args.skip_baseline:
        runs.insert(0, ("baseline", 0))
    for name, clients in runs:
        print(f"{name}: {clients} clients ...", flush=True)
        results.append(run_once(args, name, clients, args.db))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
