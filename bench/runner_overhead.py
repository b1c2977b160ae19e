"""How much a playbook run costs per host: one ansible-runner invocation over N hosts, against
one invocation per host. Prints its figures; it asserts nothing (see bench/README.md).

    .venv/bin/python bench/runner_overhead.py [--sizes 1 10 50] [--per-host-up-to 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fenix.actions.plugins import resolve_playbook
from fenix.actions.runner import run_playbook


def _run(hosts: list[str], workdir: Path) -> float:
    started = time.perf_counter()
    outcome = run_playbook(
        resolve_playbook("dummy"), hosts=hosts, extravars={}, private_data_dir=workdir
    )
    if not outcome.ok:
        raise SystemExit(f"the dummy playbook failed: {outcome.error()}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument(
        "--per-host-up-to",
        type=int,
        default=10,
        help="also time one run per host for sizes up to this",
    )
    args = parser.parse_args()
    print(f"{'hosts':>5} {'batched s':>10} {'s/host':>8} {'one-per-host s':>15} {'s/host':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            hosts = [f"compute-{n}" for n in range(1, size + 1)]
            batched = _run(hosts, Path(tmp) / f"batch-{size}")
            separate = "-"
            separate_per_host = "-"
            if size <= args.per_host_up_to:
                total = sum(_run([h], Path(tmp) / f"one-{size}-{h}") for h in hosts)
                separate, separate_per_host = f"{total:.2f}", f"{total / size:.2f}"
            print(
                f"{size:>5} {batched:>10.2f} {batched / size:>8.3f} {separate:>15} "
                f"{separate_per_host:>8}",
                flush=True,
            )


if __name__ == "__main__":
    main()
