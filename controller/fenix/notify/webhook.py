"""POST one notification to a subscriber, as a webhook sender that tenants cannot hurt.

Every delivery has a wall-clock deadline, from the first DNS lookup to the last byte read (a
receiver that trickles one byte every few seconds is cut off like one that never answers), and
keeps at most `KEEP_BYTES` of the answer: the rest is never read (the connection is closed), so
a receiver answering with hundreds of megabytes costs nothing. The sends run on one asyncio
loop in a thread of their own, so a thousand slow receivers hold a thousand sockets, not a
thousand threads, and never the capacity that another subscriber's delivery needs.

The callback URL is checked against the address policy (fenix.notify.callbacks) before each
send, and again by the resolver as the connection is made, to the address it connects to: a
name that resolves elsewhere since the subscription was made cannot reach an internal address.

The answer says whether a connection was made at all: an AODH-style subscriber is sent a
message again only when it was not (fenix.notify.delivery decides).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp

from fenix.notify.callbacks import CallbackPolicy, CallbackRefused, RefusingResolver

KEEP_BYTES = 4096
"""How much of a subscriber's answer is read: enough to show in an error, no more."""


@dataclass(frozen=True)
class Answer:
    """What came of one POST."""

    status: int | None
    """The HTTP status the receiver answered, or None when it gave none."""
    connected: bool
    """Whether the request reached the receiver (a connection was made)."""
    error: str | None = None
    """Why there is no status, or what the status means for us (a redirect is not followed)."""
    refused: bool = False
    """The address policy refused the callback URL: sending again cannot help."""
    excerpt: bytes = b""
    """The start of the answer's body (at most KEEP_BYTES)."""


class WebhookSender:
    """One asyncio loop that sends every webhook; `post` may be called from any thread."""

    def __init__(self, policy: CallbackPolicy, *, connect_timeout: float, capacity: int) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self.capacity = capacity
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhooks", daemon=True)
        self._http: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(10)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        # Sends still running are abandoned: their claims run out and they go again.
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    def post(
        self, url: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> concurrent.futures.Future[Answer]:
        """Send in the background; the future's result is the Answer (it never raises)."""
        return asyncio.run_coroutine_threadsafe(
            self._post(url, body, headers, deadline), self._loop
        )

    # -- on the loop ---------------------------------------------------------------------
    async def _open(self) -> None:
        trace = aiohttp.TraceConfig()
        trace.on_connection_create_end.append(_mark_connected)
        connector = aiohttp.TCPConnector(
            resolver=RefusingResolver(self.policy),
            limit=self.capacity,
            limit_per_host=0,
            force_close=True,  # no connection is kept: each delivery stands alone
            ttl_dns_cache=None,
            use_dns_cache=False,  # every delivery resolves (and checks) the name again
        )
        self._http = aiohttp.ClientSession(
            connector=connector,
            trace_configs=[trace],
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent",),
            headers={"User-Agent": "fenix-ansible-notifier"},
        )

    async def _close(self) -> None:
        """Cancel the sends under way (their messages are given back), then close."""
        sends = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in sends:
            task.cancel()
        await asyncio.gather(*sends, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> Answer:
        assert self._http is not None, "start() the sender first"
        try:
            # A literal address never reaches the resolver: the policy judges it here.
            await self._loop.run_in_executor(None, self.policy.check_url, url)
        except CallbackRefused as exc:
            return Answer(None, connected=False, error=str(exc), refused=True)
        progress = SimpleNamespace(connected=False)
        timeout = aiohttp.ClientTimeout(total=deadline, sock_connect=self.connect_timeout)
        try:
            async with self._http.post(
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                trace_request_ctx=progress,
            ) as response:
                excerpt = await response.content.read(KEEP_BYTES)
                response.close()  # the rest is never read
                return Answer(response.status, True, _meaning(response), excerpt=excerpt)
        except CallbackRefused as exc:  # raised by the resolver: the name points inside
            return Answer(None, connected=False, error=str(exc), refused=True)
        except aiohttp.ClientConnectorError as exc:  # DNS, refused, TLS: never reached
            return Answer(None, connected=False, error=f"{type(exc).__name__}: {exc}")
        except TimeoutError:
            if progress.connected:
                return Answer(None, True, f"no answer within the {deadline:g} s deadline")
            return Answer(None, False, f"no connection within {self.connect_timeout:g} s")
        except aiohttp.ClientError as exc:  # the receiver hung up, or answered nonsense
            return Answer(None, progress.connected, f"{type(exc).__name__}: {exc}")


def _meaning(response: aiohttp.ClientResponse) -> str | None:
    if 300 <= response.status < 400:
        where = response.headers.get("Location", "nowhere")
        return f"HTTP {response.status} redirect to {where} (redirects are not followed)"
    if response.status >= 400 or response.status < 200:
        return f"HTTP {response.status}"
    return None


async def _mark_connected(
    _session: aiohttp.ClientSession, context: Any, _params: aiohttp.TraceConnectionCreateEndParams
) -> None:
    if context.trace_request_ctx is not None:
        context.trace_request_ctx.connected = True
