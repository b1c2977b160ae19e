"""Plug-ins named in a session's `download` are fetched, unpacked safely and run."""

from __future__ import annotations

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


@pytest.fixture
def plugin_server():
    app = Flask("plugins")
    files = {
        "/bundle.tar.gz": _tarball({"hello.yml": HELLO}),
        "/evil.tar.gz": _tarball({"../escape.yml": HELLO}),
        "/single.yml": HELLO,
    }
    app.get("/<path:name>")(lambda name: files.get(f"/{name}", ("missing", 404)))
    handle = serve_in_thread(app)
    yield handle.url
    handle.stop()


def test_bundle_and_single_playbook_are_fetched(tmp_path, plugin_server):
    names = fetch_plugins(
        [f"{plugin_server}/bundle.tar.gz", f"{plugin_server}/single.yml"], tmp_path
    )
    assert names == ["hello", "single"]


def test_archive_member_outside_the_folder_is_refused(tmp_path, plugin_server):
    with pytest.raises(DownloadFailed, match="not a usable plug-in archive"):
        fetch_plugins([f"{plugin_server}/evil.tar.gz"], tmp_path / "plugins")
    assert not (tmp_path / "escape.yml").exists()


def test_missing_url_names_it(tmp_path, plugin_server):
    with pytest.raises(DownloadFailed, match="could not download .*/nope.tar.gz: 404"):
        fetch_plugins([f"{plugin_server}/nope.tar.gz"], tmp_path)


@pytest.mark.slow
def test_session_runs_a_downloaded_plugin(live_stack, plugin_server):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    session_id = live.create_session(
        download=[f"{plugin_server}/bundle.tar.gz"],
        actions=[{"plugin": "hello", "type": "post"}],
    )

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert [(r["plugin"], r["state"]) for r in detail["action_runs"]] == [("hello", "DONE")]
