"""Finding plug-ins by name, and saying where we looked when there is none."""

from __future__ import annotations

import pytest

from fenix.actions.plugins import PluginNotFound, resolve_playbook


def test_user_directory_comes_before_the_builtin_ones(tmp_path):
    own = tmp_path / "dummy.yml"
    own.write_text("- hosts: all\n  tasks: []\n")
    assert resolve_playbook("dummy", [tmp_path]) == own.resolve()


def test_unknown_plugin_names_the_places_searched(tmp_path):
    with pytest.raises(PluginNotFound, match=f"no action plug-in 'nope' in {tmp_path}"):
        resolve_playbook("nope", [tmp_path])


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", ""])
def test_names_cannot_reach_outside_the_plugin_directories(name):
    with pytest.raises(PluginNotFound, match="is not a plug-in name"):
        resolve_playbook(name)
