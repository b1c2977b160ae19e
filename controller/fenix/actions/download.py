"""Fetching a session's `download` URLs: action plug-ins shipped as a playbook or a tarball.

Archives are unpacked with tarfile's "data" filter, which refuses absolute paths, links out of
the directory and device files, so a plug-in bundle cannot write outside its session's folder.

A plug-in is code the controller will run, so each URL carries the SHA-256 of what it must
deliver, in pip's form `https://host/plugins.tar.gz#sha256=<64 hex digits>`, and the content is
checked against it before it is written anywhere. Downloads are https only; plain http only when
the operator allows it (`allow_http_downloads`), e.g. for a mirror on a trusted network.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import tarfile
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import requests

MAX_BYTES = 50 * 1024 * 1024


_SHA256_FRAGMENT = re.compile(r"sha256=([0-9a-fA-F]{64})")


class DownloadFailed(Exception):
    pass


def split_download_url(url: str, *, allow_unverified: bool = False) -> tuple[str, str | None]:
    """(the URL to fetch, the SHA-256 its content must have, None for none when the operator
    allows unverified downloads); ValueError saying what is missing."""
    fetch_url, fragment = urldefrag(url)
    match = _SHA256_FRAGMENT.fullmatch(fragment)
    if match is not None:
        return fetch_url, match.group(1).lower()
    if allow_unverified and not fragment:
        return fetch_url, None
    raise ValueError(
        f"{url!r} has no checksum: end it with #sha256=<the 64 hex digits of the file's "
        "SHA-256> (sha256sum prints them), or the operator may allow downloads without one "
        "with FENIX_ALLOW_UNVERIFIED_DOWNLOADS=true"
    )


def check_scheme(url: str, allow_http: bool) -> None:
    """ValueError for a URL that is not https (http only when the operator allowed it)."""
    scheme = urlparse(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_http):
        return
    raise ValueError(
        f"{urldefrag(url)[0]!r}: plug-ins are downloaded over https only "
        "(the operator may allow http with FENIX_ALLOW_HTTP_DOWNLOADS=true)"
    )


def fetch_plugins(
    urls: list[str],
    target: Path,
    timeout: float = 30.0,
    *,
    allow_http: bool = False,
    allow_unverified: bool = False,
) -> list[str]:
    """Download every URL into `target`, each checked against its SHA-256 before it is written
    (unless it names none and the operator allows that); returns the playbook names now there."""
    target.mkdir(parents=True, exist_ok=True)
    for url in urls:
        try:
            check_scheme(url, allow_http)
            fetch_url, sha256 = split_download_url(url, allow_unverified=allow_unverified)
        except ValueError as exc:
            raise DownloadFailed(str(exc)) from None
        content = _get(fetch_url, timeout)
        actual = hashlib.sha256(content).hexdigest()
        if sha256 is not None and not hmac.compare_digest(actual, sha256):
            raise DownloadFailed(
                f"{fetch_url}: its SHA-256 is {actual}, not the {sha256} the session names; "
                "nothing of it was used"
            )
        name = Path(urlparse(fetch_url).path).name
        if name.endswith((".yml", ".yaml")):
            (target / name).write_bytes(content)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            _unpack(fetch_url, content, target)
        else:
            raise DownloadFailed(f"{fetch_url}: expected a .yml playbook or a .tar.gz of playbooks")
    return sorted(p.stem for p in target.glob("*.y*ml"))


def _get(url: str, timeout: float) -> bytes:
    try:
        response = requests.get(url, timeout=timeout, stream=True)
        response.raise_for_status()
        content = response.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise DownloadFailed(f"could not download {url}: {exc}") from exc
    if len(content) > MAX_BYTES:
        raise DownloadFailed(f"{url} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return content


def _unpack(url: str, content: bytes, target: Path) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(content)) as archive:
            archive.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise DownloadFailed(f"{url}: not a usable plug-in archive: {exc}") from exc
