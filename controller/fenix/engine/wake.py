"""Waking an engine that runs in another process, as soon as the API records something for it.

The API and the engine share only the database. Without a signal the engine would see a new
session, a manager's reply or a delete at its next poll (up to a second late, and a reply
window is counted in seconds). `fenix serve` names a Unix datagram socket that its engine
process listens on; every API process sends one byte to it after each commit that the engine
waits for. A datagram needs no connection, cannot block the request, and is simply lost when no
engine listens: the engine's own polling is still the backstop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)


class WakeSender:
    """The API side: one non-blocking datagram per wake."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def send(self) -> None:
        # No listener (the engine restarting) or a full queue (it is already awake): nothing
        # to do, the engine looks at the database anyway.
        with contextlib.suppress(OSError):
            self._socket.sendto(b"!", self.path)

    def close(self) -> None:
        self._socket.close()


class WakeListener:
    """The engine side: calls `on_wake` for every datagram, on a thread of its own."""

    def __init__(self, path: str, on_wake: Callable[[], None]) -> None:
        self.path = path
        self._on_wake = on_wake
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by an engine process that was killed
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(path)
        self._socket.settimeout(0.5)  # a close() is seen within that, whatever the platform
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="engine-wake", daemon=True)

    def start(self) -> WakeListener:
        self._thread.start()
        return self

    def _listen(self) -> None:
        while not self._closed.is_set():
            try:
                if not self._socket.recv(64):
                    continue
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            self._on_wake()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._thread.join(2)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
