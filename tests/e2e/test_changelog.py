"""changelogs/ as antsibull-changelog keeps it: fragments and changelog.yaml lint clean, and
CHANGELOG.rst is what `antsibull-changelog generate` makes of them (never edited by hand).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.e2e.conftest import BIN, ROOT

CHANGELOGS = ROOT / "changelogs"


def antsibull(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "antsibull-changelog"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_fragments_and_changelog_yaml_lint_clean():
    run = antsibull("lint", "-v")
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr
    yaml_run = antsibull("lint-changelog-yaml", str(CHANGELOGS / "changelog.yaml"))
    assert yaml_run.returncode == 0 and not yaml_run.stdout.strip(), yaml_run.stdout


def test_changelog_rst_is_the_generated_one(tmp_path):
    for name in ("galaxy.yml", "CHANGELOG.rst"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(
        CHANGELOGS, tmp_path / "changelogs", ignore=shutil.ignore_patterns(".plugin-cache.yaml")
    )
    (tmp_path / "CHANGELOG.rst").write_text("stale\n")
    run = antsibull("generate", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    generated = (tmp_path / "CHANGELOG.rst").read_text()
    assert generated == (ROOT / "CHANGELOG.rst").read_text(), "run `antsibull-changelog generate`"


def test_the_latest_release_is_the_collections_version():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    releases = yaml.safe_load((CHANGELOGS / "changelog.yaml").read_text())["releases"]
    assert galaxy["version"] in releases
    assert f"v{galaxy['version']}" in (ROOT / "CHANGELOG.rst").read_text()


def test_every_module_is_announced_in_the_release_that_added_it():
    releases = yaml.safe_load((CHANGELOGS / "changelog.yaml").read_text())["releases"]
    announced = {m["name"] for r in releases.values() for m in r.get("modules", [])}
    assert announced == {p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")}
