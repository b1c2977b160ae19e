"""Notifications on the message bus: RabbitMQ at 127.0.0.1:5672, read back by a real
oslo.messaging notification listener, each test on a topic of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from fenix.config import Settings
from fenix.db.models import OutboxMessage
from fenix.notify import notifier
from fenix.notify.bus import BUS_SUBSCRIPTION_ID, BusSender, masked_url, sync_bus_subscription
from fenix.notify.delivery import DeliveryWorker
from fenix.states import EventType
from tests.controller.live import wait_until

from .conftest import FAST_DELIVERY, settled, subscribe

pytestmark = pytest.mark.slow

RABBIT_URL = os.environ.get("FENIX_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
RABBIT_ADDRESS = ("127.0.0.1", 5672)


def _oslo() -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eventlet's deprecation, on import
        import oslo_messaging
        from oslo_config import cfg
    return oslo_messaging, cfg


def _rabbit_answers() -> bool:
    try:
        with socket.create_connection(RABBIT_ADDRESS, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def rabbit_url() -> str:
    """The broker this machine runs; started (rabbitmq-server -detached) if it is down."""
    if not _rabbit_answers() and shutil.which("rabbitmq-server"):
        subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)
        deadline = time.monotonic() + 90
        while not _rabbit_answers() and time.monotonic() < deadline:
            time.sleep(1)
    if not _rabbit_answers():
        pytest.fail(
            f"RabbitMQ is not reachable at {RABBIT_ADDRESS[0]}:{RABBIT_ADDRESS[1]}: start it "
            "with `rabbitmq-server -detached` (or set FENIX_TEST_RABBIT_URL)"
        )
    return RABBIT_URL


@dataclass
class Heard:
    """Notifications a listener received, in the order it received them."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def info(self, ctxt, publisher_id, event_type, payload, metadata) -> None:
        with self.lock:
            self.messages.append(
                {
                    "publisher_id": publisher_id,
                    "event_type": event_type,
                    "payload": payload,
                    "message_id": metadata["message_id"],
                    "timestamp": metadata["timestamp"],
                }
            )

    def of(self, event_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["event_type"] == event_type]

    def all(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages)


@pytest.fixture
def listen(rabbit_url) -> Iterator[Callable[[str], Heard]]:
    """Start a notification listener on `<topic>.info`; stopped and its queue deleted after."""
    oslo_messaging, cfg = _oslo()
    started: list[tuple[Any, Any, str]] = []

    def start(topic: str) -> Heard:
        conf = cfg.ConfigOpts()
        transport = oslo_messaging.get_notification_transport(conf, url=rabbit_url)
        heard = Heard()
        listener = oslo_messaging.get_notification_listener(
            transport, [oslo_messaging.Target(topic=topic)], [heard], executor="threading"
        )
        conf.set_override("executor_thread_pool_size", 1)  # one at a time: arrival order
        listener.start()
        started.append((listener, transport, topic))
        return heard

    yield start
    for listener, transport, topic in started:
        listener.stop()
        listener.wait()
        transport.cleanup()
        _delete_queue(f"{topic}.info")


def _delete_queue(name: str) -> None:
    import kombu

    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as connection:
        connection.default_channel.queue_delete(name)


def _topic() -> str:
    return f"fenix-test-{uuid.uuid4().hex[:12]}"


# -- a whole session -------------------------------------------------------------------------
def test_a_session_is_told_on_the_bus_in_order_with_the_outbox_message_ids(listen, live_stack):
    topic = _topic()
    heard = listen(topic)
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 2},
        transport_url=RABBIT_URL,
        notification_topics=[topic],
    )
    live.add_manager("project-1")
    session_id = live.create_session()
    assert live.wait_for(session_id)["state"] == "MAINTENANCE_DONE"

    query = (
        select(OutboxMessage)
        .where(OutboxMessage.subscription_id == BUS_SUBSCRIPTION_ID)
        .order_by(OutboxMessage.id)
    )

    seen: list[str] = []

    def settled_and_heard():
        with live.runtime.db.transaction() as repo:  # a fresh read each time
            rows = list(repo.orm.scalars(query))
        delivered = [row for row in rows if row.state == "DELIVERED"]
        settled = all(row.state != "PENDING" for row in rows)
        seen[:] = [
            f"{row.message_id[:8]} {row.event_type} {row.state} attempts={row.attempts} "
            f"next={row.next_attempt_at:%H:%M:%S.%f} {row.last_error or ''}"
            for row in rows
        ] + [f"heard {m['message_id'][:8]} {m['event_type']}" for m in heard.all()]
        return rows if settled and len(heard.all()) == len(delivered) else None

    try:
        rows = wait_until(settled_and_heard, what="every bus message settled and heard")
    except AssertionError as failure:
        raise AssertionError("\n".join([str(failure), *seen])) from None
    sent = [(row.message_id, row.event_type) for row in rows if row.state == "DELIVERED"]
    # A question the manager answered (over its webhook) before the bus carried it is not
    # sent any more: nothing else is left out.
    assert {(row.state, row.last_error) for row in rows if row.state != "DELIVERED"} <= {
        ("DROPPED", "answered")
    }
    assert all(row.question for row in rows if row.state == "DROPPED")

    assert [(m["message_id"], m["event_type"]) for m in heard.all()] == sent
    assert {m["publisher_id"] for m in heard.all()} == {"fenix"}
    assert {m["event_type"] for m in heard.all()} == {
        "maintenance.planned",
        "maintenance.host",
        "maintenance.session",
    }
    # The first question (in the outbox's order) is MAINTENANCE, whether the bus carried it
    # (heard above, in order) or the manager answered it first over its webhook (DROPPED).
    first_ask = next(row for row in rows if row.event_type == "maintenance.planned").body["payload"]
    assert (first_ask["session_id"], first_ask["project_id"], first_ask["state"]) == (
        session_id,
        "project-1",
        "MAINTENANCE",
    )
    assert first_ask["reply_url"].endswith(f"/v1/maintenance/{session_id}/project-1")
    last = heard.of("maintenance.session")[-1]["payload"]
    assert (last["state"], last["percent_done"]) == ("MAINTENANCE_DONE", 100)
    hosts = {(m["payload"]["host"], m["payload"]["state"]) for m in heard.of("maintenance.host")}
    assert ("compute-1", "IN_MAINTENANCE") in hosts


