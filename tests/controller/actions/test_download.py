"""Plug-ins named in a session's `download` are fetched, checked, unpacked safely and run."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest
from flask import Flask

from fenix.actions.download import DownloadFailed, fetch_plugins
from fenix.wsgi import serve_in_thread

HELLO = b"- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: msg=hello\n"


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


FILES = {
    "/bundle.tar.gz": _tarball({"hello.yml": HELLO}),
    "/evil.tar.gz": _tarball({"../escape.yml": HELLO}),
    "/single.yml": HELLO,
}


def _pinned(base: str, name: str) -> str:
    """The URL of a served file with the SHA-256 of its content."""
    return f"{base}/{name}#sha256={hashlib.sha256(FILES['/' + name]).hexdigest()}"


@pytest.fixture
def plugin_server():
    app = Flask("plugins")
    app.get("/<path:name>")(lambda name: FILES.get(f"/{name}", ("missing", 404)))
    handle = serve_in_thread(app)
    yield handle.url
    handle.stop()


def test_bundle_and_single_playbook_are_fetched(tmp_path, plugin_server):
    names = fetch_plugins(
        [_pinned(plugin_server, "bundle.tar.gz"), _pinned(plugin_server, "single.yml")],
        tmp_path,
        allow_http=True,
    )
    assert names == ["hello", "single"]


def test_content_that_is_not_the_one_named_is_refused_before_it_is_written(tmp_path, plugin_server):
    url = f"{plugin_server}/single.yml#sha256={hashlib.sha256(b'other').hexdigest()}"

    with pytest.raises(DownloadFailed, match="its SHA-256 is [0-9a-f]{64}, not the"):
        fetch_plugins([url], tmp_path / "plugins", allow_http=True)

    assert list((tmp_path / "plugins").iterdir()) == []


def test_a_url_without_a_checksum_is_refused(tmp_path, plugin_server):
    with pytest.raises(DownloadFailed, match="has no checksum"):
        fetch_plugins([f"{plugin_server}/single.yml"], tmp_path, allow_http=True)


def test_a_url_without_a_checksum_is_fetched_unchecked_when_the_operator_allows_it(
    tmp_path, plugin_server
):
    names = fetch_plugins(
        [f"{plugin_server}/single.yml"], tmp_path, allow_http=True, allow_unverified=True
    )

    assert names == ["single"]
    assert (tmp_path / "single.yml").read_bytes() == HELLO


def test_a_named_checksum_is_checked_even_when_unverified_downloads_are_allowed(
    tmp_path, plugin_server
):
    url = f"{plugin_server}/single.yml#sha256={hashlib.sha256(b'other').hexdigest()}"

    with pytest.raises(DownloadFailed, match="its SHA-256 is"):
        fetch_plugins([url], tmp_path / "plugins", allow_http=True, allow_unverified=True)


def test_plain_http_is_refused_unless_the_operator_allows_it(tmp_path, plugin_server):
    with pytest.raises(DownloadFailed, match="https only"):
        fetch_plugins([_pinned(plugin_server, "single.yml")], tmp_path / "plugins")

    assert list((tmp_path / "plugins").iterdir()) == []


def test_archive_member_outside_the_folder_is_refused(tmp_path, plugin_server):
    with pytest.raises(DownloadFailed, match="not a usable plug-in archive"):
        fetch_plugins(
            [_pinned(plugin_server, "evil.tar.gz")], tmp_path / "plugins", allow_http=True
        )
    assert not (tmp_path / "escape.yml").exists()


def test_missing_url_names_it(tmp_path, plugin_server):
    with pytest.raises(DownloadFailed, match="could not download .*/nope.tar.gz: 404"):
        fetch_plugins([f"{plugin_server}/nope.tar.gz#sha256={'0' * 64}"], tmp_path, allow_http=True)


@pytest.mark.slow
def test_session_runs_a_downloaded_plugin(live_stack, plugin_server):
    live = live_stack.start(
        cloud={"hosts": 2, "projects": 1, "instances": 1}, allow_http_downloads=True
    )
    session_id = live.create_session(
        download=[_pinned(plugin_server, "bundle.tar.gz")],
        actions=[{"plugin": "hello", "type": "post"}],
    )

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert [(r["plugin"], r["state"]) for r in detail["action_runs"]] == [("hello", "DONE")]


def test_a_plugin_the_download_does_not_ship_fails_the_session_before_any_host_is_touched(
    live_stack, plugin_server
):
    live = live_stack.start(
        cloud={"hosts": 2, "projects": 1, "instances": 2}, allow_http_downloads=True
    )
    session_id = live.create_session(
        download=[_pinned(plugin_server, "bundle.tar.gz")],
        actions=[{"plugin": "hello", "type": "pre"}, {"plugin": "not_shipped", "type": "host"}],
    )

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_FAILED"
    assert "action plug-ins that cannot run: no action plug-in 'not_shipped'" in detail["error"]
    assert [(h["state"], h["disabled"]) for h in detail["hosts"]] == [("PENDING", False)] * 2
    assert detail["action_runs"] == []
    assert all(i["action"] is None for i in detail["instances"])
