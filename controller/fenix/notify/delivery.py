"""Deliver the outbox: at least once, in order per subscriber, with backoff, then dead.

Each subscriber has at most one message in flight, and its next message waits until the one
before it is delivered or dead, so a manager sees the conversation in the order it happened.
A message is claimed before it is sent by pushing its next attempt past the send's timeout, in
one conditional UPDATE: a second controller on the same database does not send it at the same
time, and a controller killed mid-send leaves it to be sent again once the claim runs out.

Every attempt carries the message's id (`message_id` in the body and the X-Fenix-Message-Id
header) so a receiver can drop the copies at-least-once delivery may make; with a secret, the
body is signed (X-Fenix-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>).
Redirects are never followed: a callback URL that answers 3xx has failed.

A message that still fails after `delivery_max_attempts` is marked DEAD: recorded in the
session's event log, shown in its detail, and, for a step a manager must answer, taken by the
conversation as that manager not answering (fenix.notify.notifier.undeliverable).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests

from fenix.config import Settings
from fenix.db.database import Database
from fenix.db.models import OutboxMessage
from fenix.db.repository import Repository
from fenix.notify.bus import BUS_FORMAT, BusSender
from fenix.notify.formats import encode, signature
from fenix.notify.notifier import DEAD, DELIVERED, PENDING
from fenix.timeutil import utcnow

LOG = logging.getLogger(__name__)

_CLAIM_MARGIN = 5.0
"""Seconds a claim outlives the send (connect and read timeouts), before another may take over.
A controller killed mid-send leaves its message to be sent again that much later."""


@dataclass(frozen=True)
class _Job:
    outbox_id: int
    subscription_id: str
    url: str
    body: bytes
    secret: str | None
    message_id: str
    envelope: dict[str, Any]
    to_bus: bool


class DeliveryWorker:
    def __init__(self, db: Database, settings: Settings, bus: BusSender | None = None) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._in_flight: set[str] = set()
        self._queued: set[int] = set()
        """Claimed outbox rows whose send has not begun (released if we stop first)."""
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="delivery")
        self._http = requests.Session()
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()
        with self._lock:
            unsent, self._queued = sorted(self._queued), set()
        if unsent:  # claimed but never tried: due again now, for whichever worker runs next
            with self.db.transaction() as repo:
                repo.release_outbox(unsent, utcnow())

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                jobs = self._due_jobs()
            except Exception:
                # A database hiccup (locked, restarting) must not end delivery for good.
                LOG.exception("could not read the outbox; trying again")
                jobs = []
            for job in jobs:
                self._pool.submit(self._deliver, job)
            self._wake.wait(0.1)
            self._wake.clear()

    def _claim_seconds(self) -> float:
        return 2 * self.settings.delivery_timeout + _CLAIM_MARGIN

    def _due_jobs(self) -> list[_Job]:
        jobs = []
        now = utcnow()
        with self.db.transaction() as repo:
            for message in repo.due_outbox(now):
                with self._lock:
                    if message.subscription_id in self._in_flight:
                        continue
                subscription = repo.get_subscription(message.subscription_id)
                if subscription is None:
                    self._dead(repo, message, "subscription was deleted", None)
                    continue
                to_bus = subscription.format == BUS_FORMAT
                if to_bus and self.bus is None:
                    continue  # another controller, configured with the transport, sends it
                claim = now + timedelta(seconds=self._claim_seconds())
                if not repo.claim_outbox(message.id, now, claim):
                    continue  # another controller took it first
                with self._lock:
                    self._in_flight.add(message.subscription_id)
                    self._queued.add(message.id)
                body = b"" if to_bus else encode(message.body, subscription.format, subscription.id)
                jobs.append(
                    _Job(
                        message.id,
                        subscription.id,
                        subscription.callback_url,
                        body,
                        subscription.secret,
                        message.message_id,
                        message.body,
                        to_bus,
                    )
                )
        return jobs

    def _deliver(self, job: _Job) -> None:
        with self._lock:
            self._queued.discard(job.outbox_id)
        try:
            error = self._send_to_bus(job) if job.to_bus else self._post(job)
            self._record(job, error)
        except Exception:
            LOG.exception("delivery of %s to %s failed unexpectedly", job.message_id, job.url)
        finally:
            with self._lock:
                self._in_flight.discard(job.subscription_id)
            self._wake.set()

    def _post(self, job: _Job) -> str | None:
        headers = {"Content-Type": "application/json", "X-Fenix-Message-Id": job.message_id}
        if job.secret:
            headers["X-Fenix-Signature"] = signature(job.secret, job.body)
        try:
            response = self._http.post(
                job.url,
                data=job.body,
                headers=headers,
                timeout=self.settings.delivery_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        if 300 <= response.status_code < 400:
            where = response.headers.get("Location", "nowhere")
            return f"HTTP {response.status_code} redirect to {where} (redirects are not followed)"
        return f"HTTP {response.status_code}"

    def _send_to_bus(self, job: _Job) -> str | None:
        assert self.bus is not None
        try:
            self.bus.send(job.envelope)
        except Exception as exc:  # oslo.messaging's failures have no common base class
            return f"{type(exc).__name__}: {exc}"
        return None

    def _record(self, job: _Job, error: str | None) -> None:
        with self.db.transaction() as repo:
            message = repo.get_outbox(job.outbox_id)
            if message is None or message.state != PENDING:
                return  # another controller finished it meanwhile
            message.attempts += 1
            if error is None:
                message.state = DELIVERED
                message.delivered_at = utcnow()
                message.last_error = None
                return
            message.last_error = error
            if message.attempts >= self.settings.delivery_max_attempts:
                self._dead(repo, message, error, job.url)
                return
            delay = self.settings.delivery_backoff * 2 ** (message.attempts - 1)
            delay = min(delay, self.settings.delivery_backoff_max)
            message.next_attempt_at = utcnow() + timedelta(seconds=delay)
            LOG.info(
                "delivery of %s to %s failed (attempt %d): %s; next in %.1f s",
                job.message_id,
                job.url,
                message.attempts,
                error,
                delay,
            )

    @staticmethod
    def _dead(repo: Repository, message: OutboxMessage, error: str, url: str | None) -> None:
        message.state = DEAD
        message.last_error = error
        repo.add_event(
            message.session_id,
            "notification.dead",
            message.project_id,
            None,
            message.event_type,
            {
                "subscription_id": message.subscription_id,
                "message_id": message.message_id,
                "callback_url": url,
                "error": error,
                "attempts": message.attempts,
            },
        )
        LOG.warning(
            "delivery of %s to %s is dead after %d attempts: %s",
            message.message_id,
            url or message.subscription_id,
            message.attempts,
            error,
        )
