"""README's "One-click upgrade with Ansible", from a clean clone, read while it runs.

The clone holds what `git clone` of this checkout would (its tracked files plus the new ones
not ignored), and nothing else: no built or installed collection, no ANSIBLE_* variable, an
empty home. In it run the controller and a sample manager per project, then exactly
`ansible-playbook playbooks/rolling_upgrade.yml -i inventories/simulated`, whose output is read
line by line as it comes, each line stamped with the time it was read.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner
import pytest

from tests.e2e.conftest import BIN, ROOT, free_port, http_json, stop, wait_until_up

pytestmark = pytest.mark.slow

HOSTS = ["compute-1", "compute-2", "compute-3", "compute-4"]
MANAGERS = {"project-1": "LIVE_MIGRATE", "project-2": "MIGRATE"}
"""README's sample managers: one per project, one answering LIVE_MIGRATE and one MIGRATE."""
PROJECTS = sorted(MANAGERS)
PLAYBOOK_COMMAND = [
    "ansible-playbook",
    "playbooks/rolling_upgrade.yml",
    "-i",
    "inventories/simulated",
]


def clean_clone(destination: Path) -> Path:
    """The files a clone of this checkout gets, symlinks kept as symlinks."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet in the index
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


def bare_env(home: Path, **extra: str) -> dict[str, str]:
    """A new user's shell: the venv's bin on PATH, an empty home, no Ansible or Fenix settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANSIBLE_", "FENIX_")) and k not in ("HOME", "PYTHONPATH")
    }
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HOME=str(home), **extra)
    return env


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Run:
    returncode: int
    lines: list[tuple[datetime.datetime, str]] = field(default_factory=list)
    event_kinds: list[str] = field(default_factory=list)
    session: dict = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line for read_at, line in self.lines)

    def first_read(self, pattern: str) -> datetime.datetime:
        """When the first output line matching the pattern was read."""
        for read_at, line in self.lines:
            if re.search(pattern, line):
                return read_at
        raise AssertionError(f"no line matches {pattern!r} in:\n{self.text}")

    def ended_at(self) -> datetime.datetime:
        [end] = [
            e
            for e in self.events
            if e["kind"] == "session.state" and e["new"] == self.session["state"]
        ]
        return datetime.datetime.fromisoformat(end["at"])


def wait_for_subscriptions(url: str, count: int, timeout: float = 30) -> None:
    """Until every manager has subscribed (as README's managers have by the time a session
    starts; a busy machine may take longer to start them)."""
    deadline = time.monotonic() + timeout
    while len(http_json("GET", f"{url}/v1/subscriptions")["subscriptions"]) < count:
        assert time.monotonic() < deadline, f"{count} managers did not subscribe in {timeout} s"
        time.sleep(0.2)


