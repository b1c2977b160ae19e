"""Notifications onto the message bus through oslo.messaging, from the same durable outbox.

The bus is one more subscriber: a subscription row with a fixed id (`BUS_SUBSCRIPTION_ID`),
kept by the Runtime while a transport URL is configured, so every event gets an outbox row for
the bus in the transaction that caused it, and goes out in order, retried, like a webhook.
Controllers that share a database must therefore share FENIX_TRANSPORT_URL too: each one makes
the row match its own configuration when it starts.

oslo.messaging's Notifier makes its own message id and logs (and swallows) a failed send. The
outbox needs the opposite: the message id the row was written with (so a consumer can drop a
resend), and to learn of a failure (so the row is retried). So the envelope is the one
`notifier.envelope` made, and it is handed to the notification transport the way the
messagingv2 driver does, with the failure left to raise.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fenix.config import Settings
from fenix.db.models import Subscription
from fenix.db.repository import Repository
from fenix.db.subscribers import Subscriber
from fenix.openstack_imports import import_openstack
from fenix.states import EventType

LOG = logging.getLogger(__name__)

BUS_SUBSCRIPTION_ID = "oslo.messaging"
BUS_FORMAT = "oslo.messaging"
BUS_EVENT_TYPES = [str(EventType.PLANNED), str(EventType.HOST), str(EventType.SESSION)]
_CREDENTIALS = re.compile(r"([/,][^:/@,]*):[^@/,]*@")
"""user:password@ of each broker in a (possibly multi-broker) transport URL."""
_MESSAGE_FORMAT = 2.0
"""messagingv2: the {"oslo.version", "oslo.message"} envelope consumers expect."""


def masked_url(url: str) -> str:
    """The transport URL without its passwords (one per broker), fit to show or to log."""
    return _CREDENTIALS.sub(r"\1:***@", url)


def is_bus(subscription: Subscription | Subscriber) -> bool:
    return subscription.id == BUS_SUBSCRIPTION_ID


def sync_bus_subscription(repo: Repository, settings: Settings) -> None:
    """Keep the bus subscription row in step with the configuration: there iff a transport."""
    row = repo.get_subscription(BUS_SUBSCRIPTION_ID)
    if settings.transport_url is None:
        if row is not None:
            repo.delete_row(row)
            repo.add_event(None, "subscription.deleted", BUS_SUBSCRIPTION_ID)
        return
    fields = {
        "project_id": None,
        "event_types": BUS_EVENT_TYPES,
        "callback_url": masked_url(settings.transport_url),
        "secret": None,
        "format": BUS_FORMAT,
    }
    if row is None:
        repo.add_subscription(id=BUS_SUBSCRIPTION_ID, **fields)
        repo.add_event(None, "subscription.created", BUS_SUBSCRIPTION_ID, data=fields)
        return
    for name, value in fields.items():
        setattr(row, name, value)


def _oslo() -> tuple[Any, Any]:
    """oslo.messaging and oslo.config, imported only when a transport is configured."""
    try:
        oslo_messaging, cfg = import_openstack("oslo_messaging", "oslo_config.cfg")
    except ImportError as exc:
        raise RuntimeError(
            f"FENIX_TRANSPORT_URL is set but oslo.messaging is missing ({exc}); "
            "install it: pip install 'fenix-ansible[bus]', or unset FENIX_TRANSPORT_URL"
        ) from exc
    return oslo_messaging, cfg


class BusSender:
    """Sends outbox envelopes as oslo.messaging notifications (priority info) to the topics."""

    def __init__(self, settings: Settings) -> None:
        if not settings.transport_url:
            raise ValueError("BusSender needs settings.transport_url")
        self._messaging, cfg = _oslo()
        self.url = masked_url(settings.transport_url)
        self.topics = list(settings.notification_topics)
        self.planned_as = settings.bus_planned_event_type
        self._conf = cfg.ConfigOpts()
        self._transport = self._messaging.get_notification_transport(
            self._conf, url=settings.transport_url
        )

    def message(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The bus message for an outbox envelope: maintenance.planned renamed if configured."""
        event_type = envelope["event_type"]
        if event_type in (EventType.PLANNED, EventType.SCHEDULED):
            event_type = self.planned_as
        return {
            "message_id": envelope["message_id"],
            "publisher_id": envelope.get("publisher_id", "fenix"),
            "event_type": event_type,
            "priority": envelope.get("priority", "info"),
            "payload": envelope["payload"],
            "timestamp": envelope["timestamp"],
        }

    def send(self, envelope: dict[str, Any]) -> None:
        """Put one notification on every topic; raises when the bus did not take it."""
        message = self.message(envelope)
        priority = str(message["priority"]).lower()
        for topic in self.topics:
            target = self._messaging.Target(topic=f"{topic}.{priority}")
            # retry=0: fail now and let the outbox retry with its backoff, instead of blocking
            # this delivery thread on a broker that is down.
            self._transport._send_notification(
                target, {}, message, version=_MESSAGE_FORMAT, retry=0
            )

    def close(self) -> None:
        self._transport.cleanup()
