"""`fenix serve`: the API and the engine in separate processes, run and stopped as one service.

In one process the API's threads and the engine shared one GIL: 32 clients polling a 200-host
session cut its progress by 96 %. Here the watchers cost the API processes only:

- this process binds the port, serves the API, and supervises the others; `--workers N` adds
  N-1 API processes accepting on the same socket (a database several processes can write at
  once, PostgreSQL, is then needed); the API runs at a lower CPU priority than the engine
  (FENIX_API_NICE), so that on a busy machine the sessions are served first;
- the engine and the notification delivery run in `fenix engine`, a child process restarted
  when it dies (with backoff) and stopped with this one; the children die with it even when it
  is SIGKILLed (Linux's parent-death signal), so a killed controller is killed whole;
- they share the database, and a Unix datagram socket through which the API wakes the engine
  (fenix.engine.wake); Prometheus counts from every process meet in one directory (fenix.metrics).

`fenix serve --no-engine` is the API alone (with delivery), for an engine run elsewhere with
`fenix engine` on the same database.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from fenix.config import Settings
from fenix.logmask import mask_passwords

LOG = logging.getLogger("fenix")

PR_SET_PDEATHSIG = 1
ENGINE_STOP_SECONDS = 30.0
"""How long the engine process gets to bring its sessions to a safe point before it is killed."""
ENGINE_READY_SECONDS = 120.0
"""How long the API waits for its engine to run before it answers without it."""
RESTART_BACKOFF = (1.0, 30.0)
"""First and longest wait before a child that died is started again."""
HEALTHY_AFTER = 60.0
"""A child that ran this long before it died is restarted after the first wait again."""


def stop_on_signal() -> threading.Event:
    """An event SIGINT and SIGTERM set. Installed before the API accepts a connection, so a
    signal sent as soon as it answers still ends in a clean shutdown, not a kill."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def die_with_parent(parent_pid: int) -> None:
    """Be killed when the process that started us ends, however it ends.

    Linux delivers SIGKILL on the parent's death (PR_SET_PDEATHSIG); elsewhere a thread
    watches for the parent to go. Either way a parent that died before this call is caught.
    """
    armed = False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if os.getppid() != parent_pid:
        os._exit(1)
    if not armed:

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def child_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a child process rebuilds exactly these settings from (FENIX_*), so
    flags given to `fenix serve` reach its children without showing in `ps`."""
    env = dict(os.environ, **extra, FENIX_PARENT_PID=str(os.getpid()))
    for name, value in settings.model_dump(mode="json").items():
        key = f"FENIX_{name.upper()}"
        if value is None:
            env.pop(key, None)
        elif isinstance(value, (dict, list)):
            env[key] = json.dumps(value)
        else:
            env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


class SupervisedChild:
    """One child process kept running: started again when it dies, stopped on stop()."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        *,
        pass_fds: tuple[int, ...] = (),
        stop_seconds: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.pass_fds = pass_fds
        self.stop_seconds = stop_seconds
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._starting = threading.Lock()
        """Held while a child is started: stop() then sees the new one, never misses it."""
        # The thread that starts the child must live as long as the child: Linux sends the
        # parent-death signal when that thread ends.
        self._thread = threading.Thread(target=self._keep_running, name=name, daemon=True)

    def start(self) -> SupervisedChild:
        self._thread.start()
        return self

    def _keep_running(self) -> None:
        backoff = RESTART_BACKOFF[0]
        while True:
            with self._starting:
                if self._stopping.is_set():
                    return
                started = time.monotonic()
                self._process = subprocess.Popen(self.argv, env=self.env, pass_fds=self.pass_fds)
            LOG.info("%s process %d started", self.name, self._process.pid)
            returncode = self._process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_AFTER:
                backoff = RESTART_BACKOFF[0]
            LOG.error(
                "%s process %d ended with %s: starting it again in %.0f s",
                self.name,
                self._process.pid,
                returncode,
                backoff,
            )
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, RESTART_BACKOFF[1])

    def stop(self) -> None:
        """SIGTERM (it stops at a safe point), then SIGKILL after `stop_seconds`."""
        with self._starting:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self.stop_seconds)
            except subprocess.TimeoutExpired:
                LOG.error("%s process %d did not stop: killing it", self.name, process.pid)
                process.kill()
                process.wait()
        self._thread.join(self.stop_seconds)


