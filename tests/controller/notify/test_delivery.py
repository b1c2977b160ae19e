"""Webhook delivery from the outbox: retried, in order, once after dedup, signed, not redirected."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from fenix.db.models import Event
from fenix.notify.formats import signature, verify_signature
from fenix.timeutil import utcnow
from tests.controller.live import wait_until

from .conftest import SLOW_SECONDS, emit_sessions, outbox_rows, settled, subscribe


def _unique_in_arrival_order(received) -> list[str]:
    """What a receiver that drops duplicates by X-Fenix-Message-Id keeps, in arrival order."""
    kept: list[str] = []
    for request in received:
        if request.message_id not in kept:
            kept.append(request.message_id)
    return kept


@pytest.mark.slow
def test_a_receiver_that_fails_times_out_and_comes_back_loses_nothing(
    receiver, outbox_db, start_worker
):
    url = receiver.script("/hook", "fail", "fail", "slow", "ok", "fail", "slow", "slow")
    subscription = subscribe(outbox_db, url, secret="s3cret")
    emit_sessions(outbox_db, 6)
    start_worker()

    rows = wait_until(lambda: settled(outbox_db, subscription), what="all sent")

    sent = [row.message_id for row in rows]
    assert all(row.state == "DELIVERED" for row in rows)
    received = receiver.to("/hook")
    assert len(received) > len(sent)  # retries happened...
    # ...yet each once after dedup, and each sent the first time in the order written (a
    # message waiting for its retry holds up nothing behind it).
    assert _unique_in_arrival_order(received) == sent
    assert sum(row.attempts for row in rows) == len(received)
    assert max(row.attempts for row in rows) > 1
    for request in received:
        body = json.loads(request.body)
        assert body["message_id"] == request.message_id
        assert verify_signature("s3cret", request.body, request.headers["X-Fenix-Signature"])
    numbers = [json.loads(r.body)["payload"]["number"] for r in received]
    assert sorted(set(numbers)) == list(range(6))


def test_one_subscriber_down_does_not_hold_up_another(receiver, outbox_db, start_worker):
    down = subscribe(outbox_db, receiver.script("/down", *["fail"] * 100))
    up = subscribe(outbox_db, receiver.script("/up"))
    emit_sessions(outbox_db, 3)
    start_worker()

    rows = wait_until(lambda: settled(outbox_db, up), what="the healthy one served")

    assert [row.state for row in rows] == ["DELIVERED"] * 3
    assert [r.message_id for r in receiver.to("/up")] == [row.message_id for row in rows]
    waiting = outbox_rows(outbox_db, down)
    assert waiting[0].state == "PENDING" and waiting[0].attempts >= 1
    # Its own failing messages do not hold up one another either: each was tried.
    wait_until(
        lambda: {r.message_id for r in receiver.to("/down")} >= {w.message_id for w in waiting},
        what="every message to the failing subscriber tried",
    )


def test_a_delivery_that_keeps_failing_is_dead_and_the_next_ones_go_on(
    receiver, outbox_db, start_worker
):
    receiver.refused_numbers.add(0)
    url = receiver.script("/hook")
    subscription = subscribe(outbox_db, url)
    emit_sessions(outbox_db, 2)
    start_worker(delivery_max_attempts=3, delivery_backoff=0.3)

    rows = wait_until(lambda: settled(outbox_db, subscription), what="settled")

    assert [(row.state, row.attempts) for row in rows] == [("DEAD", 3), ("DELIVERED", 1)]
    assert rows[0].last_error == "HTTP 500"
    # The next one did not wait for the failing one to be given up on.
    arrivals = [request.message_id for request in receiver.to("/hook")]
    assert arrivals.index(rows[1].message_id) == 1
    with outbox_db.transaction() as repo:
        (event,) = repo.orm.scalars(select(Event).where(Event.kind == "notification.dead")).all()
        assert event.data["message_id"] == rows[0].message_id
        assert event.data["attempts"] == 3 and event.data["callback_url"] == url


@pytest.mark.slow
def test_a_timeout_counts_as_a_failure(receiver, outbox_db, start_worker):
    subscription = subscribe(outbox_db, receiver.script("/hook", "slow", "slow"))
    emit_sessions(outbox_db, 1)
    start_worker(delivery_max_attempts=2, delivery_timeout=SLOW_SECONDS / 4)

    (row,) = wait_until(lambda: settled(outbox_db, subscription), what="settled")

    assert (row.state, row.attempts) == ("DEAD", 2)
    assert "no answer within the 0.75 s deadline" in row.last_error


def test_redirects_are_not_followed(receiver, outbox_db, start_worker):
    subscription = subscribe(outbox_db, receiver.script("/hook", "redirect", "redirect"))
    emit_sessions(outbox_db, 1)
    start_worker(delivery_max_attempts=2)

    (row,) = wait_until(lambda: settled(outbox_db, subscription), what="settled")

    assert (row.state, row.attempts) == ("DEAD", 2)
    assert "redirect" in row.last_error and "/elsewhere" in row.last_error
    assert len(receiver.to("/hook")) == 2
    assert receiver.to("/elsewhere") == []


def test_without_a_secret_nothing_is_signed(receiver, outbox_db, start_worker):
    subscription = subscribe(outbox_db, receiver.script("/hook"))
    emit_sessions(outbox_db, 1)
    start_worker()

    wait_until(lambda: settled(outbox_db, subscription), what="sent")

    (request,) = receiver.to("/hook")
    assert "X-Fenix-Signature" not in request.headers
    assert request.headers["Content-Type"] == "application/json"


def test_two_controllers_on_one_database_send_each_message_once_and_in_order(
    receiver, outbox_db, start_worker
):
    subscription = subscribe(outbox_db, receiver.script("/hook"))
    emit_sessions(outbox_db, 12)
    # A timeout long enough that no send times out on a loaded machine: a receiver answering
    # after the timeout gets the message again, rightly, but that is not what is tested here.
    start_worker(delivery_timeout=5.0)
    start_worker(delivery_timeout=5.0)

    rows = wait_until(lambda: settled(outbox_db, subscription), what="all sent")

    assert [r.attempts for r in rows] == [1] * len(rows), [r.last_error for r in rows]
    assert [r.message_id for r in receiver.to("/hook")] == [row.message_id for row in rows]


def test_a_first_send_another_controller_claimed_holds_up_the_messages_behind_it(
    receiver, outbox_db, start_worker
):
    """Another controller took the first message and died sending it: the next ones wait
    until its claim runs out and it is sent again, so the subscriber still gets them in order."""
    subscription = subscribe(outbox_db, receiver.script("/hook"))
    emit_sessions(outbox_db, 3)
    first, *_ = outbox_rows(outbox_db, subscription)
    with outbox_db.transaction() as repo:
        now = utcnow()
        assert repo.claim_outbox(first.id, now, now + timedelta(seconds=2))

    start_worker()
    rows = wait_until(lambda: settled(outbox_db, subscription), what="all sent")

    assert [r.message_id for r in receiver.to("/hook")] == [row.message_id for row in rows]
    assert [r.attempts for r in rows] == [1, 1, 1]


def test_a_message_to_a_deleted_subscription_is_dead(receiver, outbox_db, start_worker):
    subscription = subscribe(outbox_db, receiver.script("/hook"))
    emit_sessions(outbox_db, 1)
    with outbox_db.transaction() as repo:
        repo.delete_row(repo.get_subscription(subscription))
    start_worker()

    (row,) = wait_until(lambda: settled(outbox_db, subscription), what="settled")

    assert (row.state, row.last_error) == ("DEAD", "subscription was deleted")
    assert receiver.to("/hook") == []


def test_signature_is_hmac_sha256_of_the_exact_body():
    body = b"The quick brown fox jumps over the lazy dog"

    header = signature("key", body)

    # The well-known HMAC-SHA256 example value for this key and message.
    assert header == "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert verify_signature("key", body, header)
    assert not verify_signature("other key", body, header)
    assert not verify_signature("key", body + b" ", header)
    assert not verify_signature("key", body, "sha1=" + header[7:])


@pytest.mark.slow
def test_a_stopping_worker_gives_back_what_it_was_sending(receiver, outbox_db, start_worker):
    # More slow subscribers than the worker may send to at once: two wait their turn.
    subscriptions = [subscribe(outbox_db, receiver.script(f"/slow-{n}", "slow")) for n in range(10)]
    emit_sessions(outbox_db, 1)
    worker = start_worker(delivery_timeout=SLOW_SECONDS * 2, delivery_concurrency=8)
    wait_until(lambda: len(receiver.received) == 8, what="8 sends in flight")
    stopped_at = utcnow()

    worker.stop()

    rows = [outbox_rows(outbox_db, s)[0] for s in subscriptions]
    # The sends cut short count no attempt and are due again at once, as are the two that
    # never started: nothing waits for a claim to run out.
    assert [(row.state, row.attempts) for row in rows] == [("PENDING", 0)] * 10
    assert all(row.next_attempt_at <= utcnow() for row in rows)
    assert sum(row.next_attempt_at >= stopped_at for row in rows) == 8
    start_worker()
    for subscription in subscriptions:
        (row,) = wait_until(lambda s=subscription: settled(outbox_db, s), what="sent")
        assert row.state == "DELIVERED"
