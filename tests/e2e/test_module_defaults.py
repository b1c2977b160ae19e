"""meta/runtime.yml's action groups: module_defaults sets the controller (and the cloud) once.

The controller here checks tokens, so a module that did not get the token from
module_defaults would be refused (401), as the second test shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.conftest import BIN, ROOT, Service, free_port, stop

pytestmark = pytest.mark.slow

PLAY = ROOT / "tests" / "e2e" / "plays" / "module_defaults.yml"
TOKEN = "module-defaults-admin"


def wait_until_refusing(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until the controller answers 401 to a caller without a token: up, and guarded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the controller exited with {process.returncode}"
        try:
            urllib.request.urlopen(url, timeout=2).close()
        except urllib.error.HTTPError as exc:
            assert exc.code == 401, f"{url} answered {exc.code} without a token"
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
            continue
        raise AssertionError(f"{url} answered a caller without a token")
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def guarded_controller(tmp_path_factory) -> Iterator[Service]:
    """`fenix serve` on the simulated cloud that answers only callers with its admin token."""
    work = tmp_path_factory.mktemp("guarded")
    port = free_port()
    log = work / "fenix.log"
    env = dict(os.environ, FENIX_TOKENS=json.dumps({TOKEN: {"role": "admin"}}))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "fenix"), "serve", "--port", str(port), "--db", f"sqlite:///{work}/f.db"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_refusing(f"{url}/v1/maintenance", process)
        yield Service(url, process, log)
    finally:
        stop(process)


def test_no_task_of_the_play_names_the_controller_or_the_cloud():
    [play] = yaml.safe_load(PLAY.read_text())
    for task in play["tasks"]:
        [(action, args)] = [(k, v) for k, v in task.items() if k.startswith("fenix.")] or [
            (None, None)
        ]
        if action:
            assert not set(args or {}) & {"url", "token", "sim_url", "cloud"}, task["name"]


def test_module_defaults_set_the_url_and_token_for_every_module(
    guarded_controller, sim_cloud, run_playbook
):
    run = run_playbook(
        str(PLAY),
        "-e",
        f"fenix_url={guarded_controller.url} fenix_token={TOKEN} fenix_sim_url={sim_cloud.url}",
    )
    assert run.returncode == 0, run.stdout
    assert "failed=0" in run.stdout
    # The session was followed by the action plug-in, whose maintenance_info calls got the
    # defaults too: it printed the host's progress.
    assert "host compute-1: PENDING -> " in run.stdout


def test_a_wrong_token_in_module_defaults_is_the_one_sent(
    guarded_controller, sim_cloud, run_playbook
):
    run = run_playbook(
        str(PLAY),
        "-e",
        f"fenix_url={guarded_controller.url} fenix_token=wrong fenix_sim_url={sim_cloud.url}",
    )
    assert run.returncode != 0
    assert "TASK [List the controller's sessions]" in run.stdout
    assert "401" in run.stdout.split("TASK [List the controller's sessions]", 1)[1]
