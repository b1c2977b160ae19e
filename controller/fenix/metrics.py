"""Prometheus metrics of one controller: what an operator graphs while a rolling upgrade runs.

Two sources, each where it is exact:

- what the database holds is read at every scrape (`DatabaseCollector`): sessions by state,
  hosts by state, hosts out of service, replies awaited, and notification deliveries (the
  outbox keeps every message with its attempts, so those counters are exact whichever
  controller process delivered them, and survive a restart);
- what the database does not keep is counted where it happens (`Metrics` methods, called by
  the workflow and the conversation): time per session state, per host maintenance, replies
  and their latency. Like any Prometheus counter these start from zero with the process.

Each Runtime has its own registry (not prometheus_client's global one), so several controllers
in one process, as in the tests, do not mix their figures.

Under `fenix serve` the engine and the API are separate processes: `fenix serve` then names a
directory in PROMETHEUS_MULTIPROC_DIR, every process writes its counts there, and /metrics adds
up all of them (prometheus_client's multiprocess mode, as under gunicorn).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from fenix.states import HostState, SessionState
from fenix.timeutil import utcnow
from fenix.windows import next_opening, schedule_from

if TYPE_CHECKING:
    from fenix.db.database import Database

STEP_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
"""Seconds: a step takes from a moment (nothing to move) to hours (a slow manager, big hosts)."""
REPLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
"""Seconds: managers answer at once or take up to their reply window (20 s / 60 s by default)."""


class Metrics:
    """The controller's registry, and the calls the code makes when something happens."""

    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        # In multiprocess mode the counts are read back from every process's files; registered
        # here too, this process's own would be counted twice. (A process that imported
        # prometheus_client before the directory was named keeps its counts in memory.)
        shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        writes_files = values.ValueClass is not values.MutexValue
        counted_in = None if shared_dir and writes_files else self.registry
        self._state_seconds = Histogram(
            "fenix_session_state_seconds",
            "Time a session spent in a state before moving on, per state (the engine's work "
            "and its waits for managers)",
            ["state"],
            buckets=STEP_BUCKETS,
            registry=counted_in,
        )
        self._host_seconds = Histogram(
            "fenix_host_maintenance_seconds",
            "Time from a host entering IN_MAINTENANCE to MAINTENANCE_COMPLETE (action plug-ins "
            "and the maintenance itself)",
            buckets=STEP_BUCKETS,
            registry=counted_in,
        )
        self._replies = Counter(
            "fenix_project_replies",
            "Outcomes of the steps projects were asked to answer: ACK, NACK, NO_REPLY (the "
            "window passed) or NO_MANAGER (no subscribed manager: default behaviour)",
            ["step", "outcome"],
            registry=counted_in,
        )
        self._reply_latency = Histogram(
            "fenix_project_reply_latency_seconds",
            "Seconds from notifying a project of a step to its ACK or NACK",
            ["step"],
            buckets=REPLY_BUCKETS,
            registry=counted_in,
        )
        self._rejected_replies = Counter(
            "fenix_project_replies_rejected",
            "Replies refused because they were not awaited (late, repeated, another step); "
            "each is logged with at most the first 4 KiB of its body",
            registry=counted_in,
        )
        if shared_dir:
            MultiProcessCollector(self.registry, path=shared_dir)
        self.registry.register(DatabaseCollector(db))
        ProcessCollector(registry=self.registry)

    # -- what the code reports -------------------------------------------------------------
    def reply_rejected(self) -> None:
        """A project's reply was refused (409) and logged."""
        self._rejected_replies.inc()

    def state_left(self, state: str, seconds: float) -> None:
        """A session finished its work in `state` after `seconds`."""
        self._state_seconds.labels(state=state).observe(max(seconds, 0.0))

    def host_maintained(self, seconds: float) -> None:
        self._host_seconds.observe(max(seconds, 0.0))

    def reply(
        self,
        step: str,
        reply: str,
        notified_at: datetime | None = None,
        replied_at: datetime | None = None,
    ) -> None:
        """How a project's answer to `step` ended; its latency when it did answer."""
        outcome = reply.split("_", 1)[0] if reply.startswith(("ACK_", "NACK_")) else reply
        self._replies.labels(step=step, outcome=outcome).inc()
        if outcome in ("ACK", "NACK") and notified_at is not None and replied_at is not None:
            latency = (replied_at - notified_at).total_seconds()
            self._reply_latency.labels(step=step).observe(max(latency, 0.0))

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry for GET /metrics, and its content type: the format the scraper accepts
        (OpenMetrics when it asks for it, else Prometheus' text format 0.0.4)."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


def _hold_metrics(
    held: list[tuple[str, datetime | None, dict | None]], now: datetime
) -> Iterator[Metric]:
    """Sessions paused, and those outside their maintenance windows with when the next opens
    (from the windows at scrape time: exact whatever the engine is doing)."""
    paused = sum(1 for _id, paused_at, _windows in held if paused_at is not None)
    yield GaugeMetricFamily(
        "fenix_sessions_paused",
        "Unfinished sessions an admin (or a gate) paused: no new host or move starts",
        value=paused,
    )
    opens = GaugeMetricFamily(
        "fenix_session_window_opens_timestamp_seconds",
        "When the next maintenance window of a session waiting for one opens (Unix time; "
        "+Inf when none is left)",
        labels=["session_id"],
    )
    waiting = 0
    for session_id, _paused_at, windows in held:
        opening = next_opening(schedule_from(windows), now) if windows else now
        if opening == now:
            continue
        waiting += 1
        at = float("inf") if opening is None else opening.replace(tzinfo=UTC).timestamp()
        opens.add_metric([session_id], at)
    yield GaugeMetricFamily(
        "fenix_sessions_waiting_for_window",
        "Unfinished sessions outside their maintenance windows (no new host starts)",
        value=waiting,
    )
    yield opens


class DatabaseCollector(Collector):
    """Gauges computed from the database at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        with self.db.transaction() as repo:
            sessions = repo.count_sessions_by_state()
            hosts = repo.count_running_hosts_by_state()
            disabled = repo.count_disabled_hosts()
            awaited = repo.count_awaited_replies()
            outbox = repo.count_outbox()
            held = repo.held_sessions()

        by_state = GaugeMetricFamily(
            "fenix_sessions", "Maintenance sessions (not deleted) per state", labels=["state"]
        )
        for state in SessionState:
            by_state.add_metric([state], sessions.get(state, 0))
        yield by_state

        host_states = GaugeMetricFamily(
            "fenix_session_hosts",
            "Hosts of the sessions still running, per host state",
            labels=["state"],
        )
        for state in [*HostState, *sorted(set(hosts) - set(HostState))]:
            host_states.add_metric([state], hosts.get(state, 0))
        yield host_states

        yield GaugeMetricFamily(
            "fenix_hosts_in_maintenance",
            "Hosts a session holds out of service now (being emptied or maintained)",
            value=disabled,
        )
        yield GaugeMetricFamily(
            "fenix_replies_awaited",
            "Projects told a step of a running session that have not answered yet",
            value=awaited,
        )
        yield from _hold_metrics(held, utcnow())
        messages = GaugeMetricFamily(
            "fenix_outbox_messages",
            "Notifications in the outbox per event type and delivery state (PENDING is the "
            "backlog; DELIVERED and DEAD only grow)",
            labels=["event_type", "state"],
        )
        deliveries = CounterMetricFamily(
            "fenix_notification_deliveries",
            "Notification delivery attempts per event type: delivered, failed (to be retried, "
            "or given up) and dead (messages given up)",
            labels=["event_type", "outcome"],
        )
        totals: dict[str, dict[str, int]] = {}
        for event_type, delivery, count, attempts in sorted(outbox):
            messages.add_metric([event_type, delivery], count)
            total = totals.setdefault(event_type, {"delivered": 0, "attempts": 0, "dead": 0})
            total["attempts"] += attempts
            if delivery == "DELIVERED":
                total["delivered"] += count
            elif delivery == "DEAD":
                total["dead"] += count
        yield messages
        for event_type, total in sorted(totals.items()):
            deliveries.add_metric([event_type, "delivered"], total["delivered"])
            deliveries.add_metric([event_type, "failed"], total["attempts"] - total["delivered"])
            deliveries.add_metric([event_type, "dead"], total["dead"])
        yield deliveries
