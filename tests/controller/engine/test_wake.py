"""The API wakes an engine in another process through a Unix datagram socket."""

from __future__ import annotations

import threading

from fenix.engine.wake import WakeListener, WakeSender
from tests.controller.live import wait_until


def test_each_wake_sent_reaches_the_listener(tmp_path):
    woken = threading.Semaphore(0)
    path = str(tmp_path / "engine.sock")
    listener = WakeListener(path, woken.release).start()
    sender = WakeSender(path)
    try:
        sender.send()
        assert woken.acquire(timeout=10), "the listener was not woken"
        sender.send()
        assert woken.acquire(timeout=10), "the listener was not woken a second time"
    finally:
        sender.close()
        listener.close()
    assert not (tmp_path / "engine.sock").exists(), "close() leaves the socket file behind"


def test_a_wake_with_no_engine_listening_is_dropped_quietly(tmp_path):
    sender = WakeSender(str(tmp_path / "nobody.sock"))
    sender.send()  # no listener: raises nothing, blocks nothing
    sender.close()


def test_a_listener_takes_the_place_of_one_that_was_killed(tmp_path):
    path = tmp_path / "engine.sock"
    path.write_text("left by a killed engine")
    woken = threading.Event()
    listener = WakeListener(str(path), woken.set).start()
    try:
        WakeSender(str(path)).send()
        wait_until(woken.is_set, what="the new listener woken")
    finally:
        listener.close()
