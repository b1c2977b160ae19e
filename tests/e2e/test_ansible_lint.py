"""ansible-lint on the collection's playbooks, roles, molecule scenarios and integration
targets, with the repository's .ansible-lint (profile production): no failure, no warning.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.e2e.conftest import BIN, ROOT

pytestmark = pytest.mark.slow


def test_ansible_lint_passes_the_production_profile():
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1")
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    run = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "--nocolor"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "0 failure(s), 0 warning(s)" in output, output
    assert "Profile 'production' was required, and it passed" in output, output
