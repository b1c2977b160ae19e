"""The simulated cloud as its own process, as resume tests run it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from fenix.drivers.simulated import SimulatedDriver


def test_standalone_process_serves_until_sigterm():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fenix.simulators.cloud",
            "--hosts",
            "3",
            "--projects",
            "1",
            "--instances",
            "3",
            "--migrate-seconds",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = json.loads(proc.stdout.readline())["url"]
        driver = SimulatedDriver(url)
        assert [h.name for h in driver.list_hosts()] == ["compute-1", "compute-2", "compute-3"]
        assert len(driver.list_instances()) == 3
        result = driver.wait_action(driver.migrate("project-1-vm-1"), 5)
        assert result.status == "DONE"
        driver.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
