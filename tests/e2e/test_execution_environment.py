"""meta/execution-environment.yml: `ansible-builder create` accepts it and puts in the build
context this collection and what its modules import; and an EE that installs the collection
from elsewhere learns the same packages from it (`ansible-builder introspect`).

No container is built here (that needs a container runtime); `create` writes the Containerfile
and the context that `ansible-builder build` would hand to it.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import BIN, ROOT

META = ROOT / "meta"
EE_FILE = META / "execution-environment.yml"
IMPORT_TO_PACKAGE = {"openstack": "openstacksdk", "kubernetes": "kubernetes"}
"""Third-party modules the module_utils import, and the package that brings each."""


def tool_env() -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    return env


def without_comment(line: str) -> str:
    return line.split("#")[0].strip()


def requirement_names(path: Path) -> list[str]:
    lines = [without_comment(line) for line in path.read_text().splitlines()]
    return [line for line in lines if line]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ee-build")
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=out,
        env=tool_env(),
    )
    [built] = out.glob("fenix-maintenance-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def context(tarball, tmp_path_factory) -> Path:
    """`ansible-builder create` run as docs/awx.md says: the tarball in build/ beside meta/."""
    work = tmp_path_factory.mktemp("ee")
    shutil.copytree(META, work / "meta")
    (work / "build").mkdir()
    shutil.copy2(tarball, work / "build" / tarball.name)
    run = subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "create",
            "-f",
            str(work / "meta" / "execution-environment.yml"),
            "--context",
            str(work / "context"),
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=tool_env(),
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No matches" not in run.stdout + run.stderr, run.stdout + run.stderr
    return work / "context"


def test_create_puts_the_collection_and_its_requirements_in_the_context(context, tarball):
    build = context / "_build"
    assert (build / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert galaxy["collections"] == [{"name": f"collections/{tarball.name}", "type": "file"}]
    assert (build / "requirements.txt").read_text() == (META / "requirements.txt").read_text()
    assert (build / "bindep.txt").read_text() == (META / "bindep.txt").read_text()
    containerfile = next(
        p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()
    )
    text = containerfile.read_text()
    assert "ansible-galaxy collection install" in text
    assert "--user-pip=requirements.txt --user-bindep=bindep.txt" in text


def test_the_tarball_named_is_the_collections_version():
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    ee = yaml.safe_load(EE_FILE.read_text())
    name = f"fenix-maintenance-{version}.tar.gz"
    assert ee["dependencies"]["galaxy"]["collections"][0]["name"] == f"collections/{name}"
    assert [f["src"] for f in ee["additional_build_files"]] == [f"../build/{name}"]


def test_requirements_name_every_third_party_import_of_the_modules():
    imported = set()
    for source in [*(ROOT / "plugins").rglob("*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = imported & set(IMPORT_TO_PACKAGE)
    assert third_party == set(IMPORT_TO_PACKAGE), "IMPORT_TO_PACKAGE is out of date"
    named = {
        r.split(">")[0].split("=")[0].strip() for r in requirement_names(META / "requirements.txt")
    }
    assert named == {IMPORT_TO_PACKAGE[m] for m in third_party}


def test_requirements_pin_what_the_project_extras_pin():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(requirement_names(META / "requirements.txt")) == {
        *extras["openstack"],
        *extras["kubernetes"],
    }


def test_an_ee_installing_the_collection_learns_its_requirements(tarball, tmp_path):
    subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--force",
            str(tarball),
            "-p",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        env=tool_env(),
    )
    run = subprocess.run(
        [str(BIN / "ansible-builder"), "introspect", "--sanitize", str(tmp_path)],
        capture_output=True,
        text=True,
        env=tool_env(),
        check=True,
    )
    found = yaml.safe_load(run.stdout)
    assert [without_comment(p) for p in found["python"]] == requirement_names(
        META / "requirements.txt"
    )
    assert [without_comment(s) for s in found["system"]] == requirement_names(META / "bindep.txt")
