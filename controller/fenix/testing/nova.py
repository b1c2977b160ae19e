"""A real Nova on this machine, for tests and demos: installed, configured, started, stopped.

Nova 34.0.0 and openstack-placement 16.0.0 from PyPI, in a venv of their own (never the
project's: ``$FENIX_NOVA_HOME``, default ``~/.cache/fenix-nova``, reused while intact), pinned
by nova-constraints.txt beside this file. A :class:`RealNova` creates four databases on the
local PostgreSQL and a vhost on the local RabbitMQ, all named after the run, writes the
configuration, syncs the schemas, starts placement-api and nova-api (gunicorn on free loopback
ports), nova-conductor, nova-scheduler and ``computes`` nova-compute services with Nova's fake
virt driver, and waits until the scheduler can place onto every compute. ``stop()`` ends every
process by its PID (each in its own process group), drops the databases and the vhost and
deletes the run's directory. What Keystone, Glance and Neutron would be is in nova_service.py.

Anything that keeps it from starting raises :class:`NovaStartError` with the step, the command
and the tail of its log: callers fail on it, they do not skip. A run whose owning processes
are all gone (a test run killed with -9) is cleaned up by the next start.

It is over 300 lines because installing, configuring, starting and tearing down six kinds of
service is one sequence that reads best in one place.

    python -m fenix.testing.nova up --computes 3   # prints the clouds.yaml entry; Ctrl-C stops
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NOVA_PACKAGES = (
    "nova==34.0.0",
    "openstack-placement==16.0.0",
    # Nova's functional-test fixtures (Glance, Neutron) and what serves and stores it.
    "testtools",
    "fixtures",
    "oslotest",
    "wsgi-intercept",
    "gunicorn",
    "psycopg2-binary",
)
CONSTRAINTS = Path(__file__).with_name("nova-constraints.txt")
SERVICE_SCRIPT = Path(__file__).with_name("nova_service.py")
ADMIN_TOKEN = "admin:admin"
"""user:project for placement's NoAuthMiddleware; user ``admin`` is an admin."""
IMAGE_ID = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
"""An image of Nova's GlanceFixture, which every service has."""
LIVE_DRIVER = "fake.FakeLiveMigrateDriver"
"""Holds a live migration about 5 s (abort and force-complete can be tried)."""
FAST_DRIVER = "fake.FakeDriver"
"""Finishes every move at once."""
PREFIX = "fenix_nova_"


class NovaStartError(RuntimeError):
    """The real Nova could not be installed or started; the message says where to look."""


def home() -> Path:
    return Path(os.environ.get("FENIX_NOVA_HOME") or Path.home() / ".cache" / "fenix-nova")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], what: str, log: Path | None = None, **kwargs: Any) -> str:
    """Run a command to its end; NovaStartError with its output's tail if it fails."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=600, check=False, **kwargs
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NovaStartError(f"{what}: {' '.join(command)}: {exc}") from exc
    output = done.stdout + done.stderr
    if log is not None:
        with log.open("a") as handle:
            handle.write(f"$ {' '.join(command)}\n{output}\n")
    if done.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        raise NovaStartError(f"{what} failed ({done.returncode}): {' '.join(command)}\n{tail}")
    return done.stdout


def ensure_venv(base: Path | None = None) -> Path:
    """The Nova venv's directory, installed (under a lock) unless an intact one is there."""
    base = base or home()
    venv = base / "venv-nova-34.0.0"
    stamp = venv / "fenix-installed"
    wanted = hashlib.sha256(
        (CONSTRAINTS.read_text() + "\n".join(NOVA_PACKAGES)).encode()
    ).hexdigest()
    with _locked(base / "install.lock"):
        python = venv / "bin" / "python"
        if stamp.exists() and stamp.read_text() == wanted and python.exists():
            probe = [str(python), "-c", "import nova, placement, fixtures, psycopg2, gunicorn"]
            if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
                return venv
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)], "creating the Nova venv")
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        _run([*pip, "-c", str(CONSTRAINTS), *NOVA_PACKAGES], f"installing Nova into {venv}")
        stamp.write_text(wanted)
    return venv


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class NovaConfig:
    computes: int = 2
    compute_driver: str = LIVE_DRIVER
    vcpus: int | None = None
    """Each compute's vCPUs (the fake driver's are 1000 unless set)."""
    cpu_allocation_ratio: float | None = None
    """Nova's (placement's) default 4.0 unless set."""
    postgres: str = "postgresql+psycopg2://postgres@127.0.0.1:5432"
    rabbit: str = "rabbit://guest:guest@127.0.0.1:5672"
    start_timeout: float = 240.0