def with_ansible_playbook(clone: Path, env: dict[str, str], processes: list) -> Run:
    """The playbook command, its output read line by line as it comes."""
    playbook = subprocess.Popen(
        PLAYBOOK_COMMAND,
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    processes.append(playbook)
    run = Run(returncode=-1)
    for line in playbook.stdout:
        run.lines.append((now(), line.rstrip("\n")))
    run.returncode = playbook.wait(timeout=240)
    return run


def with_ansible_runner(clone: Path, env: dict[str, str], processes: list) -> Run:
    """The same playbook as AWX runs it: through ansible-runner, whose events AWX shows as the
    job's output. Each line is kept with the kind of event that carried it."""
    run = Run(returncode=-1)
    private_data = clone.parent / "runner"
    private_data.mkdir()

    def on_event(event: dict) -> bool:
        for line in (event.get("stdout") or "").splitlines():
            run.lines.append((now(), line))
            run.event_kinds.append(event.get("event"))
        return True

    result = ansible_runner.run(
        private_data_dir=str(private_data),
        project_dir=str(clone),
        playbook=PLAYBOOK_COMMAND[1],
        inventory=str(clone / PLAYBOOK_COMMAND[3]),
        envvars={k: env[k] for k in ("PATH", "HOME", "FENIX_URL")},
        event_handler=on_event,
        quiet=True,
        timeout=240,
    )
    run.returncode = result.rc
    return run


def run_one_click(tmp_path: Path, manager_args: list[str], play=with_ansible_playbook) -> Run:
    clone = clean_clone(tmp_path / "clone")
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = bare_env(home)
    processes = []
    try:
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            serve = subprocess.Popen(
                ["fenix", "serve", "--cloud", "simulated", "--port", str(port)],
                cwd=clone,
                # As README's one-click section: the managers' callbacks are on loopback.
                env={**env, "FENIX_CALLBACK_ALLOW_NETWORKS": '["127.0.0.0/8"]'},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        processes.append(serve)
        wait_until_up(f"{url}/v1/maintenance", serve, log)
        for project, action in MANAGERS.items():
            with (tmp_path / f"{project}.log").open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [
                            "fenix",
                            "vnfm",
                            "--controller",
                            url,
                            "--project",
                            project,
                            "--action",
                            action,
                            *manager_args,
                        ],
                        cwd=clone,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        wait_for_subscriptions(url, len(MANAGERS))
        run = play(clone, bare_env(home, FENIX_URL=url), processes)
        [session_id] = http_json("GET", f"{url}/v1/maintenance")["sessions"]
        run.session = http_json("GET", f"{url}/v1/maintenance/{session_id}/detail")
        run.events = http_json("GET", f"{url}/v1/maintenance/{session_id}/events")["events"]
        return run
    finally:
        for process in reversed(processes):
            stop(process)


@pytest.fixture(scope="module")
def one_click(tmp_path_factory) -> Run:
    # The managers wait 3 s before each reply, so each host takes a few polls to maintain.
    return run_one_click(tmp_path_factory.mktemp("one-click"), ["--delay", "3"])


def test_the_playbook_runs_a_whole_session_from_a_clean_clone(one_click):
    assert one_click.returncode == 0, one_click.text
    assert "ended MAINTENANCE_DONE" in one_click.text
    assert one_click.session["state"] == "MAINTENANCE_DONE"
    assert sorted(h["name"] for h in one_click.session["hosts"]) == HOSTS
    assert all(h["maintained"] for h in one_click.session["hosts"])


@pytest.mark.parametrize("host", HOSTS)
def test_each_hosts_progress_is_printed_before_the_session_ends(one_click, host):
    assert one_click.first_read(rf"\] \S+ host {host}: PENDING -> ") < one_click.ended_at()
    assert one_click.first_read(rf"\] \S+ host {host}: \S+ -> MAINTENANCE_COMPLETE")


@pytest.mark.parametrize("project", PROJECTS)
def test_each_step_a_manager_is_asked_is_printed_as_it_happens(one_click, project):
    asked = [
        e["new"]
        for e in one_click.events
        if e["kind"] == "notification"
        and e["subject"] == project
        and e["data"]["event_type"] == "maintenance.planned"
    ]
    assert {"MAINTENANCE", "PLANNED_MAINTENANCE", "MAINTENANCE_COMPLETE"} <= set(asked)
    for step in ("MAINTENANCE", "PLANNED_MAINTENANCE"):
        assert one_click.first_read(rf"{project} asked: {step}$") < one_click.ended_at()
        assert one_click.first_read(rf"{project} answered ACK_{step}\b") < one_click.ended_at()
    # The last answer ends the session, so it is read after the end, but still printed.
    assert one_click.first_read(rf"{project} asked: MAINTENANCE_COMPLETE$")
    assert one_click.first_read(rf"{project} answered ACK_MAINTENANCE_COMPLETE$")
    printed = [
        line for read_at, line in one_click.lines if re.search(rf"\b{project} (asked|told): ", line)
    ]
    assert len(printed) == len(asked), "each notification to the manager gets one line"


def test_the_progress_lines_come_under_the_follow_task_in_order(one_click):
    text = one_click.text
    follow = text.index(
        "TASK [fenix.maintenance.maintenance_session : Follow the session until it ends]"
    )
    report = text.index(
        "TASK [fenix.maintenance.maintenance_session : Report how the session went]"
    )
    progress = re.findall(r"^\[localhost\] \S+ (.*)$", text[follow:report], re.M)
    states = [m for m in progress if m.startswith("session ")]
    assert states[0] == "session created in MAINTENANCE"
    assert states[-1] == "session MAINTENANCE_COMPLETE -> MAINTENANCE_DONE"
    assert not re.search(r"^\[localhost\] ", text[:follow] + text[report:], re.M)


def test_a_failed_session_fails_the_play_with_its_reason_after_its_progress(tmp_path):
    run = run_one_click(tmp_path, ["--nack", "MAINTENANCE"])
    assert run.returncode != 0
    assert run.session["state"] == "MAINTENANCE_FAILED"
    reason = run.session["error"]
    assert reason
    assert re.search(r"project-\d answered NACK_MAINTENANCE", run.text)
    assert "session MAINTENANCE -> MAINTENANCE_FAILED" in run.text
    failure = run.text.index("fatal: [localhost]")
    assert "Follow the session until it ends" in run.text[:failure].rsplit("TASK [", 1)[-1]
    assert f"ended MAINTENANCE_FAILED: {reason}" in run.text[failure:]


def test_ansible_runner_gets_the_progress_as_it_happens_as_awx_would(tmp_path):
    run = run_one_click(tmp_path, ["--delay", "3"], play=with_ansible_runner)
    assert run.returncode == 0, run.text
    assert run.session["state"] == "MAINTENANCE_DONE"
    for host in HOSTS:
        assert run.first_read(rf"\] \S+ host {host}: PENDING -> ") < run.ended_at()
    kinds = {
        kind
        for (read_at, line), kind in zip(run.lines, run.event_kinds, strict=True)
        if line.startswith("[localhost] ")
    }
    assert kinds == {"verbose"}, "progress lines reach ansible-runner as lines of output"
