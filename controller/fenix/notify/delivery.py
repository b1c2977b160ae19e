"""Deliver the outbox over HTTP: at least once, in order per subscriber, with backoff.

Each subscriber has at most one message in flight, and its next message waits until the one
before it is delivered or dead, so a manager sees the conversation in the order it happened.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import requests

from fenix.config import Settings
from fenix.db.database import Database
from fenix.notify.formats import encode, signature
from fenix.timeutil import utcnow

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    outbox_id: int
    subscription_id: str
    url: str
    body: bytes
    secret: str | None
    message_id: str


class DeliveryWorker:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._in_flight: set[str] = set()
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

    def _loop(self) -> None:
        while not self._stop.is_set():
            for job in self._due_jobs():
                self._pool.submit(self._deliver, job)
            self._wake.wait(0.1)
            self._wake.clear()

    def _due_jobs(self) -> list[_Job]:
        jobs = []
        with self.db.transaction() as repo:
            for message in repo.due_outbox(utcnow()):
                with self._lock:
                    if message.subscription_id in self._in_flight:
                        continue
                subscription = repo.get_subscription(message.subscription_id)
                if subscription is None:
                    message.state = "DEAD"
                    message.last_error = "subscription was deleted"
                    continue
                with self._lock:
                    self._in_flight.add(message.subscription_id)
                jobs.append(
                    _Job(
                        message.id,
                        subscription.id,
                        subscription.callback_url,
                        encode(message.body, subscription.format, subscription.id),
                        subscription.secret,
                        message.message_id,
                    )
                )
        return jobs

    def _deliver(self, job: _Job) -> None:
        try:
            error = self._post(job)
            self._record(job, error)
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
        return f"HTTP {response.status_code}"

    def _record(self, job: _Job, error: str | None) -> None:
        with self.db.transaction() as repo:
            message = repo.get_outbox(job.outbox_id)
            if message is None:
                return
            message.attempts += 1
            if error is None:
                message.state = "DELIVERED"
                message.delivered_at = utcnow()
                return
            message.last_error = error
            if message.attempts >= self.settings.delivery_max_attempts:
                message.state = "DEAD"
                repo.add_event(
                    message.session_id,
                    "notification.dead",
                    message.project_id,
                    data={"callback_url": job.url, "error": error, "attempts": message.attempts},
                )
                LOG.warning(
                    "delivery to %s is dead after %d attempts: %s", job.url, message.attempts, error
                )
                return
            delay = self.settings.delivery_backoff * 2 ** (message.attempts - 1)
            message.next_attempt_at = utcnow() + timedelta(seconds=min(delay, 60.0))
