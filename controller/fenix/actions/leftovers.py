"""Finding and ending the processes of an action run whose controller died.

ansible-runner starts ansible-playbook with SIGHUP ignored in a session of its own, so when the
controller is killed the playbook carries on, re-parented. An engine that takes the session over
would then run the same plug-in again beside it (an OS upgrade twice at once on one host). So
every run's processes carry a marker in their environment (`RUN_MARKER`, inherited by
ansible-playbook, its workers and the commands its tasks start), and the engine that takes a
session over ends every process still carrying the marker of a run left `RUNNING` before it
decides anything. Processes are found through /proc, so only on the machine they run on (Linux).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

RUN_MARKER = "FENIX_ACTION_RUN"
PROC = Path("/proc")


def run_marker(session_id: str, run_id: int) -> str:
    """The value of `RUN_MARKER` for one run: unique across sessions and runs."""
    return f"{session_id}/{run_id}"


def can_see_processes() -> bool:
    """True where processes can be looked up by their environment (Linux's /proc)."""
    return (PROC / "self" / "environ").is_file()


def marked_processes(marker: str) -> list[int]:
    """The live processes (of this user) whose environment holds `RUN_MARKER=<marker>`."""
    wanted = f"{RUN_MARKER}={marker}".encode()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or another user's
        if wanted in environ.split(b"\0") and _alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped) counts as ended."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def end_processes(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL what is left after `grace` seconds; returns when all are gone."""
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return
        time.sleep(0.1)
    _signal_all(pids, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            alive = [pid for pid in pids if _alive(pid)]
            raise OSError(f"processes {alive} survived SIGKILL")
        time.sleep(0.05)


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
