"""How promptly things answer: the figures the unit tests used to bound with a wall clock.

    .venv/bin/python bench/timings.py [--repeat 5]

Prints, each as the median and the worst of --repeat runs:
- the simulated cloud's wait_action: how long after a 0.1 s migration ends it returns;
- three 0.4 s live migrations started together: the wall time until all are done (one after
  the other would be 1.2 s);
- a server's stop() with a client connected: how long it takes (the loop is woken, so well
  under the 1 s select() timeout).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import requests

from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.wsgi import LOOP_TIMEOUT, serve_in_thread


def _sim(**config) -> tuple[SimulatedDriver, Callable[[], None]]:
    sim, handle = start_sim_cloud(SimulatedCloudConfig(**config))
    driver = SimulatedDriver(handle.url)

    def stop() -> None:
        driver.close()
        handle.stop()
        sim.close()

    return driver, stop


def wait_action_latency() -> float:
    driver, stop = _sim(hosts=3, migrate_seconds=0.1)
    try:
        started = time.monotonic()
        driver.wait_action(driver.migrate("project-1-vm-1", "compute-3"), 10)
        return time.monotonic() - started - 0.1
    finally:
        stop()


def parallel_moves() -> float:
    driver, stop = _sim(hosts=3, live_migrate_seconds=0.4)
    try:
        victims = [i.instance_id for i in driver.list_instances(host="compute-1")]
        started = time.monotonic()
        for action in [driver.live_migrate(i) for i in victims]:
            driver.wait_action(action, 10)
        return time.monotonic() - started
    finally:
        stop()


def _hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def server_stop() -> float:
    handle = serve_in_thread(_hello, name="bench-server")
    client = requests.Session()
    client.get(handle.url, timeout=5)
    started = time.monotonic()
    handle.stop()
    took = time.monotonic() - started
    client.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = [
        ("wait_action returns after the action ended", wait_action_latency, ""),
        (
            "3 x 0.4 s live migrations started together",
            parallel_moves,
            " (1.2 s one after the other)",
        ),
        (
            "stop() with a client connected",
            server_stop,
            f" (waiting out select() would take {LOOP_TIMEOUT} s)",
        ),
    ]
    for name, case, against in cases:
        runs = [case() for _ in range(args.repeat)]
        median, worst = statistics.median(runs), max(runs)
        print(f"{name}: median {median:.3f} s, worst {worst:.3f} s{against}", flush=True)


if __name__ == "__main__":
    main()
