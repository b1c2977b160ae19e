"""The built collection: what ships, ansible-doc for every module, and ansible-test sanity.

Sanity runs on the BUILT collection, installed under ansible_collections/fenix/maintenance:
run in the repository it would sweep controller/ and the other folders build_ignore leaves out.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from ansible.release import __version__ as ansible_version

from tests.e2e.conftest import BIN, ROOT

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

GPL_HEADER_IGNORE = "validate-modules:missing-gplv3-license"
"""validate-modules wants a GPLv3 header in every module; this collection is Apache-2.0."""


def _ignores(collection: Path) -> str:
    """The entries of tests/sanity/ignore-X.Y.txt, each with its reason.

    Kept here, not in the repository, until the project has a tests/sanity/ of its own. An
    entry that matches nothing is itself a sanity failure, hence the checks on each.
    """
    lines = [f"plugins/modules/{m}.py {GPL_HEADER_IGNORE}\n" for m in MODULES]
    # Kubernetes manifests (kubectl apply -f) hold several documents by design.
    for manifest in sorted((collection / "inventories").rglob("*.y*ml")):
        with manifest.open() as stream:
            if len([d for d in yaml.safe_load_all(stream) if d is not None]) > 1:
                relative = manifest.relative_to(collection)
                lines.append(f"{relative} yamllint:multiple-yaml-documents\n")
    return "".join(lines)


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
    assert not [n for n in names if n.startswith(("controller/", "tests/controller/", "docs/"))]


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
    if not script.exists():
        cache.mkdir(parents=True, exist_ok=True)
        script.write_text(GET_PIP_STAND_IN)


def test_ansible_test_sanity_passes_on_the_built_collection(installed):
    collection = installed / "ansible_collections" / "fenix" / "maintenance"
    major_minor = ".".join(ansible_version.split(".")[:2])
    ignore = collection / "tests" / "sanity" / f"ignore-{major_minor}.txt"
    ignore.parent.mkdir(parents=True, exist_ok=True)
    ignore.write_text(_ignores(collection))
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
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-6000:]
