"""How a sample VNFM behaves, as one typed object.

The demo starts one VNFM per project and tests start VNFMs that misbehave on purpose (slow,
silent, NACKing); every such knob lives here so the manager itself has no hidden settings.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

INSTANCE_ACTIONS = frozenset({"MIGRATE", "LIVE_MIGRATE", "OWN_ACTION", "EVICTION"})
SUBSCRIBE_FORMATS = frozenset({"fenix", "aodh"})


class VnfmCloud(Protocol):
    """The part of a cloud driver the sample VNFM uses to scale and to move its own instances.

    The simulated cloud driver has these methods; ``list_instances(project_id=...)`` is used too
    when the object has it (to choose what to scale in), but is not required.
    """

    def create_instance(self, project_id: str) -> Any: ...

    def delete_instance(self, instance_id: str) -> Any: ...

    def live_migrate(self, instance_id: str, target_host: str | None = None) -> str: ...

    def wait_action(self, action_id: str, timeout: float) -> Any: ...


@dataclass
class VnfmConfig:
    """Settings of one sample VNFM (one project's manager)."""

    controller_url: str
    project_id: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    """0 takes a free port."""
    callback_host: str | None = None
    """Host name put in the callback URL the controller posts to; default listen_host."""
    instance_action: str = "LIVE_MIGRATE"
    """Answered for every affected instance: MIGRATE, LIVE_MIGRATE, OWN_ACTION or EVICTION."""
    reply_delay: float = 0.0
    """Seconds to wait before each reply (a slow manager)."""
    nack_states: frozenset[str] = field(default_factory=frozenset)
    """Steps answered with NACK_<STATE>, e.g. {"MAINTENANCE"}."""
    silent: bool = False
    """Never reply (a manager that is subscribed but dead)."""
    scale_in: int = 1
    """How many instances to remove on SCALE_IN (re-created on MAINTENANCE_COMPLETE)."""
    token: str | None = None
    """Sent as X-Auth-Token on every call to the controller when set."""
    secret: str | None = None
    """HMAC-SHA256 key it subscribes with: only posts signed with it (X-Fenix-Signature) are
    taken. A random one when not given."""
    subscribe_format: str = "fenix"
    """Delivery format asked for when subscribing: "fenix" or "aodh" (both are understood)."""
    cloud: VnfmCloud | None = None
    """Lets the VNFM scale and move its instances itself; without it, it only answers."""
    http_timeout: float = 10.0
    """Timeout of every HTTP call to the controller, in seconds."""
    action_timeout: float = 300.0
    """How long to wait for each of its own moves (OWN_ACTION), in seconds."""

    def __post_init__(self) -> None:
        self.controller_url = self.controller_url.rstrip("/")
        self.instance_action = self.instance_action.upper()
        if self.instance_action not in INSTANCE_ACTIONS:
            raise ValueError(
                f"instance_action {self.instance_action!r} is not one of "
                f"{', '.join(sorted(INSTANCE_ACTIONS))}"
            )
        if self.subscribe_format not in SUBSCRIBE_FORMATS:
            raise ValueError(
                f"subscribe_format {self.subscribe_format!r} is not one of "
                f"{', '.join(sorted(SUBSCRIBE_FORMATS))}"
            )
        if self.reply_delay < 0:
            raise ValueError("reply_delay must be 0 or more seconds")
        if self.scale_in < 0:
            raise ValueError("scale_in must be 0 or more")
        self.nack_states = _state_names(self.nack_states)
        if not self.secret:
            self.secret = secrets.token_hex(32)


def _state_names(states: Iterable[str]) -> frozenset[str]:
    if isinstance(states, str):  # a lone "MAINTENANCE" would otherwise become its letters
        states = [states]
    return frozenset(state.strip().upper() for state in states if state.strip())
