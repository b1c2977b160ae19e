"""The WSGI serving helper: an idle server sleeps in select(), and stop() still ends it at once."""

from __future__ import annotations

import threading
import time

import requests
from waitress import wasyncore

from fenix.wsgi import LOOP_TIMEOUT, serve_in_thread


def _hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_an_idle_server_waits_in_select_instead_of_spinning(monkeypatch):
    polls = []
    real_poll = wasyncore.poll

    def counting_poll(timeout=0.0, map=None):
        if threading.current_thread().name == "idle-server":
            polls.append(timeout)
        return real_poll(timeout, map)

    monkeypatch.setattr(wasyncore, "poll", counting_poll)
    handle = serve_in_thread(_hello, name="idle-server")
    try:
        assert requests.get(handle.url, timeout=5).text == "hello"
        time.sleep(0.5)
    finally:
        handle.stop()
    # A loop whose timeout had become 0 polled thousands of times in half a second.
    assert polls, "the server loop never polled"
    assert all(timeout > 0 for timeout in polls)
    assert len(polls) < 20


def test_stop_does_not_wait_out_the_loop_timeout_even_with_a_client_connected():
    handle = serve_in_thread(_hello, name="busy-server")
    client = requests.Session()  # keeps its connection open: a channel in the server's map
    assert client.get(handle.url, timeout=5).text == "hello"
    started = time.monotonic()
    handle.stop()
    assert not handle._thread.is_alive()
    assert time.monotonic() - started < LOOP_TIMEOUT
    client.close()
