"""The two shapes a subscriber can receive: Fenix's own, and an AODH event alarm's POST.

VNFMs built for Fenix (Tacker, OPNFV Doctor) were called by AODH event alarms; with format
"aodh" they get exactly that body, so they work without Ceilometer or AODH.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fenix.states import FENIX_ERA_STEPS

AODH_FORMAT = "aodh"

_TRAIT_STRING = 1
_TRAIT_DATETIME = 4
_DATETIME_FIELDS = {"reply_at", "actions_at", "generated"}


def fenix_body(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_type": message["event_type"],
        "payload": message["payload"],
        "message_id": message["message_id"],
        "timestamp": message["timestamp"],
    }


_AODH_EVENT_TYPES = {"maintenance.planned": "maintenance.scheduled"}
"""AODH event alarms for Fenix are set on maintenance.scheduled, the name Fenix's code sent; a
subscription to either name gets that one."""


def aodh_body(message: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    event_type = _AODH_EVENT_TYPES.get(message["event_type"], message["event_type"])
    traits = []
    for name, value in message["payload"].items():
        kind = _TRAIT_DATETIME if name in _DATETIME_FIELDS else _TRAIT_STRING
        if isinstance(value, dict | list):
            value = json.dumps(value)
        traits.append([name, kind, value])
    return {
        "alarm_name": f"fenix-{event_type}",
        "alarm_id": subscription_id,
        "severity": "low",
        "previous": "insufficient data",
        "current": "alarm",
        "reason": f"Event <id={message['message_id']},event_type={event_type}>",
        "reason_data": {
            "type": "event",
            "event": {
                "message_id": message["message_id"],
                "event_type": event_type,
                "generated": message["timestamp"],
                "traits": traits,
            },
        },
    }


def receives(fmt: str, planned_state: str | None) -> bool:
    """Whether a subscriber of this format gets a maintenance.planned of this state: `aodh`
    subscribers (Fenix-era managers) only the steps Fenix sent them, the others every step."""
    return fmt != AODH_FORMAT or planned_state is None or planned_state in FENIX_ERA_STEPS


def encode(message: dict[str, Any], fmt: str, subscription_id: str) -> bytes:
    body = aodh_body(message, subscription_id) if fmt == AODH_FORMAT else fenix_body(message)
    return json.dumps(body, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """The X-Fenix-Signature header value: sha256=<hex HMAC of the exact body bytes>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute the signature of the bytes it got, compare in constant
    time. Verify before parsing the body; a missing or other-algorithm header fails."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)
