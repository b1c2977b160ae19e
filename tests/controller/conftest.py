"""Fixtures shared by the controller's tests."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.controller.live import LiveStack

ADMIN_URL = os.environ.get("FENIX_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
"""The PostgreSQL server this machine runs; each test that asks gets a fresh database on it."""

BACKENDS = os.environ.get("FENIX_TEST_BACKENDS", "sqlite,postgresql").split(",")
"""The database backends every test that uses `database_url` runs on: both by default, as in
production either may be used. FENIX_TEST_BACKENDS=sqlite narrows a quick local run."""


def _backend_param(backend: str):
    """PostgreSQL runs count as slow (a database created and dropped per test): the quick loop,
    `pytest -m "not slow"`, runs each database test on SQLite only."""
    return pytest.param(backend, marks=pytest.mark.slow) if backend == "postgresql" else backend


@pytest.fixture(params=[_backend_param(backend) for backend in BACKENDS])
def database_url(request, tmp_path) -> str:
    """An empty database on each backend in turn: a SQLite file, then a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fenix.db'}"
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    raise pytest.UsageError(f"FENIX_TEST_BACKENDS: unknown backend {request.param!r}")


@pytest.fixture
def live_stack(tmp_path, database_url):
    """Start live controllers with `live_stack.start(cloud={...}, **settings)`, on the
    database of `database_url` (torn down after them)."""
    stack = LiveStack(tmp_path, database_url)
    yield stack
    stack.close()


@pytest.fixture
def postgres_url():
    """A fresh database on the PostgreSQL server, dropped after the test."""
    name = f"fenix_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _stoppers() -> Iterator[list[threading.Thread]]:
    """The threads that stop the simulators' servers in the background (a waitress loop takes
    up to 1 s to notice its close), joined once the tests are done."""
    threads: list[threading.Thread] = []
    yield threads
    for thread in threads:
        thread.join(10)
