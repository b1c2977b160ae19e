"""One subscriber's failures, slowness or size cost only itself; a callback cannot reach inside.

Each receiver here is real: the Flask receiver of conftest, raw sockets that trickle an answer a
byte at a time, or a process that answers with 300 MB.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fenix.db.models import Event
from fenix.notify import notifier
from fenix.states import EventType
from fenix.timeutil import utcnow
from tests.controller.live import wait_until

from .conftest import emit_sessions, outbox_rows, settled, subscribe


def _ask(db, project_id: str, question: str, window: float = 20.0) -> None:
    """A maintenance.planned question to the project, open for `window` seconds."""
    with db.transaction() as repo:
        notifier.emit(
            repo,
            EventType.PLANNED,
            {"service": "fenix", "project_id": project_id, "state": "PLANNED_MAINTENANCE"},
            session_id=None,
            project_id=project_id,
            question=question,
            expires_at=utcnow() + timedelta(seconds=window),
        )


def _arrived(receiver, path: str, state: str) -> float | None:
    """When the receiver first got a message of that state on `path` (monotonic), or None."""
    for request in receiver.to(path):
        if json.loads(request.body)["payload"].get("state") == state:
            return request.at
    return None


# -- head-of-line ------------------------------------------------------------------------------
def test_a_notice_that_keeps_failing_does_not_delay_the_next_question_and_it_is_recorded(
    receiver, outbox_db, start_worker
):
    receiver.refused_numbers.add(0)
    url = receiver.script("/manager")
    subscription = subscribe(
        outbox_db,
        url,
        project_id="project-1",
        event_types=[str(EventType.PLANNED), str(EventType.SESSION)],
    )
    with outbox_db.transaction() as repo:  # the project's notice, then its question
        notifier.emit(
            repo,
            EventType.PLANNED,
            {"service": "fenix", "state": "ADMIN_ACTION_DONE", "number": 0},
            session_id=None,
            project_id="project-1",
        )
    start_worker(delivery_backoff=1.0, delivery_backoff_max=2.0, delivery_max_attempts=20)
    wait_until(lambda: receiver.to("/manager"), what="the notice tried once")
    asked_at = time.monotonic()
    _ask(outbox_db, "project-1", "PLANNED_MAINTENANCE:compute-1")

    arrived = wait_until(
        lambda: _arrived(receiver, "/manager", "PLANNED_MAINTENANCE"), what="the question"
    )

    assert arrived - asked_at <= 2.0  # not after the notice's retries, nor after it is dead
    # The receiver has the question; the worker records it DELIVERED once the answer is read.
    notice, question = wait_until(
        lambda: (rows := outbox_rows(outbox_db, subscription))[1].state == "DELIVERED" and rows,
        what="the question recorded DELIVERED",
    )
    assert notice.state == "PENDING" and notice.attempts >= 1
    with outbox_db.transaction() as repo:
        (event,) = repo.orm.scalars(select(Event).where(Event.kind == "notification.reordered"))
        assert (event.data["message_id"], event.data["ahead_of"]) == (
            question.message_id,
            notice.message_id,
        )


# -- AODH semantics ----------------------------------------------------------------------------
def test_aodh_counts_any_http_answer_as_delivered_and_never_sends_it_again(
    receiver, outbox_db, start_worker
):
    url = receiver.script("/aodh", "fail", "fail")
    subscription = subscribe(outbox_db, url, format="aodh")
    emit_sessions(outbox_db, 2)
    start_worker()

    rows = wait_until(lambda: settled(outbox_db, subscription), what="both delivered")

    assert [(r.state, r.attempts, r.http_status) for r in rows] == [("DELIVERED", 1, 500)] * 2
    assert len(receiver.to("/aodh")) == 2


def test_aodh_retries_a_refused_connection_while_the_window_is_open_then_gives_up(
    outbox_db, start_worker
):
    closed = f"http://127.0.0.1:{_free_port()}/aodh"
    subscription = subscribe(
        outbox_db,
        closed,
        project_id="project-1",
        event_types=[str(EventType.PLANNED)],
        format="aodh",
    )
    start_worker(delivery_backoff=0.2, delivery_backoff_max=0.5, delivery_max_attempts=3)
    asked_at = time.monotonic()
    _ask(outbox_db, "project-1", "MAINTENANCE", window=4.0)

    (row,) = wait_until(lambda: settled(outbox_db, subscription), what="given up")

    # Tried past delivery_max_attempts, for as long as the question was open, no longer.
    assert row.state == "DEAD" and row.attempts > 3
    assert "until the reply window closed" in row.last_error
    assert 3.0 <= time.monotonic() - asked_at <= 10.0


def test_a_question_whose_window_closed_is_dead_if_tried_dropped_if_not_and_left_if_in_flight(
    outbox_db,
):
    """Whatever the moment the worker comes round to it: the record says whether it got through."""
    subscription = subscribe(
        outbox_db,
        "http://127.0.0.1:9/aodh",
        project_id="project-1",
        event_types=[str(EventType.PLANNED)],
        format="aodh",
    )
    for question in ("tried", "untried", "in flight"):
        _ask(outbox_db, "project-1", question, window=60.0)
    now = utcnow()
    with outbox_db.transaction() as repo:
        rows = {row.question: row for row in repo.outbox_for_session(None) if row.question}
        for row in rows.values():
            row.expires_at = now - timedelta(seconds=1)
        rows["tried"].attempts = 2
        rows["tried"].last_error = "connection refused"
        rows["tried"].next_attempt_at = now - timedelta(seconds=2)  # waiting, overdue
        rows["in flight"].attempts = 1
        rows["in flight"].next_attempt_at = now + timedelta(seconds=30)  # claimed, being sent

    with outbox_db.transaction() as repo:
        notifier.drop_expired_questions(repo, now)

    states = {row.question: row for row in outbox_rows(outbox_db, subscription)}
    assert states["tried"].state == "DEAD"
    assert states["tried"].last_error == "connection refused (until the reply window closed)"
    assert states["untried"].state == "DROPPED"
    assert states["in flight"].state == "PENDING"  # its own answer decides
    with outbox_db.transaction() as repo:
        kinds = [(e.kind, e.data.get("message_id")) for e in repo.orm.scalars(select(Event))]
    assert ("notification.dead", states["tried"].message_id) in kinds
    assert ("notification.dropped", states["untried"].message_id) in kinds
    assert all(message_id != states["in flight"].message_id for _, message_id in kinds)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_copy_recorded_as_delivered_while_its_question_is_answered_stays_delivered(outbox_db):
    """The delivery worker records a sent copy while the manager's answer drops the question,
    each in its own transaction. The drop must not write over the delivery (it did, on
    PostgreSQL: the row read as pending, then updated after the delivery committed), or the
    record says a message the manager got was never sent."""
    subscription = subscribe(
        outbox_db,
        "http://127.0.0.1:9/fenix",
        project_id="project-1",
        event_types=[str(EventType.PLANNED)],
    )
    _ask(outbox_db, "project-1", "MAINTENANCE")
    (row,) = outbox_rows(outbox_db, subscription)
    dropped = threading.Event()

    def answer() -> None:
        with outbox_db.transaction() as repo:
            notifier.drop_questions(repo, None, "project-1", ["MAINTENANCE"], "answered")
        dropped.set()

    with outbox_db.transaction() as recording:
        message = recording.get_outbox(row.id, lock=True)
        message.state, message.attempts = "DELIVERED", 1
        recording.orm.flush()
        answering = threading.Thread(target=answer)
        answering.start()
        # The answer waits for the recording to commit.
        assert not dropped.wait(1.0)
    answering.join(30)
    assert dropped.is_set()

    (after,) = outbox_rows(outbox_db, subscription)
    assert (after.state, after.attempts, after.last_error) == ("DELIVERED", 1, None)
    with outbox_db.transaction() as repo:
        kinds = [e.kind for e in repo.orm.scalars(select(Event))]
    assert "notification.dropped" not in kinds


# -- slow and large answers ----------------------------------------------------------------
class TricklingServer:
    """Accepts every connection and sends an HTTP answer one byte a second, never finishing."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow"
        self.connections = 0
        self._stop = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000:
                if self._stop.wait(1.0):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(5)
        self.sock.close()


