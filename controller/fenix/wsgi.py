"""Serve a WSGI app with waitress, in the foreground or in a background thread.

One helper for every HTTP service we run (the controller, the simulated cloud, the sample VNFM,
test fixtures), so each gets a production server, a free port on request and a clean stop.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask


@dataclass
class ServerHandle:
    """A running server: its base URL, and stop() to close it and end its thread."""

    url: str
    host: str
    port: int
    _server: object
    _thread: threading.Thread

    def stop(self, timeout: float = 5.0) -> None:
        server = self._server
        server.task_dispatcher.shutdown(timeout=timeout)  # type: ignore[attr-defined]
        channels = server._map  # type: ignore[attr-defined]
        if channels:
            # Close the channels on the loop's own thread, which wakes it at once.
            with contextlib.suppress(OSError):  # already stopped
                server.trigger.pull_trigger(  # type: ignore[attr-defined]
                    lambda: [channel.close() for channel in list(channels.values())]
                )
        self._thread.join(timeout)


LOOP_TIMEOUT = 1
"""Seconds the server's select() waits when nothing happens. waitress takes a whole number
(it applies int(): 0.05 became 0, a select() that never waited, so every idle server spun at
10-20% of a core and fought the process's other threads for the GIL). stop() does not wait it
out: it wakes the loop with the trigger."""


@dataclass(frozen=True)
class ServerLimits:
    """What one client may hold of the server: the body it sends, its idle connections.

    waitress's defaults (1 GiB bodies, 100 connections, idle ones kept 120 s) let anyone who
    reaches the port fill the disk or, with 110 idle sockets, make the API unreachable.
    """

    max_body_bytes: int = 1024 * 1024
    connection_limit: int = 500
    """Open connections served at once; idle ones cost a socket each, not a thread."""
    channel_timeout: float = 15.0
    """Seconds a connection may stay idle (nothing sent or received) before it is closed."""


class _JsonErrorTask(ErrorTask):
    """waitress's own answers (a body over the limit, a malformed request) in the API's JSON
    error shape, like every other error: clients parse error bodies as JSON."""

    def execute(self) -> None:
        error = self.request.error
        message = str(error.body)
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size - 1
            message = f"the request body is larger than the {limit} bytes this server takes"
        body = json.dumps(
            {"error": {"code": error.code, "title": error.reason, "message": message}}
        ).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _JsonErrorChannel(HTTPChannel):
    error_task_class = _JsonErrorTask


def _make_server(
    app, host: str, port: int, threads: int, limits: ServerLimits, sock: socket.socket | None = None
):
    where: dict = {"sockets": [sock]} if sock is not None else {"host": host, "port": port}
    server = create_server(
        app,
        **where,
        threads=threads,
        ident="fenix",
        asyncore_loop_timeout=LOOP_TIMEOUT,
        # waitress refuses a body of max_request_body_size bytes or more, at its header.
        max_request_body_size=limits.max_body_bytes + 1,
        connection_limit=limits.connection_limit,
        channel_timeout=limits.channel_timeout,
        cleanup_interval=max(1, int(limits.channel_timeout / 3)),
    )
    server.channel_class = _JsonErrorChannel  # type: ignore[attr-defined]
    return server


def serve_forever(
    app,
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 8,
    limits: ServerLimits | None = None,
) -> None:
    """Serve until the process ends."""
    _make_server(app, host, port, threads, limits or ServerLimits()).run()


def serve_in_thread(
    app,
    host: str = "127.0.0.1",
    port: int = 0,
    threads: int = 8,
    name: str = "wsgi",
    limits: ServerLimits | None = None,
    sock: socket.socket | None = None,
) -> ServerHandle:
    """Serve on a background thread; port 0 takes a free port. Returns once it listens.

    `sock`: a listening socket to accept on instead of binding host:port, as the API worker
    processes of `fenix serve --workers` share the one their parent bound.
    """
    server = _make_server(app, host, port, threads, limits or ServerLimits(), sock)
    bound_port = sock.getsockname()[1] if sock is not None else server.effective_port  # type: ignore[attr-defined]
    thread = threading.Thread(target=_run_quietly, args=(server,), name=name, daemon=True)
    thread.start()
    return ServerHandle(f"http://{host}:{bound_port}", host, bound_port, server, thread)


def _run_quietly(server) -> None:
    # The channels are closed under the loop by stop(): that is how it ends.
    with contextlib.suppress(OSError, ValueError):
        server.run()
