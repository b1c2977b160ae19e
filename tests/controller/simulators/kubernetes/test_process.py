"""The simulated API server as its own process, reached through a kubeconfig with a token."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from fenix.drivers.kubernetes import KubernetesDriver


def test_standalone_simulator_serves_a_kubeconfig_client_until_sigterm(tmp_path):
    command = [sys.executable, "-m", "fenix.simulators.kubernetes", "--nodes", "2"]
    command += ["--token", "t0ken", "--no-workloads"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = json.loads(proc.stdout.readline())["url"]
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sim", "cluster": {"server": url}}],
            "users": [{"name": "sim", "user": {"token": "t0ken"}}],
            "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim"}}],
            "current-context": "sim",
        }
        path = tmp_path / "kubeconfig"
        path.write_text(json.dumps(kubeconfig))
        driver = KubernetesDriver(kubeconfig=str(path))
        try:
            hosts = [h.name for h in driver.list_hosts()]
            assert hosts == ["control-plane-1", "node-1", "node-2"]
            assert driver.list_instances() == []
        finally:
            driver.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
