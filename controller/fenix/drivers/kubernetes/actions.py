"""One eviction the driver is carrying out, and its action id.

The action id spells out everything needed to finish the eviction (namespace, pod name, pod
uid, node, and the uid of the controller expected to replace the pod), so a driver in a new
controller process can wait on an action a previous process started: ``wait_action`` then
simply posts the eviction again (a no-op for a pod already terminating, a 404 for one gone).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fenix.drivers.base import ActionResult, DriverError

PREFIX = "evict"
NO_OWNER = "-"


@dataclass
class Eviction:
    namespace: str
    name: str
    uid: str
    node: str
    owner_uid: str | None
    """The ReplicaSet / StatefulSet / ReplicationController to wait on; None: wait for gone."""
    owner: str | None = None
    """``Kind/name`` of that owner, for messages (unknown after a restart)."""
    delay: float = 0.0
    """The wait before the next retry after a 429; doubles up to the driver's maximum."""
    next_try: float = 0.0
    refusals: int = 0
    refusal: str | None = None
    """The API server's last reason for refusing (the disruption budget's message)."""
    accepted: bool = False
    gone: bool = False
    siblings: set[str] | None = None
    """Uids of the owner's pods just before the eviction was accepted: a replacement is a pod
    not among them. None when unknown (the pod was already going when we looked, or this is a
    restarted controller): then any serving pod of the owner on another node will do."""
    outcome: ActionResult | None = None
    """Set once the eviction is DONE or FAILED."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def pod(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def action_id(self) -> str:
        owner = self.owner_uid or NO_OWNER
        return "/".join((PREFIX, self.namespace, self.name, self.uid, self.node, owner))

    @classmethod
    def from_action_id(cls, action_id: str) -> Eviction:
        parts = action_id.split("/")
        if len(parts) != 6 or parts[0] != PREFIX or not all(parts):
            raise DriverError(
                f"{action_id!r} is not an action id of the Kubernetes driver "
                "(expected evict/<namespace>/<pod>/<uid>/<node>/<owner uid or ->)"
            )
        _prefix, namespace, name, uid, node, owner_uid = parts
        return cls(namespace, name, uid, node, None if owner_uid == NO_OWNER else owner_uid)
