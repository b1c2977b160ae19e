"""Where the controller may POST: the callback URL policy that keeps it from being an SSRF proxy.

A subscription's `callback_url` is chosen by a project's member, a tenant. Left alone, the
controller would post wherever that URL points: its own loopback API, the cloud's metadata
service at 169.254.169.254, a switch on the management network. So a callback must resolve to
public addresses only, unless the admin lists a network in FENIX_CALLBACK_ALLOW_NETWORKS (the
tests and `fenix demo` allow 127.0.0.0/8, where their managers run). `fenix serve` allows no
such network by itself.

The policy is applied twice: `check_url` when the subscription is made and before each
delivery (it refuses IP literals in every spelling the C library accepts, `127.1`, `2130706433`,
`0x7f000001`, `0`, which aiohttp hands to the socket layer without asking a resolver), and
`RefusingResolver` inside aiohttp when it connects, so that the connection goes to the very
addresses that were judged: DNS that changes its answer between the check and the connect
(rebinding) gains nothing. Redirects must not be followed (the delivery never follows them).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
"""The longest callback URL, in characters (2 KiB): enough for any real receiver."""

ALLOW_SETTING = "FENIX_CALLBACK_ALLOW_NETWORKS"

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_BROADCAST = ipaddress.ip_address("255.255.255.255")


class CallbackRefused(Exception):
    """A callback URL the controller will not post to.

    The message starts with "callback_url: ", says why and what to do: the API answers it
    as is, and a delivery records it as the reason it gave up.
    """


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The allowed networks, from CIDR strings; a ValueError naming the setting otherwise."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value))
        except ValueError as exc:
            raise ValueError(
                f"{ALLOW_SETTING}: {value!r} is not a network in CIDR form ({exc}); "
                'write e.g. "127.0.0.0/8" or "fd00::/8"'
            ) from None
    return tuple(networks)


class CallbackPolicy:
    """Which addresses a callback may reach: public ones, and those in the allowed networks."""

    def __init__(self, allow_networks: Iterable[str] = ()) -> None:
        self.allow_networks = parse_networks(allow_networks)

    def allowed(self, address: str | IPAddress) -> bool:
        return self.refusal(address) is None

    def refusal(self, address: str | IPAddress) -> str | None:
        """Why this address is refused ("a loopback address"), or None if it is allowed."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:a.b.c.d is a.b.c.d to the socket layer
        if self._in_allowed_network(ip):
            return None
        for embedded in _embedded_ipv4(ip):
            reason = None if self._in_allowed_network(embedded) else _not_public(embedded)
            if reason is not None:
                return f"an address that embeds {embedded}, {reason}"
        return _not_public(ip)

    def check_url(self, url: str) -> list[IPAddress]:
        """Refuse a URL that is not http(s), too long, or whose host has any refused address.

        Returns the addresses the host resolves to, all allowed. No connection is made, but a
        host name is looked up (getaddrinfo, every family): call it off the event loop.
        """
        host, port = _host_and_port(url)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise CallbackRefused(
                f"callback_url: the host {host!r} does not resolve ({exc}); give a host name "
                "the controller's DNS knows, or a public IP address"
            ) from None
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
            if address not in addresses:
                addresses.append(address)
        for address in addresses:
            self.check_address(host, address)
        return addresses

    def check_address(self, host: str, address: IPAddress) -> None:
        """CallbackRefused if `host`'s address `address` is refused, naming both."""
        reason = self.refusal(address)
        if reason is None:
            return
        where = f"{host!r}" if host == str(address) else f"{host!r} resolves to {address}, which"
        raise CallbackRefused(
            f"callback_url: {where} is {reason}, and the controller posts only to public "
            f"addresses; give the manager's public address, or ask the admin to allow that "
            f"network in {ALLOW_SETTING} (e.g. '[\"127.0.0.0/8\"]' for managers on the "
            "controller's host)"
        )

    def _in_allowed_network(self, ip: IPAddress) -> bool:
        return any(ip in network for network in self.allow_networks)


class RefusingResolver(AbstractResolver):
    """aiohttp's resolver, refusing a host with any address the policy refuses.

    aiohttp connects to exactly the addresses a resolver returns, so what is judged here is
    what is connected to. aiohttp does not ask a resolver for hosts that look like IP
    addresses (`127.1`, `2130706433`, `[::1]`): the caller runs `check_url` before each
    delivery, which covers them. The inner resolver (aiohttp's default unless given) is
    made on first use, inside the event loop that needs it.
    """

    def __init__(self, policy: CallbackPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self.policy.check_address(host, ipaddress.ip_address(result["host"].partition("%")[0]))
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


def _host_and_port(url: str) -> tuple[str, int]:
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(
            f"callback_url: {len(url)} characters long; the most is {MAX_URL_LENGTH} (2 KiB): "
            "use a shorter path"
        )
    try:
        parsed = URL(url)
        host, port = parsed.raw_host, parsed.port
    except (ValueError, TypeError) as exc:
        raise CallbackRefused(f"callback_url: {url!r} is not a URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise CallbackRefused(
            f"callback_url: an http:// or https:// URL is needed, not {parsed.scheme or 'none'}"
        )
    if not host:
        raise CallbackRefused(f"callback_url: {url!r} names no host; give http(s)://host/path")
    return host, port or 0


def _not_public(ip: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (the cloud's metadata service lives there)"
    # Some multicast ranges count as global, so this comes before is_global.
    if ip.is_multicast:
        return "a multicast address"
    if ip == _BROADCAST:
        return "the broadcast address"
    if ip in _SHARED:
        return "in the shared address space 100.64.0.0/10 (carrier-grade NAT)"
    if ip in _UNIQUE_LOCAL:
        return "a unique local (private) IPv6 address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local IPv6 address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-compatible, 6to4, Teredo, NAT64."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    embedded = []
    # :: and ::1 are in ::/96 too, but they are themselves, not IPv4 addresses.
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        embedded.append(ip.sixtofour)
    if ip.teredo is not None:
        embedded.extend(ip.teredo)
    return embedded
