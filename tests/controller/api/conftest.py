"""A real controller app per test: a Runtime on a fresh database (each backend in turn, see
`database_url`), the engine off, and a
simulated cloud served over HTTP (hosts compute-1..3 and controller-1, projects project-1..2).

The app checks API tokens as a deployed controller does (`TOKENS`); `client` is the admin's,
`client_as(token)` anyone's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fenix.app import create_app
from fenix.config import Settings
from fenix.db import models
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.timeutil import utcnow

from .helpers import ADMIN_TOKEN, TOKENS


@pytest.fixture
def sim_url() -> Iterator[str]:
    config = SimulatedCloudConfig(hosts=3, projects=2, instances=2, controllers=1)
    cloud, handle = start_sim_cloud(config)
    yield handle.url
    handle.stop()
    cloud.close()


def runtime_with(database_url: str, sim_url: str, **settings: Any) -> Iterator[Runtime]:
    """A Runtime as `runtime` makes it, with these settings as well (a module's own
    `runtime` fixture yields from it)."""
    every = Settings(database_url=database_url, run_engine=False, tokens=TOKENS, **settings)
    rt = Runtime(every, driver=SimulatedDriver(sim_url, timeout=5.0))
    yield rt
    rt.stop()


@pytest.fixture
def runtime(database_url: str, sim_url: str) -> Iterator[Runtime]:
    yield from runtime_with(database_url, sim_url)


@pytest.fixture
def quiet_client(database_url: str, sim_url: str) -> Iterator[FlaskClient]:
    """The admin's client of a second app on the same database that answers every read from
    the database (its API never busy), to compare a busy one's answers with."""
    for rt in runtime_with(database_url, sim_url):
        quiet = create_app(rt).test_client()
        quiet.environ_base["HTTP_X_AUTH_TOKEN"] = ADMIN_TOKEN
        yield quiet


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime)


@pytest.fixture
def client_as(app: Flask) -> Callable[[str | None], FlaskClient]:
    """A test client that sends this X-Auth-Token on every request (None: no token)."""

    def make(token: str | None) -> FlaskClient:
        test_client = app.test_client()
        if token is not None:
            test_client.environ_base["HTTP_X_AUTH_TOKEN"] = token
        return test_client

    return make


@pytest.fixture
def client(client_as: Callable[[str | None], FlaskClient]) -> FlaskClient:
    """The admin's client."""
    return client_as(ADMIN_TOKEN)


@pytest.fixture
def create_session(client: FlaskClient) -> Callable[..., str]:
    """POST /v1/maintenance with a minimal body plus overrides; returns the session id."""

    def create(**overrides: Any) -> str:
        body = {"state": "MAINTENANCE", "hosts": ["compute-1"], **overrides}
        response = client.post("/v1/maintenance", json=body)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["session_id"]

    return create


@pytest.fixture
def ask_project(runtime: Runtime) -> Callable[..., None]:
    """Do what the engine does when it tells a project of a step: set the project row."""

    def ask(session_id: str, project_id: str, step: str, instance_ids: list[str]) -> None:
        with runtime.db.transaction() as repo:
            session = repo.get_session(session_id)
            assert session is not None
            project = repo.project(session, project_id)
            project.step = step
            project.instance_ids = instance_ids
            project.reply = None
            project.replied_at = None
            project.instance_actions = {}
            project.notified_at = utcnow()

    return ask


@pytest.fixture
def set_session(runtime: Runtime) -> Callable[..., None]:
    """Change session columns directly, as the engine would (state, error, failed_in...)."""

    def set_(session_id: str, **fields: Any) -> None:
        with runtime.db.transaction() as repo:
            session = repo.get_session(session_id, with_deleted=True)
            assert session is not None
            for name, value in fields.items():
                setattr(session, name, value)

    return set_


@pytest.fixture
def count_rows(runtime: Runtime) -> Callable[[], dict[str, int]]:
    """Rows per table that a session create writes to."""
    tables = {
        "sessions": models.Session,
        "session_hosts": models.SessionHost,
        "action_plugins": models.ActionPlugin,
        "events": models.Event,
        "outbox": models.OutboxMessage,
    }

    def count() -> dict[str, int]:
        with runtime.db.transaction() as repo:
            return {
                name: repo.orm.scalar(select(func.count()).select_from(model))
                for name, model in tables.items()
            }

    return count