@pytest.fixture
def trickling() -> Iterator[TricklingServer]:
    server = TricklingServer()
    yield server
    server.close()


@pytest.mark.slow
def test_eight_trickling_receivers_of_one_project_do_not_delay_another_project(
    receiver, outbox_db, start_worker, trickling
):
    for _ in range(8):
        subscribe(
            outbox_db,
            trickling.url,
            project_id="project-slow",
            event_types=[str(EventType.PLANNED)],
        )
    other = subscribe(
        outbox_db,
        receiver.script("/other"),
        project_id="project-2",
        event_types=[str(EventType.PLANNED)],
    )
    start_worker(delivery_timeout=4.0)
    for number in range(3):
        _ask(outbox_db, "project-slow", f"PLANNED_MAINTENANCE:compute-{number}")
    wait_until(lambda: trickling.connections >= 8, what="all eight held")

    asked_at = time.monotonic()
    _ask(outbox_db, "project-2", "PLANNED_MAINTENANCE:compute-9")

    arrived = wait_until(lambda: _arrived(receiver, "/other", "PLANNED_MAINTENANCE"), what="told")
    assert arrived - asked_at <= 2.0
    wait_until(lambda: settled(outbox_db, other), what="recorded as delivered")
    # The trickle itself is cut at the delivery's deadline, not kept alive byte by byte.
    wait_until(
        lambda: [
            row
            for s in _slow_subscriptions(outbox_db)
            for row in outbox_rows(outbox_db, s)
            if row.last_error == "no answer within the 4 s deadline"
        ],
        timeout=15,
        what="a trickling delivery cut at its deadline",
    )


