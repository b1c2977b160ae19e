"""Typed settings: from FENIX_* environment variables, then overridden by command-line flags.

Nothing is read at import time; `Settings()` reads the environment when it is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'fenix.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FENIX_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    bind_host: str = "127.0.0.1"
    port: int = 12347
    public_url: str | None = None
    """Base URL managers use to reach this controller (reply_url, instance_ids)."""
    threads: int = 16

    cloud: Literal["simulated"] = "simulated"
    sim_url: str | None = None
    """URL of a running simulated cloud; without it `fenix serve` starts one in-process."""
    sim_hosts: int = 4
    sim_projects: int = 2
    sim_instances: int = 4
    sim_controllers: int = 0
    sim_migrate_seconds: float = 1.0
    sim_live_migrate_seconds: float = 0.5
    sim_maintain_seconds: float = 1.0

    run_engine: bool = True
    engine_id: str | None = None
    poll_interval: float = 0.1
    lease_seconds: float = 15.0

    reply_window: float = 20.0
    """Seconds a manager has to answer MAINTENANCE, PREPARE_ and PLANNED_MAINTENANCE."""
    long_reply_window: float = 60.0
    """Seconds a manager has to answer SCALE_IN and MAINTENANCE_COMPLETE."""
    on_nack: Literal["fail", "continue"] = "fail"
    on_no_manager: Literal["default", "fail"] = "default"
    move_timeout: float = 600.0
    own_action_timeout: float = 600.0

    artifacts_dir: str = Field(default_factory=lambda: str(Path.cwd() / "fenix-artifacts"))
    """Where each action plug-in run keeps its private data dir and artifacts."""
    action_dirs: list[str] = []
    """Directories searched for action plug-in playbooks before the built-in ones."""
    action_inventory: str | None = None
    """Inventory for action plug-ins; without one, plug-ins run on this machine (simulated)."""
    default_actions: dict[str, list[dict]] = {}
    """Action plug-ins per workflow for sessions that name none: {"default": [{"plugin",...}]}."""

    delivery_timeout: float = 5.0
    delivery_max_attempts: int = 8
    delivery_backoff: float = 0.5

    def controller_url(self) -> str:
        return self.public_url or f"http://{self.bind_host}:{self.port}"
