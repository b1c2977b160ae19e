"""Real things for the collection's end-to-end tests: a controller and a simulated cloud
running as processes on free ports, the collection installed where ansible finds it, and a
helper that runs ansible-playbook with the venv's tools.
"""

from __future__ import annotations

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
"""The venv's bin: fenix, ansible-playbook, ansible-galaxy, ansible-test, ansible-doc."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(method: str, url: str, body: dict | None = None, timeout: float = 10) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw.strip() else None


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Service:
    url: str
    process: subprocess.Popen
    log: Path


@pytest.fixture(scope="module")
def controller(tmp_path_factory) -> Iterator[Service]:
    """`fenix serve` on the simulated cloud (4 hosts), on a free port and a fresh database.

    One per test module: a session deleted before it started keeps its hosts until the
    engine ends it, so modules must not see each other's sessions.
    """
    work = tmp_path_factory.mktemp("controller")
    port = free_port()
    log = work / "fenix.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "fenix"),
                "serve",
                "--port",
                str(port),
                "--db",
                f"sqlite:///{work}/f.db",
                "--sim-hosts",
                "4",
            ],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/v1/maintenance", process, log)
        yield Service(url, process, log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def sim_cloud(tmp_path_factory) -> Iterator[Service]:
    """A simulated cloud of its own (4 hosts, 2 projects of 4 instances), for the host modules."""
    work = tmp_path_factory.mktemp("sim-cloud")
    port = free_port()
    log = work / "sim.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "fenix"),
                "sim-cloud",
                "--port",
                str(port),
                "--hosts",
                "4",
                "--live-migrate-seconds",
                "0.2",
                "--migrate-seconds",
                "0.3",
            ],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/v1/hosts", process, log)
        yield Service(url, process, log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory) -> Path:
    """An ansible_collections/fenix/maintenance tree whose collection is this repository."""
    tree = tmp_path_factory.mktemp("collections")
    (tree / "ansible_collections" / "fenix").mkdir(parents=True)
    (tree / "ansible_collections" / "fenix" / "maintenance").symlink_to(ROOT)
    return tree


@pytest.fixture(scope="session")
def ansible_env(collections_path, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("ansible-home")
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_COLLECTIONS_PATH=str(collections_path),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(home / "remote-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    for name in ("FENIX_URL", "FENIX_TOKEN", "FENIX_SIM_URL"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="session")
def run_playbook(ansible_env):
    """Run ansible-playbook; returns the finished process (stdout and stderr together)."""

    def run(*args: str, timeout: float = 240, extra_env: dict | None = None):
        env = dict(ansible_env, **(extra_env or {}))
        return subprocess.run(
            [str(BIN / "ansible-playbook"), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


def have(tool: str) -> bool:
    return (BIN / tool).exists() or shutil.which(tool) is not None
