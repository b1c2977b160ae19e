"""Fixtures shared by the controller's tests."""

from __future__ import annotations

import warnings

import pytest

from tests.controller.live import LiveStack

EVENTLET_FORK_WARNING = r"Using fork\(\) is a bad idea"
"""Once oslo.messaging or keystonemiddleware is imported, eventlet (a dependency they bring,
never used here) warns at every fork, e.g. ansible-runner's. Not ours to act on."""


@pytest.fixture(autouse=True)
def _ignore_eventlet_fork_warning():
    warnings.filterwarnings("ignore", message=EVENTLET_FORK_WARNING, category=DeprecationWarning)


@pytest.fixture
def live_stack(tmp_path):
    """Start live controllers with `live_stack.start(cloud={...}, **settings)`."""
    stack = LiveStack(tmp_path)
    yield stack
    stack.close()
