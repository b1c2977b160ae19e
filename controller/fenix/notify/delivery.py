"""Deliver the outbox to each subscriber with the semantics of its format, fairly.

What a message is: a *question* (a step a project's manager must answer, open until its
`reply_at`) or a *notice* (needs no answer). A question is never sent once the project has
answered it or its window has closed: the conversation drops its pending copies
(fenix.notify.notifier.drop_questions) and the worker drops those whose window closed.

What a subscriber gets, by its format:
- `aodh`, as AODH's REST notifier posts an alarm action: one POST per message, the answer
  waited for up to a long deadline (Fenix's managers do their work inside the POST handler),
  and any HTTP answer, 2xx to 5xx, counts as delivered (its status is recorded). Only a
  connection that could not be made (refused, DNS, TLS) is tried again, with backoff, while the
  question's window is open. A message that reached the receiver is never sent again: such
  managers do not deduplicate.
- `fenix`: at least once, each copy with the same `message_id` (body and X-Fenix-Message-Id)
  to deduplicate by, signed with the subscription's secret (X-Fenix-Signature); a 2xx within a
  generous deadline is delivered, anything else is tried again with backoff, then DEAD.
- the message bus (fenix.notify.bus): as `fenix`, through oslo.messaging.

Order and fairness: each subscriber has at most one message in flight, and is sent its
messages in the order they were written, each the first time. A message waiting to be tried
again holds up nothing behind it, and a question goes ahead of a notice that has failed (the
reordering is recorded), so a notice a receiver keeps refusing never eats into a reply window.
A project's subscriptions hold at most `delivery_project_share` of the
`delivery_concurrency` deliveries in flight, so a tenant with slow receivers waits only for
itself (the sends are asynchronous: fenix.notify.webhook).

A message is claimed before it is sent by pushing its next attempt past the send's deadline,
in one conditional UPDATE: a second controller on the same database does not send it at the
same time, and a controller killed mid-send leaves it to be sent again once the claim runs out.
Redirects are never followed. A message given up on is DEAD: recorded in the session's event
log, shown in its detail, and, for a step a manager must answer, taken by the conversation as
that manager not answering (fenix.notify.notifier.undeliverable).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fenix.config import Settings
from fenix.db.database import Database
from fenix.db.models import OutboxMessage
from fenix.db.repository import Repository
from fenix.notify import notifier
from fenix.notify.bus import BUS_FORMAT, BusSender
from fenix.notify.callbacks import CallbackPolicy
from fenix.notify.formats import AODH_FORMAT, encode, signature
from fenix.notify.notifier import DELIVERED, DROPPED, PENDING
from fenix.notify.webhook import Answer, WebhookSender
from fenix.timeutil import utcnow

LOG = logging.getLogger(__name__)

_CLAIM_MARGIN = 5.0
"""Seconds a claim outlives the send's deadline, before another controller may take over."""


@dataclass(frozen=True)
class _Job:
    outbox_id: int
    subscription_id: str
    project_id: str | None
    url: str
    format: str
    body: bytes
    secret: str | None
    message_id: str
    envelope: dict[str, Any]
    deadline: float

    @property
    def to_bus(self) -> bool:
        return self.format == BUS_FORMAT


