"""The molecule scenarios of extensions/molecule/ (delegated driver, against this machine).

molecule is a test dependency (pyproject's `test` extra): a missing one is a failure, not a skip.
"""

from __future__ import annotations

import os
import subprocess

import molecule  # noqa: F401  # pylint: disable=unused-import  # declared: fail loudly without it
import pytest

from tests.e2e.conftest import BIN, ROOT

pytestmark = pytest.mark.slow

SCENARIOS = sorted(p.parent.name for p in (ROOT / "extensions" / "molecule").glob("*/molecule.yml"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, collections_path):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    # The scenarios set prerun: false, so molecule installs nothing; it finds the collection here.
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(collections_path),
        NO_COLOR="1",
        ANSIBLE_NOCOLOR="1",
        MOLECULE_NO_LOG="false",
    )
    run = subprocess.run(
        [str(BIN / "molecule"), "test", "-s", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-8000:]
