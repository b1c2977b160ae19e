"""The WSGI serving helper: an idle server sleeps in select(), and stop() still ends it at once."""

from __future__ import annotations

import threading
import time

import requests
from waitress import wasyncore

import fenix.wsgi
from fenix.wsgi import serve_in_thread


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


def test_stop_does_not_wait_out_the_loop_timeout_even_with_a_client_connected(monkeypatch):
    # A loop that sleeps an hour in select(): only stop()'s wake-up can end it in time.
    monkeypatch.setattr(fenix.wsgi, "LOOP_TIMEOUT", 3600)
    handle = serve_in_thread(_hello, name="busy-server")
    client = requests.Session()  # keeps its connection open: a channel in the server's map
    assert client.get(handle.url, timeout=5).text == "hello"
    handle.stop(timeout=60)
    assert not handle._thread.is_alive()
    client.close()
