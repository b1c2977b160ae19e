"""The callback URL policy: no loopback, private, link-local... address in any spelling, unless
the admin allows its network; and aiohttp connects only to the addresses that were judged."""

from __future__ import annotations

import asyncio
import ipaddress

import aiohttp
import pytest

from fenix.notify.callbacks import MAX_URL_LENGTH, CallbackPolicy, CallbackRefused, RefusingResolver

REFUSED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.1/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),
    ("http://0x7f000001/hook", "loopback"),
    ("http://0/hook", "unspecified"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://localhost/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://[::]/hook", "unspecified"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.0.0.1/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://[fd00::1]/hook", "unique local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://100.64.0.1/hook", "shared address space"),
    # Less common spellings and embeddings of the same places.
    ("https://127.0.0.1:8443/hook", "loopback"),
    ("http://255.255.255.255/hook", "broadcast"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://192.0.2.1/hook", "private"),  # documentation range
    ("http://[ff02::1]/hook", "multicast"),
    ("http://[::ffff:169.254.169.254]/hook", "link-local"),
    ("http://[::127.0.0.1]/hook", "embeds 127.0.0.1"),
    ("http://[2002:7f00:1::1]/hook", "embeds 127.0.0.1"),  # 6to4
    ("http://[64:ff9b::a9fe:a9fe]/hook", "embeds 169.254.169.254"),  # NAT64
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "embeds 127.0.0.1"),  # Teredo
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_non_public_addresses_are_refused_in_every_spelling(url, reason):
    with pytest.raises(CallbackRefused) as refused:
        CallbackPolicy().check_url(url)

    message = str(refused.value)
    assert message.startswith("callback_url: ")
    assert reason in message
    assert "FENIX_CALLBACK_ALLOW_NETWORKS" in message


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://8.8.8.8/hook", ["8.8.8.8"]),
        ("https://8.8.8.8:8443/a/b?c=d", ["8.8.8.8"]),
        ("http://[2001:4860:4860::8888]/hook", ["2001:4860:4860::8888"]),
        ("http://[::ffff:8.8.8.8]/hook", ["::ffff:8.8.8.8"]),
    ],
)
def test_public_literals_are_allowed_and_returned(url, addresses):
    checked = CallbackPolicy().check_url(url)

    assert checked == [ipaddress.ip_address(address) for address in addresses]


@pytest.mark.parametrize(
    ("allow", "url"),
    [
        (["127.0.0.0/8"], "http://127.0.0.1:8080/hook"),
        (["127.0.0.0/8"], "http://127.1/hook"),
        (["127.0.0.0/8"], "http://2130706433/hook"),
        (["127.0.0.0/8"], "http://localhost/hook"),
        (["127.0.0.0/8"], "http://[::ffff:127.0.0.1]/hook"),
        (["::1/128"], "http://[::1]/hook"),
        (["10.20.0.0/16", "fd00::/8"], "http://10.20.30.40/hook"),
        (["10.20.0.0/16", "fd00::/8"], "http://[fd00::1]/hook"),
    ],
)
def test_an_allowed_network_is_allowed_whatever_it_is(allow, url):
    assert CallbackPolicy(allow).check_url(url)


@pytest.mark.parametrize(
    ("allow", "url"),
    [
        (["127.0.0.0/8"], "http://10.0.0.1/hook"),
        (["127.0.0.0/8"], "http://[::1]/hook"),
        (["10.20.0.0/16"], "http://10.21.0.1/hook"),
        (["::1/128"], "http://127.0.0.1/hook"),
    ],
)
def test_allowing_one_network_allows_no_other(allow, url):
    with pytest.raises(CallbackRefused):
        CallbackPolicy(allow).check_url(url)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://8.8.8.8/hook", ["http:// or https://", "not ftp"]),
        ("http:///hook", ["names no host"]),
        ("http://[::1/hook", ["not a URL"]),
        ("http://8.8.8.8:99999/hook", ["not a URL"]),
        ("http://no-such-host.invalid/hook", ["does not resolve", "no-such-host.invalid"]),
        ("http://8.8.8.8/" + "a" * MAX_URL_LENGTH, ["characters long", "2048"]),
    ],
)
def test_unusable_urls_are_refused_saying_why(url, words):
    with pytest.raises(CallbackRefused) as refused:
        CallbackPolicy().check_url(url)

    message = str(refused.value)
    assert message.startswith("callback_url: ")
    for word in words:
        assert word in message


def test_a_url_of_exactly_2_kib_is_allowed():
    url = "http://8.8.8.8/"
    url += "a" * (MAX_URL_LENGTH - len(url))

    assert CallbackPolicy().check_url(url) == [ipaddress.ip_address("8.8.8.8")]


def test_a_network_that_is_not_cidr_is_a_clear_configuration_error():
    with pytest.raises(ValueError, match="FENIX_CALLBACK_ALLOW_NETWORKS: '127.0.0.1/8'"):
        CallbackPolicy(["127.0.0.1/8"])


def _post(url: str, policy: CallbackPolicy) -> int:
    """POST through aiohttp with the refusing resolver, as a delivery does."""

    async def post() -> int:
        connector = aiohttp.TCPConnector(resolver=RefusingResolver(policy))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(url, json={"event_type": "test"}, allow_redirects=False) as response,
        ):
            return response.status

    return asyncio.run(post())


def test_aiohttp_with_the_resolver_refuses_a_name_for_loopback_and_sends_nothing(receiver):
    url = receiver.url.replace("127.0.0.1", "localhost") + "/hook"

    with pytest.raises(CallbackRefused, match="'localhost' resolves to 127.0.0.1"):
        _post(url, CallbackPolicy())

    assert receiver.to("/hook") == []


def test_aiohttp_with_the_resolver_delivers_when_loopback_is_allowed(receiver):
    url = receiver.url.replace("127.0.0.1", "localhost") + "/hook"

    status = _post(url, CallbackPolicy(["127.0.0.0/8"]))

    assert status == 200
    assert [r.body for r in receiver.to("/hook")] == [b'{"event_type": "test"}']