class DeliveryWorker:
    def __init__(self, db: Database, settings: Settings, bus: BusSender | None = None) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        """Subscriptions with a message being sent."""
        self._project_load: Counter[str | None] = Counter()
        """Messages being sent, per project (None: infrastructure-wide subscriptions)."""
        self._webhooks = WebhookSender(
            CallbackPolicy(settings.callback_allow_networks),
            connect_timeout=settings.delivery_connect_timeout,
            capacity=settings.delivery_concurrency,
        )
        # Database writes of the outcomes, and the bus's blocking sends, off the outbox loop.
        self._recorder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="delivery-record")
        self._bus_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="delivery-bus")
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)

    def start(self) -> None:
        self._webhooks.start()
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5)
        self._webhooks.stop()
        self._bus_pool.shutdown(wait=True, cancel_futures=True)
        self._recorder.shutdown(wait=True)  # sends cut short were given back (_finish)

    # -- choosing what goes next ---------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                jobs = self._due_jobs()
            except Exception:
                # A database hiccup (locked, restarting) must not end delivery for good.
                LOG.exception("could not read the outbox; trying again")
                jobs = []
            for job in jobs:
                self._send(job)
            self._wake.wait(0.1)
            self._wake.clear()

    def _deadline(self, fmt: str) -> float:
        if fmt == AODH_FORMAT:
            longest_window = max(self.settings.reply_window, self.settings.long_reply_window)
            return self.settings.aodh_delivery_timeout or longest_window
        return self.settings.delivery_timeout

    def _due_jobs(self) -> list[_Job]:
        jobs: list[_Job] = []
        now = utcnow()
        with self.db.transaction() as repo:
            pending = repo.pending_outbox()
            if self._some_question_expired(pending, now):
                notifier.drop_expired_questions(repo, now)
                pending = repo.pending_outbox()
            # Claimed in the order of their ids, as drops lock them: no deadlock between the two.
            for pick, passed in sorted(self._choose(pending, now)):
                message = repo.get_outbox(pick)
                subscription = repo.get_subscription(message.subscription_id)
                if subscription is None:
                    notifier.give_up(repo, message, "subscription was deleted", None)
                    continue
                if subscription.format == BUS_FORMAT and self.bus is None:
                    continue  # another controller, configured with the transport, sends it
                deadline = self._deadline(subscription.format)
                claim = now + timedelta(seconds=deadline + _CLAIM_MARGIN)
                if not repo.claim_outbox(message.id, now, claim):
                    continue  # another controller took it first
                if passed is not None and message.attempts == 0:
                    self._record_reordered(repo, message, passed)
                with self._lock:
                    self._in_flight.add(subscription.id)
                    self._project_load[message.project_id] += 1
                to_bus = subscription.format == BUS_FORMAT
                jobs.append(
                    _Job(
                        message.id,
                        subscription.id,
                        message.project_id,
                        subscription.callback_url,
                        subscription.format,
                        b""
                        if to_bus
                        else encode(message.body, subscription.format, subscription.id),
                        subscription.secret,
                        message.message_id,
                        message.body,
                        deadline,
                    )
                )
        return jobs

    @staticmethod
    def _some_question_expired(pending, now: datetime) -> bool:
        """Whether the sweep of expired questions has work (it is two more queries, ten times
        a second on an idle controller, otherwise). A read cut at its limit may hide one."""
        if len(pending) >= Repository.PENDING_READ_LIMIT:
            return True
        return any(
            row.question is not None and row.expires_at is not None and row.expires_at <= now
            for row in pending
        )

    def _choose(self, pending, now: datetime) -> list[tuple[int, Any]]:
        """One message per idle subscriber: its oldest due message.

        A message waiting to be tried again holds up nothing behind it, and a question goes
        ahead of a notice that has failed before. A subscriber whose message is being sent
        for the first time by another controller (claimed, never tried: not due) waits for
        it: first sends go out in order whichever controller makes them. Each pick is returned
        with the older message it passed, if any, to record. Subscribers of a project at its
        share wait."""
        queues: dict[str, list[Any]] = {}
        for row in pending:
            queues.setdefault(row.subscription_id, []).append(row)
        with self._lock:
            busy = set(self._in_flight)
            load = Counter(self._project_load)
            total = sum(load.values())
        picks: list[tuple[int, Any]] = []
        for subscription_id, rows in queues.items():
            if subscription_id in busy:
                continue
            due = [row for row in rows if row.next_attempt_at <= now]
            if not due or any(r.attempts == 0 and r.next_attempt_at > now for r in rows):
                continue
            pick = due[0]
            if pick.question is None and pick.attempts > 0:
                pick = next((row for row in due if row.question is not None), pick)
            passed = rows[0] if rows[0] is not pick else None
            if total >= self.settings.delivery_concurrency:
                break
            if load[pick.project_id] >= self.settings.delivery_project_share:
                continue
            load[pick.project_id] += 1
            total += 1
            picks.append((pick.id, passed))
        return picks

    # -- sending -------------------------------------------------------------------------
    def _send(self, job: _Job) -> None:
        if job.to_bus:
            self._bus_pool.submit(self._send_to_bus, job)
            return
        headers = {"Content-Type": "application/json", "X-Fenix-Message-Id": job.message_id}
        if job.secret:
            headers["X-Fenix-Signature"] = signature(job.secret, job.body)
        future = self._webhooks.post(job.url, job.body, headers, job.deadline)
        future.add_done_callback(lambda done: self._on_sent(job, done))

    def _on_sent(self, job: _Job, done: concurrent.futures.Future[Answer]) -> None:
        """On the webhook loop: hand the outcome to a recorder thread (the database blocks)."""
        # Stopping: the claim runs out and the message goes again.
        with contextlib.suppress(RuntimeError):
            self._recorder.submit(self._finish, job, done)

    def _send_to_bus(self, job: _Job) -> None:
        assert self.bus is not None
        try:
            self.bus.send(job.envelope)
            answer = Answer(None, True)
        except Exception as exc:  # oslo.messaging's failures have no common base class
            answer = Answer(None, False, f"{type(exc).__name__}: {exc}")
        self._finish(job, answer)

    def _finish(self, job: _Job, outcome: Answer | concurrent.futures.Future[Answer]) -> None:
        try:
            if isinstance(outcome, concurrent.futures.Future) and outcome.cancelled():
                # Stopped mid-send: due again now, for whichever worker runs next.
                with self.db.transaction() as repo:
                    repo.release_outbox([job.outbox_id], utcnow())
                return
            answer = outcome.result() if isinstance(outcome, concurrent.futures.Future) else outcome
            self._record(job, answer)
        except Exception:
            LOG.exception("delivery of %s to %s failed unexpectedly", job.message_id, job.url)
        finally:
            with self._lock:
                self._in_flight.discard(job.subscription_id)
                self._project_load[job.project_id] -= 1
                if self._project_load[job.project_id] <= 0:
                    del self._project_load[job.project_id]
            self._wake.set()

    # -- what came of it -----------------------------------------------------------------
    def _record(self, job: _Job, answer: Answer) -> None:
        with self.db.transaction() as repo:
            message = repo.get_outbox(job.outbox_id, lock=True)
            if message is None or message.state not in (PENDING, DROPPED):
                return  # another controller finished it meanwhile
            delivered = self._delivered(job, answer)
            if message.state == DROPPED and not delivered:
                return  # answered or over while this copy was on its way: not sent again
            message.attempts += 1
            message.http_status = answer.status
            if delivered:
                message.state = DELIVERED
                message.delivered_at = utcnow()
                message.last_error = answer.error
                if answer.error:  # an AODH receiver's error answer, or no answer at all
                    self._record_answer(repo, message, answer)
                return
            message.last_error = answer.error
            if answer.refused:
                notifier.give_up(repo, message, answer.error or "refused", job.url)
                return
            self._retry_or_give_up(repo, job, message, answer.error or "failed")

    @staticmethod
    def _delivered(job: _Job, answer: Answer) -> bool:
        if job.format == AODH_FORMAT:
            return answer.connected and not answer.refused  # AODH posts once
        return answer.connected and answer.error is None

    def _retry_or_give_up(
        self, repo: Repository, job: _Job, message: OutboxMessage, error: str
    ) -> None:
        delay = self.settings.delivery_backoff * 2 ** (message.attempts - 1)
        delay = min(delay, self.settings.delivery_backoff_max)
        next_at = utcnow() + timedelta(seconds=delay)
        if message.expires_at is not None and job.format == AODH_FORMAT:
            # An AODH subscriber is tried for as long as its question is open.
            if next_at >= message.expires_at:
                notifier.give_up(repo, message, f"{error} (until the reply window closed)", job.url)
                return
        elif message.attempts >= self.settings.delivery_max_attempts:
            notifier.give_up(repo, message, error, job.url)
            return
        message.next_attempt_at = next_at
        LOG.info(
            "delivery of %s to %s failed (attempt %d): %s; next in %.1f s",
            job.message_id,
            job.url,
            message.attempts,
            error,
            delay,
        )

    @staticmethod
    def _record_answer(repo: Repository, message: OutboxMessage, answer: Answer) -> None:
        repo.add_event(
            message.session_id,
            "notification.answered",
            message.project_id,
            None,
            (message.body.get("payload") or {}).get("state"),
            {
                "subscription_id": message.subscription_id,
                "message_id": message.message_id,
                "http_status": answer.status,
                "error": answer.error,
                "excerpt": answer.excerpt[:512].decode("utf-8", "replace"),
            },
        )

    @staticmethod
    def _record_reordered(repo: Repository, message: OutboxMessage, passed: Any) -> None:
        repo.add_event(
            message.session_id,
            "notification.reordered",
            message.project_id,
            None,
            (message.body.get("payload") or {}).get("state"),
            {
                "subscription_id": message.subscription_id,
                "message_id": message.message_id,
                "ahead_of": repo.get_outbox(passed.id).message_id,
                "why": "the older message is failing and waits to be tried again",
            },
        )
