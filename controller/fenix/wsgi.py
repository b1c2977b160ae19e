"""Serve a WSGI app with waitress, in the foreground or in a background thread.

One helper for every HTTP service we run (the controller, the simulated cloud, the sample VNFM,
test fixtures), so each gets a production server, a free port on request and a clean stop.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

from waitress.server import create_server


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


def _make_server(app, host: str, port: int, threads: int):
    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="fenix",
        asyncore_loop_timeout=LOOP_TIMEOUT,
    )


def serve_forever(app, host: str = "127.0.0.1", port: int = 8000, threads: int = 8) -> None:
    """Serve until the process ends."""
    _make_server(app, host, port, threads).run()


def serve_in_thread(
    app, host: str = "127.0.0.1", port: int = 0, threads: int = 8, name: str = "wsgi"
) -> ServerHandle:
    """Serve on a background thread; port 0 takes a free port. Returns once it listens."""
    server = _make_server(app, host, port, threads)
    bound_port = server.effective_port  # type: ignore[attr-defined]
    thread = threading.Thread(target=_run_quietly, args=(server,), name=name, daemon=True)
    thread.start()
    return ServerHandle(f"http://{host}:{bound_port}", host, bound_port, server, thread)


def _run_quietly(server) -> None:
    # The channels are closed under the loop by stop(): that is how it ends.
    with contextlib.suppress(OSError, ValueError):
        server.run()