def test_the_bus_shows_as_a_subscription_to_the_admin_only(listen, live_stack):
    topic = _topic()
    listen(topic)
    live = live_stack.start(
        cloud={"hosts": 2, "projects": 1, "instances": 1},
        transport_url=RABBIT_URL,
        notification_topics=[topic],
    )
    member = {"X-Auth-Token": live.token_for("project-1")}
    subscriptions = f"{live.url}/v1/subscriptions"

    listed = live.http.get(subscriptions, timeout=10).json()["subscriptions"]
    (bus,) = [s for s in listed if s["subscription_id"] == BUS_SUBSCRIPTION_ID]
    assert bus["callback_url"] == "rabbit://guest:***@127.0.0.1:5672/"
    assert bus["format"] == "oslo.messaging" and bus["project_id"] is None
    deleted = live.http.delete(f"{subscriptions}/{BUS_SUBSCRIPTION_ID}", timeout=10)
    assert deleted.status_code == 409
    assert "FENIX_TRANSPORT_URL" in deleted.json()["error"]["message"]
    as_member = live.http.get(subscriptions, headers=member, timeout=10).json()
    assert as_member["subscriptions"] == []


# -- the sender on its own -------------------------------------------------------------------
@pytest.fixture
def bus_worker(outbox_db) -> Iterator[Callable[..., DeliveryWorker]]:
    """A delivery worker with a bus sender for these settings, its bus subscription synced."""
    started: list[tuple[DeliveryWorker, BusSender]] = []

    def start(**overrides: Any) -> DeliveryWorker:
        settings = Settings(database_url=outbox_db.url, **{**FAST_DELIVERY, **overrides})
        with outbox_db.transaction() as repo:
            sync_bus_subscription(repo, settings)
        bus = BusSender(settings)
        worker = DeliveryWorker(outbox_db, settings, bus)
        worker.start()
        started.append((worker, bus))
        return worker

    yield start
    for worker, bus in started:
        worker.stop()
        bus.close()


def _ask(outbox_db, state: str = "MAINTENANCE") -> None:
    with outbox_db.transaction() as repo:
        notifier.emit(
            repo,
            EventType.PLANNED,
            {"service": "fenix", "session_id": "s", "project_id": "project-1", "state": state},
            session_id="s",
            project_id="project-1",
        )


@pytest.mark.parametrize("planned_as", ["maintenance.planned", "maintenance.scheduled"])
def test_maintenance_planned_goes_on_the_bus_under_the_configured_name(
    listen, bus_worker, outbox_db, planned_as
):
    topic = _topic()
    heard = listen(topic)
    bus_worker(
        transport_url=RABBIT_URL, notification_topics=[topic], bus_planned_event_type=planned_as
    )

    _ask(outbox_db)

    (message,) = wait_until(heard.all, what="the notification heard")
    assert message["event_type"] == planned_as
    assert message["payload"]["state"] == "MAINTENANCE"


def test_a_broker_that_is_down_gets_retries_then_dead_and_webhooks_go_on(
    receiver, bus_worker, outbox_db
):
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    hook = subscribe(
        outbox_db,
        receiver.script("/hook"),
        project_id="project-1",
        event_types=["maintenance.planned"],
    )
    bus_worker(
        transport_url=f"rabbit://guest:guest@127.0.0.1:{closed}/",
        notification_topics=[_topic()],
        delivery_max_attempts=3,
    )

    _ask(outbox_db)

    (to_bus,) = wait_until(lambda: settled(outbox_db, BUS_SUBSCRIPTION_ID), what="bus settled")
    assert (to_bus.state, to_bus.attempts) == ("DEAD", 3)
    assert "Connection refused" in to_bus.last_error
    (to_hook,) = wait_until(lambda: settled(outbox_db, hook), what="webhook settled")
    assert to_hook.state == "DELIVERED"
    # The bus is no manager: a project whose only listener is the bus has none.
    with outbox_db.transaction() as repo:
        assert notifier.has_manager(repo, "project-2") is False


def test_the_transport_password_is_never_shown():
    assert masked_url("rabbit://fenix:s3cret@mq1:5672,fenix:s3cret@mq2:5672/") == (
        "rabbit://fenix:***@mq1:5672,fenix:***@mq2:5672/"
    )
    assert masked_url("rabbit://fenix:s3cret@mq1:5672/vhost") == "rabbit://fenix:***@mq1:5672/vhost"
    assert masked_url("rabbit://mq1:5672/") == "rabbit://mq1:5672/"
