"""Typed settings: from FENIX_* environment variables, then overridden by command-line flags.

Nothing is read at import time; `Settings()` reads the environment when it is built.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'fenix.db'}"


class TokenGrant(BaseModel):
    """What one static API token stands for: the admin, or a member of one project."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "member"]
    project: str | None = None

    @model_validator(mode="after")
    def _member_has_a_project(self) -> TokenGrant:
        if self.role == "member" and not self.project:
            raise ValueError('a "member" token needs a "project"')
        if self.role == "admin" and self.project:
            raise ValueError('an "admin" token has no "project": the admin acts for every one')
        return self


PlanFigure = Annotated[float | None, Field(ge=0, le=10**7)]


class PlanSeconds(BaseModel):
    """The seconds a plan preview assumes (POST /v1/maintenance/plan), each optional: moves by
    action, one host's maintenance, a manager's answer. Absent ones come from the simulated
    cloud's own figures (--cloud simulated) or round figures for a real cloud
    (fenix.planner.preview.Durations)."""

    model_config = ConfigDict(extra="forbid")

    live_migrate: PlanFigure = None
    migrate: PlanFigure = None
    evict: PlanFigure = None
    own_action: PlanFigure = None
    maintain: PlanFigure = None
    answer: PlanFigure = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FENIX_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    bind_host: str = "127.0.0.1"
    port: int = 12347
    public_url: str | None = None
    """Base URL managers use to reach this controller (reply_url, instance_ids)."""
    threads: int = 48
    """Request threads of each API process. Most of them wait (for the database, for a read
    slot below) rather than compute: enough that a manager's reply always finds one free."""
    read_slots: int = 4
    """Session reads (list, summary, detail, events) an API process builds at once; pollers
    beyond that wait their turn, while managers' replies and the admin's writes never do."""
    busy_reads: int = Field(default=50, ge=0)
    """Session reads a second past which an API process is busy: polls may then be given an
    answer built a moment ago for another poll (fenix.api.read_load)."""
    busy_read_max_age: float = Field(default=1.0, ge=0, le=10)
    """How old (seconds) such an answer may be (0: every read from the database). An admin's
    own changes to a session always show at once."""
    max_hosts: int = 10_000
    """The most hosts one session may name."""
    max_body_bytes: int = 1024 * 1024
    """The largest request body taken; a larger one is answered 413 before it is read."""
    connection_limit: int = 500
    """Connections served at once (idle ones included); more wait to be accepted."""
    idle_timeout: float = 15.0
    """Seconds an idle connection is kept open: a client that holds sockets without sending
    anything is disconnected after this."""

    cloud: Literal["simulated", "openstack", "kubernetes"] = "simulated"
    """The cloud driver (fenix.drivers.factory): the simulated cloud, OpenStack through
    openstacksdk, or Kubernetes through the kubernetes client."""
    os_cloud: str | None = None
    """openstack: the cloud's name in clouds.yaml; without it OS_CLOUD, else the OS_* variables."""
    os_region: str | None = None
    """openstack: the region, when the cloud has several."""
    kubeconfig: str | None = None
    """kubernetes: the kubeconfig file; without it $KUBECONFIG or ~/.kube/config, and inside a
    pod (with no kube_context either) the pod's service account."""
    kube_context: str | None = None
    """kubernetes: the kubeconfig's context; without it the file's current-context."""
    sim_url: str | None = None
    """URL of a running simulated cloud; without it `fenix serve` starts one in-process."""
    sim_hosts: int = 4
    sim_projects: int = 2
    sim_instances: int = 4
    sim_controllers: int = 0
    sim_zones: int = 0
    """Zones the in-process simulated cloud deals its compute hosts into (0: none)."""
    sim_migrate_seconds: float = 1.0
    sim_live_migrate_seconds: float = 0.5
    sim_maintain_seconds: float = 1.0

    run_engine: bool = True
    """Run sessions in this process. `fenix serve` runs them in a process of its own (the API
    processes set this false), `fenix serve --no-engine` nowhere, `fenix engine` only there."""
    run_delivery: bool = True
    """Deliver notifications from this process; the engine process does it under `fenix serve`."""
    engine_id: str | None = None
    engine_wake_socket: str | None = None
    """A Unix datagram socket the engine listens on, and the API processes send a wake to after
    each change the engine waits for (fenix.engine.wake); `fenix serve` sets it."""
    api_nice: int = Field(default=5, ge=0, le=19)
    """How much lower the API processes' CPU priority is than the engine's under `fenix serve`:
    on a busy machine the sessions get the CPU first, the pollers what is left (0: equal)."""
    api_workers: int = Field(default=1, ge=1, le=64)
    """API processes `fenix serve` runs on its one port; more than one needs a database that
    several processes can write at once (PostgreSQL), not SQLite."""
    poll_interval: float = 0.1
    lease_seconds: float = 15.0

    reply_window: float = 20.0
    """Seconds a manager has to answer MAINTENANCE, PREPARE_ and PLANNED_MAINTENANCE."""
    long_reply_window: float = 60.0
    """Seconds a manager has to answer SCALE_IN and MAINTENANCE_COMPLETE."""
    on_nack: Literal["fail", "continue"] = "fail"
    on_no_manager: Literal["default", "fail"] = "default"
    move_timeout: float = 600.0
    room_wait: float = 600.0
    """Seconds a move waits for a target with room while other sessions have hosts out of
    service (their room comes back with them) before the session fails for want of room."""
    own_action_timeout: float = 600.0
    plan_seconds: PlanSeconds = PlanSeconds()
    """What a plan preview assumes of this cloud, e.g. {"maintain": 900, "live_migrate": 20};
    a request's own `durations` override these."""

    retention_days: float = 30.0
    """Days after a session ended before the engine prunes its events, its delivered or dead
    notifications and its runner artifacts (the session's summary stays); 0 keeps them."""
    retention_check_seconds: float = 600.0
    """How often the engine looks for sessions to prune."""

    artifacts_dir: str = Field(default_factory=lambda: str(Path.cwd() / "fenix-artifacts"))
    """Where each action plug-in run keeps its private data dir and artifacts."""
    action_dirs: list[str] = []
    """Directories searched for action plug-in playbooks before the built-in ones."""
    action_inventory: str | None = None
    """Inventory for action plug-ins; without one, plug-ins run on this machine (simulated)."""
    default_actions: dict[str, list[dict]] = {}
    """Action plug-ins per workflow for sessions that name none: {"default": [{"plugin",...}]}."""

    allow_http_downloads: bool = False
    """Let sessions download plug-ins over plain http (a mirror on a trusted network); https
    otherwise. Every download is checked against the SHA-256 its URL names either way."""
    allow_unverified_downloads: bool = False
    """Let sessions download plug-ins whose URL names no SHA-256 (`#sha256=...`), as Fenix's
    own samples do: such content is run unchecked, so only for sources the operator trusts."""

    delivery_timeout: float = 30.0
    """`fenix` format: wall-clock seconds one delivery may take, connect to last byte read.
    Generous, because a receiver that is slow but answers must not be sent a copy."""
    aodh_delivery_timeout: float | None = None
    """`aodh` format: wall-clock seconds one delivery may take. AODH waits for the answer and
    Fenix's managers work inside the POST handler, so by default the longest reply window."""
    delivery_connect_timeout: float = 5.0
    """Seconds to make the connection (DNS, TCP, TLS) of one delivery."""
    delivery_concurrency: int = 256
    """Deliveries in flight at once, over every subscriber (each has at most one)."""
    delivery_project_share: int = 16
    """Deliveries in flight at once for one project's subscriptions: its managers, however
    slow, hold no more of the delivery capacity than that."""
    subscriptions_per_project: int = 20
    """Subscriptions one project may hold; beyond it a new one is refused (409)."""
    callback_allow_networks: list[str] = []
    """Networks (CIDR) a callback_url may point into although they are not public: loopback,
    private, link-local... are refused unless listed here, e.g. ["127.0.0.0/8"] when the
    managers run on this host."""
    gate_allow_networks: list[str] = []
    """Networks (CIDR) a session's Prometheus gate may query although they are not public
    (e.g. ["10.0.0.0/8"] where Prometheus runs); link-local, loopback and private addresses
    are refused otherwise, as for callbacks."""
    delivery_max_attempts: int = 6
    """Attempts before a notification is marked dead (shown in the session's detail). With the
    default backoff a manager that refuses connections is given up on after about 16 s, inside
    the 20 s reply window, so the conversation need not wait the window out for it."""
    delivery_backoff: float = 0.5
    """Seconds before the first retry; doubled after each failure, up to delivery_backoff_max."""
    delivery_backoff_max: float = 60.0

    transport_url: str | None = None
    """oslo.messaging transport (e.g. rabbit://guest:guest@127.0.0.1:5672/): notifications go
    onto the message bus too, from the same outbox as the webhooks."""
    notification_topics: list[str] = ["notifications"]
    bus_planned_event_type: Literal["maintenance.planned", "maintenance.scheduled"] = (
        "maintenance.planned"
    )
    """The name maintenance.planned goes out under on the bus; AODH consumers built for
    Fenix's code expect maintenance.scheduled."""

    secret_key: str | None = None
    """A Fernet key that encrypts subscription secrets in the database; without one they are
    stored unencrypted (fenix.db.sealed says how to make one)."""

    auth_strategy: Literal["tokens", "keystone"] = "tokens"
    """tokens: the static API tokens below; keystone: keystonemiddleware's auth_token."""
    tokens: dict[str, TokenGrant] = {}
    """Static API tokens (header X-Auth-Token): {"<token>": {"role": "admin"}, "<token>":
    {"role": "member", "project": "project-1"}}. With none at all (and no tokens_file) the API is
    open, which the controller allows only on a loopback address."""
    tokens_file: str | None = None
    """A JSON file of more tokens, in the shape of `tokens`."""
    keystone: dict[str, Any] = {}
    """auth_token middleware options, as in a paste [filter:authtoken] section (auth_url,
    www_authenticate_uri, auth_type, username, password, project_name, ...)."""
    keystone_admin_roles: list[str] = ["admin"]
    """Keystone roles that make the caller this controller's admin."""

    @field_validator("callback_allow_networks", "gate_allow_networks")
    @classmethod
    def _networks_in_cidr_form(cls, networks: list[str]) -> list[str]:
        """A mistyped network stops the controller at its start, not at the first delivery."""
        from fenix.notify.callbacks import parse_networks

        parse_networks(networks)
        return networks

    def controller_url(self) -> str:
        return self.public_url or f"http://{self.bind_host}:{self.port}"

    def binds_loopback_only(self) -> bool:
        """True when the API listens on a loopback address only (reachable from this host)."""
        if self.bind_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.bind_host).is_loopback
        except ValueError:
            return False
