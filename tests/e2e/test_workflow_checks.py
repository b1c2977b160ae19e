"""docs/awx.md's workflow run as AWX would run its jobs: pre-check, upgrade, post-check, with
the same extra variables, against a live controller; and each check failing when it should.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import http_json

pytestmark = pytest.mark.slow

SESSION_NAME = "e2e-workflow"


def _run(run_playbook, controller, playbook: str, *extra: str):
    return run_playbook(
        f"playbooks/{playbook}",
        "-i",
        "inventories/simulated",
        "-e",
        f"fenix_url={controller.url}",
        "-e",
        f"fenix_session_name={SESSION_NAME}",
        *extra,
    )


@pytest.fixture(scope="module")
def workflow(controller, run_playbook) -> dict:
    """The three jobs, in the workflow's order, on the module's fresh controller."""
    jobs = {}
    for playbook in ("pre_check.yml", "rolling_upgrade.yml", "post_check.yml"):
        jobs[playbook] = _run(run_playbook, controller, playbook, "-e", "fenix_wait_timeout=180")
    return jobs


def test_the_workflows_jobs_pass_in_order_on_a_free_cloud(workflow):
    pre, upgrade, post = workflow.values()
    assert pre.returncode == 0, pre.stdout
    assert "the 4 hosts of 'compute' are free" in pre.stdout
    assert "The upgrade's plan: 4 hosts in 4 waves" in pre.stdout, "one at a time"
    assert upgrade.returncode == 0, upgrade.stdout
    assert post.returncode == 0, post.stdout
    assert "ended MAINTENANCE_DONE with compute-1, compute-2, compute-3, compute-4 maintained" in (
        post.stdout
    )


def test_pre_check_fails_naming_the_session_that_holds_a_host(controller, run_playbook):
    blocking = http_json(
        "POST",
        f"{controller.url}/v1/maintenance",
        {
            "hosts": ["compute-3"],
            "state": "MAINTENANCE",
            "workflow": "default",
            "maintenance_at": "2099-01-01 00:00:00",
            "metadata": {},
        },
    )["session_id"]
    try:
        pre = _run(run_playbook, controller, "pre_check.yml")
    finally:
        http_json("DELETE", f"{controller.url}/v1/maintenance/{blocking}")
    assert pre.returncode != 0
    assert f"Session {blocking} (MAINTENANCE) still holds compute-3" in pre.stdout


def test_post_check_fails_when_the_upgrade_never_ran(controller, run_playbook):
    post = _run(run_playbook, controller, "post_check.yml", "-e", "fenix_session_name=never-ran")
    assert post.returncode != 0
    assert "The controller has no session named 'never-ran'" in post.stdout


def test_post_check_fails_when_the_group_has_a_host_the_session_left_out(
    workflow, controller, run_playbook, tmp_path
):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    compute:\n      hosts:\n"
        + "".join(f"        compute-{i}:\n" for i in range(1, 6))
    )
    post = run_playbook(
        "playbooks/post_check.yml",
        "-i",
        str(inventory),
        "-e",
        f"fenix_url={controller.url}",
        "-e",
        f"fenix_session_name={SESSION_NAME}",
    )
    assert post.returncode != 0
    assert "hosts of 'compute' not maintained: compute-5" in post.stdout