def _slow_subscriptions(db) -> list[str]:
    with db.transaction() as repo:
        return [s.id for s in repo.list_subscriptions(project_id="project-slow")]


_BIG_ANSWER = textwrap.dedent(
    """
    import socket, sys
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    conn, _ = server.accept()
    conn.recv(65536)
    size = 300 * 1024 * 1024
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % size)
    chunk = b"0" * (1024 * 1024)
    sent = 0
    try:
        while sent < size:
            conn.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    print(sent, flush=True)
    """
)


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.slow
def test_a_300_mb_answer_is_not_read_into_memory(outbox_db, start_worker):
    server = subprocess.Popen(
        [sys.executable, "-c", _BIG_ANSWER], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())
        subscription = subscribe(outbox_db, f"http://127.0.0.1:{port}/big")
        start_worker()
        baseline = _rss_bytes()
        peak = baseline
        emit_sessions(outbox_db, 1)
        deadline = time.monotonic() + 30
        while not settled(outbox_db, subscription):
            peak = max(peak, _rss_bytes())
            assert time.monotonic() < deadline, "the big answer was never settled"
            time.sleep(0.01)
        sent = int(server.stdout.readline())
    finally:
        server.kill()
        server.wait()

    (row,) = outbox_rows(outbox_db, subscription)
    assert (row.state, row.http_status) == ("DELIVERED", 200)
    assert sent < 300 * 1024 * 1024  # the receiver could not push it all: we stopped reading
    assert peak - baseline < 50 * 1024 * 1024


# -- where a callback may point ------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"])
def test_a_callback_that_points_inside_is_a_dead_delivery_with_the_reason(
    receiver, outbox_db, start_worker, host
):
    # Subscribed when it pointed elsewhere (or through another controller): each delivery
    # judges the address again.
    port = receiver.url.rsplit(":", 1)[1]
    subscription = subscribe(outbox_db, f"http://{host}:{port}/inside")
    start_worker(callback_allow_networks=[])
    emit_sessions(outbox_db, 1)

    (row,) = wait_until(lambda: settled(outbox_db, subscription), what="given up")

    assert (row.state, row.attempts) == ("DEAD", 1)
    assert "callback_url" in row.last_error and "FENIX_CALLBACK_ALLOW_NETWORKS" in row.last_error
    assert receiver.to("/inside") == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
