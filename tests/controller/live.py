"""A live controller for tests: simulated cloud, Runtime with its engine, the API on a free port.

Everything is real: HTTP over sockets, the database (a SQLite file or PostgreSQL), the engine's
threads, the simulated cloud's timed moves, API tokens (the admin's for `http`, each project's
for its manager). Only the durations are short.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from fenix.app import create_app
from fenix.config import Settings, TokenGrant
from fenix.drivers.base import CloudDriver
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.vnfm import SampleVnfm, VnfmConfig
from fenix.wsgi import serve_in_thread

FAST_CLOUD = {"migrate_seconds": 0.1, "live_migrate_seconds": 0.05, "maintain_seconds": 0.05}
FINAL = ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")


def wait_until(predicate, timeout: float = 60.0, what: str = "condition"):
    """Poll `predicate` until it returns something true; fail the test after `timeout`.

    The timeout only bounds a failure: a loaded machine (four test workers on two cores, and
    whatever else runs) may take many times an idle one's seconds to reach a state."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what} not reached after {timeout} s"
        time.sleep(0.05)
    return value


def live_tokens(projects: int) -> dict[str, TokenGrant]:
    """API tokens: "admin-token" and "<project>-token" for project-1 ... project-<projects>."""
    tokens = {"admin-token": TokenGrant(role="admin")}
    for index in range(1, projects + 1):
        tokens[f"project-{index}-token"] = TokenGrant(role="member", project=f"project-{index}")
    return tokens


@dataclass
class LiveController:
    url: str
    sim_url: str
    runtime: Runtime
    cloud: Any
    http: requests.Session = field(default_factory=requests.Session)
    """The admin's: it sends the admin token."""
    managers: list[SampleVnfm] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.admin_token:
            self.http.headers["X-Auth-Token"] = self.admin_token

    @property
    def admin_token(self) -> str | None:
        tokens = self.runtime.settings.tokens
        return next((t for t, grant in tokens.items() if grant.role == "admin"), None)

    def token_for(self, project_id: str) -> str | None:
        """The project's API token (None when the controller runs without tokens)."""
        tokens = self.runtime.settings.tokens
        return next((t for t, grant in tokens.items() if grant.project == project_id), None)

    def add_manager(self, project_id: str, **options: Any) -> SampleVnfm:
        options.setdefault("cloud", SimulatedDriver(self.sim_url))
        options.setdefault("token", self.token_for(project_id))
        vnfm = SampleVnfm(VnfmConfig(controller_url=self.url, project_id=project_id, **options))
        self.managers.append(vnfm.start())
        return vnfm

    def create_session(self, **body: Any) -> str:
        body = {"state": "MAINTENANCE", "hosts": [], **body}
        response = self.http.post(f"{self.url}/v1/maintenance", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["session_id"]

    def detail(self, session_id: str) -> dict:
        response = self.http.get(f"{self.url}/v1/maintenance/{session_id}/detail", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, session_id: str) -> list[dict]:
        """The whole event log, page after page."""
        events: list[dict] = []
        since = 0
        while True:
            response = self.http.get(
                f"{self.url}/v1/maintenance/{session_id}/events",
                params={"since": since, "limit": 5000},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            page = response.json()
            events += page["events"]
            if not page["more"]:
                return events
            since = page["next"]

    def wait_for(self, session_id: str, states=FINAL, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            detail = self.detail(session_id)
            if detail["state"] in states:
                return detail
            assert time.monotonic() < deadline, f"still {detail['state']} after {timeout} s"
            time.sleep(0.05)

    def cloud_report(self) -> dict:
        return SimulatedDriver(self.sim_url).report()


class LiveStack:
    """Builds LiveControllers and stops everything they started, newest first."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self._stops: list = []

    def start(
        self, cloud: dict | None = None, driver: CloudDriver | None = None, **settings: Any
    ) -> LiveController:
        """``driver``: the cloud the controller drives instead of the simulated one (which
        then only idles); the Runtime closes it when it stops."""
        config = SimulatedCloudConfig(**{**FAST_CLOUD, **(cloud or {})})
        sim, sim_server = start_sim_cloud(config)
        self._stops += [sim.close, sim_server.stop]
        values = {
            "database_url": self.database_url,
            "artifacts_dir": str(self.tmp_path / "artifacts"),
            "sim_url": sim_server.url,
            "reply_window": 5.0,
            "long_reply_window": 5.0,
            "tokens": live_tokens(max(config.projects, 4)),
            **settings,
        }
        runtime = Runtime(Settings(**values), driver=driver)
        api = serve_in_thread(create_app(runtime), name="api")
        runtime.settings.public_url = api.url
        runtime.start()
        self._stops += [runtime.stop, api.stop]
        live = LiveController(api.url, sim_server.url, runtime, sim)
        self._stops.append(lambda: [m.stop() for m in live.managers])
        return live

    def close(self) -> None:
        for stop in reversed(self._stops):
            stop()