@dataclass
class NovaState:
    """What a started Nova is: written to state.json so another process can use or stop it."""

    run_id: str
    run_dir: str
    venv: str
    config: dict[str, Any]
    databases: list[str]
    vhost: str
    nova_url: str = ""
    placement_url: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    owners: list[int] = field(default_factory=list)
    computes: list[str] = field(default_factory=list)


class RealNova:
    """One real Nova; ``start()`` it, read ``clouds_entry()``, ``stop()`` it."""

    def __init__(self, config: NovaConfig | None = None, base: Path | None = None) -> None:
        self.config = config or NovaConfig()
        self.base = base or home()
        self.state: NovaState | None = None

    # -- the outside view -------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.state is not None, "the Nova is not started"
        return self.state.nova_url

    @property
    def computes(self) -> list[str]:
        assert self.state is not None, "the Nova is not started"
        return list(self.state.computes)

    def clouds_entry(self) -> dict[str, Any]:
        """A clouds.yaml entry for openstacksdk: the admin token, no Keystone catalog."""
        return {
            "auth_type": "admin_token",
            "auth": {"endpoint": f"{self.url}/v2.1", "token": ADMIN_TOKEN},
            "region_name": "RegionOne",
        }

    @classmethod
    def attach(cls, state_file: Path) -> RealNova:
        """The Nova another process started and described in ``state_file``."""
        data = json.loads(state_file.read_text())
        nova = cls(NovaConfig(**data["config"]), state_file.parent.parent.parent)
        nova.state = NovaState(**data)
        return nova

    def save(self) -> Path:
        assert self.state is not None
        path = Path(self.state.run_dir) / "state.json"
        path.write_text(json.dumps(asdict(self.state), indent=1))
        return path

    # -- starting ---------------------------------------------------------------------------

    def start(self) -> RealNova:
        cleanup_abandoned(self.base)
        venv = ensure_venv(self.base)
        run_id = uuid.uuid4().hex[:10]
        run_dir = self.base / "runs" / run_id
        (run_dir / "logs").mkdir(parents=True)
        name = f"{PREFIX}{run_id}"
        self.state = NovaState(
            run_id=run_id,
            run_dir=str(run_dir),
            venv=str(venv),
            config=asdict(self.config),
            databases=[name, f"{name}_cell0", f"{name}_api", f"{name}_placement"],
            vhost=f"{PREFIX}{run_id}",
            owners=[os.getpid()],
            computes=[f"compute-{n}" for n in range(1, self.config.computes + 1)],
        )
        self.save()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.save()
        return self

    def _start(self) -> None:
        state = self.state
        assert state is not None
        started = time.monotonic()
        self._sql(*(f'CREATE DATABASE "{db}"' for db in state.databases))
        _run(["rabbitmqctl", "add_vhost", state.vhost], "adding a RabbitMQ vhost")
        _run(
            ["rabbitmqctl", "set_permissions", "-p", state.vhost, "guest", ".*", ".*", ".*"],
            "letting guest use the RabbitMQ vhost",
        )
        placement_port, nova_port = _free_port(), _free_port()
        state.placement_url = f"http://127.0.0.1:{placement_port}"
        state.nova_url = f"http://127.0.0.1:{nova_port}"
        self._write_configs()
        shutil.copy(SERVICE_SCRIPT, Path(state.run_dir) / SERVICE_SCRIPT.name)
        run_dir, bin_dir = Path(state.run_dir), Path(state.venv) / "bin"
        log = run_dir / "logs" / "manage.log"
        placement_conf = str(run_dir / "placement" / "placement.conf")
        # placement's schema while nova's syncs: two cores, and each waits on PostgreSQL.
        placement_sync = subprocess.Popen(
            [str(bin_dir / "placement-manage"), "--config-file", placement_conf, "db", "sync"],
            stdout=(run_dir / "logs" / "placement-sync.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        manage = [str(bin_dir / "nova-manage"), "--config-file", str(run_dir / "nova.conf")]
        env = self._env()
        _run([*manage, "api_db", "sync"], "nova-manage api_db sync", log, env=env)
        _run([*manage, "cell_v2", "map_cell0"], "nova-manage cell_v2 map_cell0", log, env=env)
        _run(
            [*manage, "cell_v2", "create_cell", "--name", "cell1"],
            "nova-manage cell_v2 create_cell",
            log,
            env=env,
        )
        _run([*manage, "db", "sync"], "nova-manage db sync", log, env=env)
        if placement_sync.wait(timeout=300) != 0:
            raise NovaStartError(
                f"placement-manage db sync failed: see {run_dir / 'logs' / 'placement-sync.log'}"
            )
        gunicorn = [str(bin_dir / "gunicorn"), "--no-control-socket", "--workers", "1"]
        gunicorn += ["--threads", "4", "--timeout", "120", "--pythonpath", str(run_dir)]
        self._spawn(
            "placement-api",
            [*gunicorn, "--bind", f"127.0.0.1:{placement_port}", "nova_service:placement_api()"],
            OS_PLACEMENT_CONFIG_DIR=str(run_dir / "placement"),
        )
        self._spawn(
            "nova-api",
            [*gunicorn, "--bind", f"127.0.0.1:{nova_port}", "nova_service:nova_api()"],
            OS_NOVA_CONFIG_DIR=str(run_dir),
            OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf",
        )
        service = [str(bin_dir / "python"), str(run_dir / SERVICE_SCRIPT.name)]
        conf = ["--config-file", str(run_dir / "nova.conf")]
        self._spawn("nova-conductor", [*service, "conductor", *conf])
        self._spawn("nova-scheduler", [*service, "scheduler", *conf])
        extra = {"FENIX_NOVA_FAKE_VCPUS": str(self.config.vcpus)} if self.config.vcpus else {}
        for host in state.computes:
            compute_conf = ["--config-file", str(run_dir / f"{host}.conf")]
            self._spawn(host, [*service, "compute", *compute_conf], **extra)
        self.save()
        self._wait_until_ready(started + self.config.start_timeout)
        _run(
            [*manage, "cell_v2", "discover_hosts"],
            "nova-manage cell_v2 discover_hosts",
            log,
            env=env,
        )
        self._wait_until_schedulable(started + self.config.start_timeout)

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "VIRTUAL_ENV"))}
        env["OS_NOVA_DISABLE_EVENTLET_PATCHING"] = "true"
        env["PATH"] = f"{Path(self.state.venv) / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONPATH"] = self.state.run_dir  # nova_service.py's copy (not ours: nova.py)
        env.pop("PYTHONHOME", None)
        env.update(extra)
        return env

    def _spawn(self, name: str, command: list[str], **env: str) -> None:
        assert self.state is not None
        log = Path(self.state.run_dir) / "logs" / f"{name}.log"
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env=self._env(**env),
            cwd=self.state.run_dir,
            start_new_session=True,  # its own process group: stopped with its workers
        )
        self.state.pids[name] = process.pid

    def _write_configs(self) -> None:
        state = self.state
        assert state is not None
        run_dir, cfg = Path(state.run_dir), self.config
        nova_db, cell0, api_db, placement_db = (f"{cfg.postgres}/{db}" for db in state.databases)
        common: dict[str, dict[str, Any]] = {
            "DEFAULT": {
                "transport_url": f"{cfg.rabbit}/{state.vhost}",
                "compute_driver": cfg.compute_driver,
                "my_ip": "127.0.0.1",
                "vif_plugging_timeout": 0,
                "vif_plugging_is_fatal": False,
                "periodic_fuzzy_delay": 0,
                "graceful_shutdown_timeout": 5,
                "use_rootwrap_daemon": False,
            },
            "placement": {
                "auth_type": "admin_token",
                "token": ADMIN_TOKEN,
                "endpoint": state.placement_url,
                "region_name": "RegionOne",
            },
            "vnc": {"enabled": False},
            "oslo_messaging_notifications": {"driver": "noop"},
        }
        if cfg.cpu_allocation_ratio is not None:
            common["DEFAULT"]["initial_cpu_allocation_ratio"] = cfg.cpu_allocation_ratio
        control = _merged(
            common,
            {
                "DEFAULT": {"host": "controller-0", "state_path": str(run_dir / "controller-0")},
                "database": {"connection": nova_db},
                "api_database": {"connection": api_db},
                "scheduler": {"discover_hosts_in_cells_interval": 2, "workers": 1},
                "conductor": {"workers": 1},
                "oslo_concurrency": {"lock_path": str(run_dir / "controller-0" / "locks")},
            },
        )
        _write_ini(run_dir / "nova.conf", control)
        for host in state.computes:
            _write_ini(
                run_dir / f"{host}.conf",
                _merged(
                    common,
                    {
                        "DEFAULT": {"host": host, "state_path": str(run_dir / host)},
                        "oslo_concurrency": {"lock_path": str(run_dir / host / "locks")},
                    },
                ),
            )
        _write_ini(
            run_dir / "placement" / "placement.conf",
            {
                "placement_database": {"connection": placement_db},
                "api": {"auth_strategy": "noauth2"},
            },
        )
        paste = (Path(state.venv) / "etc" / "nova" / "api-paste.ini").read_text()
        keystone = " authtoken keystonecontext "
        if keystone not in paste:
            raise NovaStartError("nova's api-paste.ini has no authtoken filter to replace")
        paste = paste.replace(keystone, " fenixnoauth keystonecontext ")
        paste += "\n[filter:fenixnoauth]\npaste.filter_factory = nova_service:noauth_filter\n"
        (run_dir / "api-paste.ini").write_text(paste)
        del cell0  # nova-manage map_cell0 names it: the main database's name + "_cell0"

    def _get(self, url: str) -> dict[str, Any]:
        request = urllib.request.Request(
            url,
            headers={"X-Auth-Token": ADMIN_TOKEN, "OpenStack-API-Version": "compute 2.53"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def _check_processes(self) -> None:
        assert self.state is not None
        for name, pid in self.state.pids.items():
            with contextlib.suppress(ChildProcessError):
                finished, status = os.waitpid(pid, os.WNOHANG)
                if finished:
                    log = Path(self.state.run_dir) / "logs" / f"{name}.log"
                    tail = "\n".join(log.read_text().strip().splitlines()[-25:])
                    raise NovaStartError(f"{name} exited ({status}) while starting; {log}:\n{tail}")

    def _wait(self, deadline: float, what: str, ready) -> None:
        last: Exception | str = "not yet"
        while time.monotonic() < deadline:
            self._check_processes()
            try:
                answer = ready()
            except (OSError, urllib.error.URLError, ValueError) as exc:
                answer, last = None, exc
            if answer:
                return
            time.sleep(0.5)
        logs = Path(self.state.run_dir) / "logs"
        raise NovaStartError(f"{what} not reached in time (last: {last}); logs in {logs}")

    def _wait_until_ready(self, deadline: float) -> None:
        """Every compute's service up and reported to placement."""
        assert self.state is not None
        wanted = set(self.state.computes)

        def ready() -> bool:
            services = self._get(f"{self.url}/v2.1/os-services?binary=nova-compute")["services"]
            up = {s["host"] for s in services if s["state"] == "up"}
            providers = self._get(f"{self.state.placement_url}/resource_providers")
            return wanted <= up and len(providers["resource_providers"]) >= len(wanted)

        self._wait(deadline, f"nova-compute up on {', '.join(sorted(wanted))}", ready)

    def _wait_until_schedulable(self, deadline: float) -> None:
        """Every compute mapped to cell1 (the hypervisors list shows it)."""
        assert self.state is not None
        wanted = set(self.state.computes)

        def ready() -> bool:
            listed = self._get(f"{self.url}/v2.1/os-hypervisors/detail")["hypervisors"]
            return wanted <= {h["service"]["host"] for h in listed if h.get("state") == "up"}

        self._wait(deadline, "every compute discovered in cell1", ready)

    # -- stopping ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Every process by its PID, then the databases, the vhost and the run's directory."""
        state = self.state
        if state is None:
            return
        for pid in state.pids.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for pid in state.pids.values():
            while _alive(pid) and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        break
                time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self._sql(*(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in state.databases))
        subprocess.run(
            ["rabbitmqctl", "delete_vhost", state.vhost], capture_output=True, check=False
        )
        shutil.rmtree(state.run_dir, ignore_errors=True)
        self.state = None

    def _sql(self, *statements: str) -> None:
        for statement in statements:
            _run(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-qc",
                    statement,
                ],
                f"PostgreSQL: {statement}",
            )


def cleanup_abandoned(base: Path | None = None) -> list[str]:
    """Stop the runs under ``base`` whose owners are all gone; their run ids."""
    base = base or home()
    cleaned = []
    for state_file in sorted((base / "runs").glob("*/state.json")):
        try:
            nova = RealNova.attach(state_file)
        except (OSError, ValueError, TypeError):
            continue
        if nova.state and not any(_alive(pid) for pid in nova.state.owners):
            nova.stop()
            cleaned.append(state_file.parent.name)
    return cleaned


def _merged(*parts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for part in parts:
        for section, options in part.items():
            merged.setdefault(section, {}).update(options)
    return merged


def _write_ini(path: Path, sections: dict[str, dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    parser = configparser.ConfigParser(interpolation=None)
    for section, options in sections.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in options.items():
            parser.set(section, key, str(value))
    with path.open("w") as handle:
        parser.write(handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fenix.testing.nova", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a Nova, print its clouds.yaml entry, stop on ^C")
    up.add_argument("--computes", type=int, default=2)
    up.add_argument("--fast", action="store_true", help="fake.FakeDriver (moves end at once)")
    commands.add_parser("install", help="install (or check) the Nova venv")
    commands.add_parser("freeze", help="print the Nova venv's pip freeze (for the constraints)")
    commands.add_parser("cleanup", help="stop runs whose owners are gone")
    args = parser.parse_args(argv)
    if args.command == "install":
        print(ensure_venv())
    elif args.command == "freeze":
        venv = ensure_venv()
        print(_run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], "pip freeze"), end="")
    elif args.command == "cleanup":
        print("\n".join(cleanup_abandoned()) or "nothing to clean up")
    else:
        driver = FAST_DRIVER if args.fast else LIVE_DRIVER
        nova = RealNova(NovaConfig(computes=args.computes, compute_driver=driver))
        started = time.monotonic()
        nova.start()
        print(f"Nova {nova.url} up in {time.monotonic() - started:.0f} s; computes {nova.computes}")
        print(json.dumps(nova.clouds_entry(), indent=1), flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            nova.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