def _fenix_command(*args: str, verbose: bool) -> list[str]:
    return [sys.executable, "-m", "fenix.cli", *(["-v"] if verbose else []), *args]


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, *, verbose: bool = False) -> int:
    """Run the controller until SIGINT or SIGTERM; the exit status of `fenix serve`."""
    if settings.api_workers > 1 and settings.database_url.startswith("sqlite"):
        print(
            f"fenix serve: --workers {settings.api_workers} needs a database that several "
            "processes write at once (PostgreSQL); SQLite takes one API process",
            file=sys.stderr,
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="fenix-serve-"))
    metrics_dir_before = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    try:
        return _serve_from(workdir, settings, verbose)
    finally:
        # As it was: `fenix serve` run in-process (tests) leaves no dangling directory named.
        if metrics_dir_before is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir_before
        shutil.rmtree(workdir, ignore_errors=True)


def _serve_from(workdir: Path, settings: Settings, verbose: bool) -> int:
    stop = stop_on_signal()
    split = settings.run_engine
    if split:
        metrics_dir = workdir / "metrics"
        metrics_dir.mkdir()
        # Before prometheus_client is first imported: it picks its storage then.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        settings = settings.model_copy(
            update={
                "run_engine": False,
                "run_delivery": False,
                "engine_wake_socket": str(workdir / "engine.sock"),
            }
        )
    # The engine starts while this process loads the API (on a loaded machine each takes
    # seconds): the schema first, so that only one process migrates it; then the cloud, so
    # that a simulated cloud started here is the engine's too.
    from fenix.db.database import Database
    from fenix.drivers.factory import make_driver

    migrating = Database(settings.database_url, settings.secret_key)
    migrating.upgrade()
    migrating.dispose()
    driver = make_driver(settings)
    children = _children(driver, settings, split=split, verbose=verbose)
    if children:
        children[0].start()
        # From here on this thread, and the threads and processes it starts (the API's, its
        # workers), run below the engine's priority; the engine's supervisor thread, started
        # above, keeps it for the engine when it starts it again.
        os.nice(settings.api_nice)

    from fenix.api.auth import AuthConfigError
    from fenix.app import create_app
    from fenix.runtime import Runtime
    from fenix.wsgi import serve_in_thread

    runtime = Runtime(settings, driver)
    try:
        # Authentication is set up here: without tokens it is open, and refused off loopback.
        app = create_app(runtime)
        sock = _listening_socket(settings.bind_host, settings.port)
    except (AuthConfigError, OSError) as exc:
        for child in children:
            child.stop()
        runtime.stop()
        print(f"fenix serve: {exc}", file=sys.stderr)
        return 2
    children += _api_workers(driver, settings, sock, verbose=verbose)
    if split:
        # The API answers once the engine runs, as it did in one process: a client (or an
        # operator's script) that saw it answer may count on its sessions being taken.
        _wait_for_engine(children[0], Path(settings.engine_wake_socket or ""), stop)
    server = serve_in_thread(
        app,
        settings.bind_host,
        threads=settings.threads,
        name="api",
        limits=_limits(settings),
        sock=sock,
    )
    runtime.start()
    for child in children[1 if split else 0 :]:
        child.start()
    LOG.info(
        "fenix controller at %s (database %s, cloud %s; engine %s, %d API process(es))",
        server.url,
        mask_passwords(settings.database_url),
        settings.cloud,
        "in its own process" if split else "not run here",
        settings.api_workers,
    )
    print(f"fenix controller listening on {server.url}", flush=True)
    try:
        stop.wait()
    finally:
        LOG.info("shutting down: sessions stop at a safe point")
        server.stop()
        for child in reversed(children):
            child.stop()
        runtime.stop()
        sock.close()
    return 0


