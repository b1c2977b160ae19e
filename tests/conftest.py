"""Settings every test process and every controller it starts share."""

from __future__ import annotations

import os
import warnings

import pytest

from fenix.openstack_imports import EVENTLET_FORK_WARNING

# The tests' managers (sample VNFMs, webhook receivers) listen on loopback, where a controller
# never posts by default (fenix.notify.callbacks). Set here, at collection, so that Settings()
# in this process and the controllers started as subprocesses (they inherit os.environ) see it;
# a test that needs the default policy builds it without these networks.
os.environ.setdefault("FENIX_CALLBACK_ALLOW_NETWORKS", '["127.0.0.0/8", "::1/128"]')


@pytest.fixture(autouse=True)
def _ignore_eventlet_fork_warning():
    """Once a test in this process imported oslo.messaging (eventlet), every later fork warns,
    an ansible-runner launch in an e2e test too: the one warning that is not ours to act on."""
    warnings.filterwarnings("ignore", message=EVENTLET_FORK_WARNING, category=DeprecationWarning)


_REPORTED: dict[str, list[str]] = {}
"""Report lines by test id, gathered in the process that writes the terminal."""
REPORT_PROPERTY = "fenix_report"


@pytest.fixture
def report(request):
    """`report(*lines)`: what a test tried and what held, printed after the run even when it
    passes (the chaos test, the fuzzing), so that CI's log shows it. The lines travel in the
    test's user_properties, which pytest-xdist carries from its workers to the terminal."""
    lines: list[str] = []
    request.node.user_properties.append((REPORT_PROPERTY, lines))

    def add(*more: str) -> None:
        print(*more, sep="\n")  # also in the captured output of a failure
        lines.extend(more)

    return add


def pytest_runtest_logreport(report):
    """Keep each test's report lines from its last phase's report (in the main process under
    xdist, where the workers' reports arrive)."""
    for name, lines in report.user_properties:
        if name == REPORT_PROPERTY and lines:
            _REPORTED[report.nodeid] = list(lines)


def pytest_terminal_summary(terminalreporter, config):
    for nodeid, lines in _REPORTED.items():
        terminalreporter.write_sep("-", f"report: {nodeid}")
        for line in lines:
            terminalreporter.write_line(line)
