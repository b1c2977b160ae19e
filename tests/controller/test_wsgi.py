"""The WSGI serving helper: an idle server sleeps in select(), and stop() still ends it at once;
idle clients cannot take the server's connections from others."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
from waitress import wasyncore

import fenix.wsgi
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.wsgi import ServerLimits, serve_in_thread
from tests.controller.processes import ControllerProcess


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


@pytest.fixture
def sim_url():
    sim, handle = start_sim_cloud(SimulatedCloudConfig(hosts=2, projects=1, instances=1))
    yield handle.url
    handle.stop()
    sim.close()


def test_fenix_serve_answers_an_authenticated_get_while_200_idle_connections_are_held(
    tmp_path, sim_url
):
    controller = ControllerProcess(
        tmp_path,
        sim_url,
        env={"FENIX_TOKENS": json.dumps({"t": {"role": "admin"}})},
        admin_token="t",
    )
    controller.start()
    idle = []
    try:
        for _ in range(200):
            idle.append(socket.create_connection(("127.0.0.1", controller.port), timeout=5))
        answer = requests.get(
            f"{controller.url}/v1/maintenance", headers={"X-Auth-Token": "t"}, timeout=2
        )
        assert answer.status_code == 200
    finally:
        for sock in idle:
            sock.close()
        controller.stop()


def test_an_idle_connection_is_closed_after_the_idle_timeout():
    handle = serve_in_thread(_hello, limits=ServerLimits(channel_timeout=1))
    try:
        with socket.create_connection((handle.host, handle.port), timeout=10) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""  # closed by the server, nothing sent
            assert time.monotonic() - started < 5
    finally:
        handle.stop()
