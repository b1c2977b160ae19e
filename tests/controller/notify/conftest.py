"""A webhook receiver that can be told to fail, hang or redirect, an outbox database, workers.

The receiver is a real HTTP server on a free port; what it does with each request comes from a
script (one action per request, then "ok"), and it records every request it was sent, even
those it then failed or answered too late, so tests can check what a subscriber really saw.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, Response, request
from sqlalchemy import select

from fenix.config import Settings
from fenix.db.database import Database
from fenix.db.models import OutboxMessage
from fenix.notify import notifier
from fenix.notify.delivery import DeliveryWorker
from fenix.states import EventType
from fenix.wsgi import serve_in_thread

SLOW_SECONDS = 3.0
"""How long a "slow" answer takes: well past the workers' delivery_timeout, which is itself
long enough for an ordinary answer on a loaded machine (a late answer means a second copy)."""
FAST_DELIVERY = {
    "delivery_timeout": 1.0,
    "delivery_backoff": 0.05,
    "delivery_backoff_max": 0.2,
    "delivery_max_attempts": 20,
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    """When it arrived (time.monotonic)."""

    @property
    def message_id(self) -> str:
        return self.headers["X-Fenix-Message-Id"]


@dataclass
class Receiver:
    """Scripted answers per path: "ok", "fail" (500), "slow" (200 too late), "redirect" (302)."""

    url: str = ""
    scripts: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refused_numbers: set[int] = field(default_factory=set)
    """maintenance.session messages (emit_sessions' numbers) answered 500 every time."""

    def script(self, path: str, *actions: str) -> str:
        """Queue these answers for `path`; returns the full callback URL."""
        with self.lock:
            self.scripts.setdefault(path, []).extend(actions)
        return f"{self.url}{path}"

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def answer(self) -> Response:
        with self.lock:
            self.received.append(Received(request.path, dict(request.headers), request.data))
            queue = self.scripts.get(request.path) or []
            action = queue.pop(0) if queue else "ok"
            number = (request.get_json(silent=True) or {}).get("payload", {}).get("number")
            if number in self.refused_numbers:
                action = "fail"
        if action == "fail":
            return Response("down for maintenance", status=500)
        if action == "slow":
            time.sleep(SLOW_SECONDS)
        if action == "redirect":
            return Response("", status=302, headers={"Location": f"{self.url}/elsewhere"})
        return Response("{}", status=200, content_type="application/json")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    app = Flask("receiver")
    app.add_url_rule("/<path:_path>", "hook", lambda _path: state.answer(), methods=["POST"])
    handle = serve_in_thread(app, threads=8, name="receiver")
    state.url = handle.url
    yield state
    handle.stop()


@pytest.fixture
def outbox_db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def start_worker(outbox_db: Database) -> Iterator[Callable[..., DeliveryWorker]]:
    """Start a delivery worker on the test database with fast retries (plus overrides)."""
    workers: list[DeliveryWorker] = []

    def start(**overrides: Any) -> DeliveryWorker:
        settings = Settings(database_url=outbox_db.url, **{**FAST_DELIVERY, **overrides})
        worker = DeliveryWorker(outbox_db, settings)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def subscribe(db: Database, callback_url: str, **fields: Any) -> str:
    values = {
        "project_id": None,
        "event_types": [str(EventType.SESSION)],
        "secret": None,
        "format": "fenix",
        **fields,
    }
    with db.transaction() as repo:
        return repo.add_subscription(callback_url=callback_url, **values).id


def emit_sessions(db: Database, count: int, session_id: str | None = None) -> None:
    """Emit `count` maintenance.session events, one transaction each, numbered in the payload."""
    for number in range(count):
        with db.transaction() as repo:
            notifier.emit(
                repo,
                EventType.SESSION,
                {"service": "fenix", "number": number, "state": "MAINTENANCE"},
                session_id=session_id,
                project_id=None,
            )


def outbox_rows(db: Database, subscription_id: str) -> list[OutboxMessage]:
    """The subscription's outbox rows, oldest first (detached: read their fields freely)."""
    with db.transaction() as repo:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.subscription_id == subscription_id)
            .order_by(OutboxMessage.id)
        )
        return list(repo.orm.scalars(query).all())


def settled(db: Database, subscription_id: str) -> list[OutboxMessage] | None:
    """The rows once none is pending any more (for wait_until), else None."""
    rows = outbox_rows(db, subscription_id)
    return rows if rows and all(row.state != "PENDING" for row in rows) else None