def _limits(settings: Settings):
    """What one client may hold of an API process (fenix.wsgi.ServerLimits)."""
    from fenix.wsgi import ServerLimits

    return ServerLimits(
        max_body_bytes=settings.max_body_bytes,
        connection_limit=settings.connection_limit,
        channel_timeout=settings.idle_timeout,
    )


def _wait_for_engine(engine: SupervisedChild, ready: Path, stop: threading.Event) -> None:
    """Until the engine listens for wakes (it does once it runs), or ENGINE_READY_SECONDS."""
    deadline = time.monotonic() + ENGINE_READY_SECONDS
    while not ready.exists() and not stop.is_set():
        if time.monotonic() > deadline:
            LOG.error(
                "the engine process is not running after %.0f s: serving the API without it "
                "(sessions wait for it)",
                ENGINE_READY_SECONDS,
            )
            return
        stop.wait(0.05)


def _children(driver, settings: Settings, *, split: bool, verbose: bool) -> list[SupervisedChild]:
    """The engine process, unless --no-engine."""
    if not split:
        return []
    engine_settings = settings.model_copy(
        update={
            "run_engine": True,
            "run_delivery": True,
            # A restarted engine is the same engine: it takes its sessions' leases back at
            # once instead of waiting for them to run out.
            "engine_id": settings.engine_id
            or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            "sim_url": _sim_url(driver, settings),
        }
    )
    return [
        SupervisedChild(
            "engine",
            _fenix_command("engine", verbose=verbose),
            child_environment(engine_settings),
            stop_seconds=ENGINE_STOP_SECONDS,
        )
    ]


def _api_workers(
    driver, settings: Settings, sock: socket.socket, *, verbose: bool
) -> list[SupervisedChild]:
    """The API processes beyond this one, accepting on its socket."""
    worker_settings = settings.model_copy(update={"sim_url": _sim_url(driver, settings)})
    return [
        SupervisedChild(
            f"api-{number}",
            _fenix_command("api-worker", str(sock.fileno()), verbose=verbose),
            child_environment(worker_settings),
            pass_fds=(sock.fileno(),),
        )
        for number in range(2, settings.api_workers + 1)
    ]


def _sim_url(driver, settings: Settings) -> str | None:
    """The simulated cloud's URL, when this process started one: one cloud for all."""
    if settings.cloud == "simulated":
        return getattr(driver, "url", settings.sim_url)
    return settings.sim_url


def run_engine(settings: Settings) -> int:
    """`fenix engine`: sessions and notification delivery, no API, until SIGINT or SIGTERM."""
    from fenix.runtime import Runtime

    _follow_parent()
    settings = settings.model_copy(update={"run_engine": True, "run_delivery": True})
    runtime = Runtime(settings)
    stop = stop_on_signal()
    runtime.start()
    LOG.info(
        "fenix engine %s running (database %s, cloud %s)",
        runtime.engine.id if runtime.engine else "?",
        mask_passwords(settings.database_url),
        settings.cloud,
    )
    try:
        stop.wait()
    finally:
        runtime.stop()
    return 0


def run_api_worker(settings: Settings, listen_fd: int) -> int:
    """One more API process of `fenix serve --workers`, on the socket its parent bound."""
    from fenix.app import create_app
    from fenix.runtime import Runtime
    from fenix.wsgi import serve_in_thread

    _follow_parent()
    stop = stop_on_signal()
    runtime = Runtime(settings)
    app = create_app(runtime)
    server = serve_in_thread(
        app,
        settings.bind_host,
        threads=settings.threads,
        name="api",
        limits=_limits(settings),
        sock=socket.socket(fileno=listen_fd),
    )
    runtime.start()
    try:
        stop.wait()
    finally:
        server.stop()
        runtime.stop()
    return 0


def _follow_parent() -> None:
    parent = os.environ.get("FENIX_PARENT_PID")
    if parent:
        die_with_parent(int(parent))
