"""Fetching a session's `download` URLs: action plug-ins shipped as a playbook or a tarball.

Archives are unpacked with tarfile's "data" filter, which refuses absolute paths, links out of
the directory and device files, so a plug-in bundle cannot write outside its session's folder.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from urllib.parse import urlparse

import requests

MAX_BYTES = 50 * 1024 * 1024


class DownloadFailed(Exception):
    pass


def fetch_plugins(urls: list[str], target: Path, timeout: float = 30.0) -> list[str]:
    """Download every URL into `target`; returns the playbook names now there."""
    target.mkdir(parents=True, exist_ok=True)
    for url in urls:
        content = _get(url, timeout)
        name = Path(urlparse(url).path).name
        if name.endswith((".yml", ".yaml")):
            (target / name).write_bytes(content)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            _unpack(url, content, target)
        else:
            raise DownloadFailed(f"{url}: expected a .yml playbook or a .tar.gz of playbooks")
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
