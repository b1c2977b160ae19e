"""The built collection: what ships, ansible-doc for every module, and ansible-test sanity.

Sanity runs on the BUILT collection, installed under ansible_collections/fenix/maintenance:
run in the repository it would sweep controller/ and the other folders build_ignore leaves out.
It uses the collection's own tests/sanity/ignore-X.Y.txt.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from ansible.release import __version__ as ansible_version

from tests.e2e.conftest import BIN, ROOT

pytestmark = pytest.mark.slow

MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))

GET_PIP_STAND_IN = '''\
"""Stand-in for the get-pip script ansible-test downloads from ci-files.testing.ansible.com,
which this machine cannot reach: ensurepip brings the interpreter's bundled pip, which then
installs the pip version asked for from the package index that pip is configured with."""
import ensurepip
import os
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
ensurepip.bootstrap()
# ensurepip points PIP_CONFIG_FILE at /dev/null; the real pip must read the machine's config.
env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_CONFIG")}
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args, env=env))
'''

SANITY = ROOT / "tests" / "sanity"
MAJOR_MINOR = ".".join(ansible_version.split(".")[:2])


def test_the_ignore_file_is_for_this_ansible_core_and_justifies_each_line():
    """tests/sanity/ignore-X.Y.txt of the ansible-core a fresh install gets: each entry with
    its reason after `#` (ansible-test itself fails on an entry that matches nothing)."""
    ignore = SANITY / f"ignore-{MAJOR_MINOR}.txt"
    assert ignore.is_file(), f"no {ignore.relative_to(ROOT)} for ansible-core {ansible_version}"
    for line in ignore.read_text().splitlines():
        entry, reason = line.split(" # ", 1)
        path, test = entry.split(" ")
        assert (ROOT / path).exists(), line
        assert ":" in test, f"{line}: name the error code, not the whole test"
        assert len(reason.split()) >= 4, f"{line}: say why"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build")
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        env=_env(),
    )
    [tarball] = out.glob("fenix-maintenance-*.tar.gz")
    return tarball


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory) -> Path:
    """The collection as ansible-galaxy installs it: root/ansible_collections/fenix/maintenance."""
    root = tmp_path_factory.mktemp("installed")
    subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--force",  # even if another copy is installed where ansible looks by default
            str(built),
            "-p",
            str(root),
        ],
        check=True,
        capture_output=True,
        env=_env(),
    )
    return root


def test_build_ships_the_collection_and_leaves_out_the_controller(built):
    with tarfile.open(built) as tar:
        names = tar.getnames()
    assert "plugins/modules/maintenance_session.py" in names
    assert "plugins/module_utils/_controller_client.py" in names
    assert "roles/maintenance_session/meta/argument_specs.yml" in names
    assert "playbooks/rolling_upgrade.yml" in names
    assert "plugins/action/maintenance_session.py" in names
    assert "meta/execution-environment.yml" in names
    assert "CHANGELOG.rst" in names and "changelogs/changelog.yaml" in names
    assert f"tests/sanity/ignore-{MAJOR_MINOR}.txt" in names
    assert not [
        n
        for n in names
        if n.startswith(("controller/", "tests/controller/", "docs/", ".collections", "build/"))
        or n == "ansible.cfg"
    ]


def test_ansible_doc_renders_every_module(installed):
    env = _env(ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR="1")
    names = [f"fenix.maintenance.{m}" for m in MODULES]
    run = subprocess.run(
        [str(BIN / "ansible-doc"), *names],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    for name in names:
        assert name in run.stdout
    assert "[WARNING]" not in run.stderr and "[ERROR]" not in run.stderr
    listed = subprocess.run(
        [str(BIN / "ansible-doc"), "-l", "fenix.maintenance"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert sorted(line.split()[0] for line in listed.stdout.splitlines() if line) == names


def _ensure_pip_bootstrap() -> None:
    """ansible-test bootstraps pip in its venvs with a script it caches under ~/.ansible."""
    cache = Path.home() / ".ansible" / "test" / "cache"
    script = cache / "get_pip_24_2.py"
    if not script.exists() or script.read_text() != GET_PIP_STAND_IN:
        cache.mkdir(parents=True, exist_ok=True)
        script.write_text(GET_PIP_STAND_IN)


def test_ansible_test_sanity_passes_on_the_built_collection(installed):
    collection = installed / "ansible_collections" / "fenix" / "maintenance"
    # The repository's ignore file, as the built collection ships it.
    assert (collection / "tests" / "sanity" / f"ignore-{MAJOR_MINOR}.txt").is_file()
    _ensure_pip_bootstrap()
    run = subprocess.run(
        [str(BIN / "ansible-test"), "sanity", "--python", "3.11", "--color", "no"],
        cwd=collection,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=1200,
        check=False,
    )
    errors = [x for x in (run.stdout + run.stderr).splitlines() if x.startswith("ERROR")]
    assert run.returncode == 0, "\n".join(errors) or run.stdout[-6000:] + run.stderr[-6000:]
