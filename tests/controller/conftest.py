"""Fixtures shared by the controller's tests."""

from __future__ import annotations

import pytest

from tests.controller.live import LiveStack


@pytest.fixture
def live_stack(tmp_path):
    """Start live controllers with `live_stack.start(cloud={...}, **settings)`."""
    stack = LiveStack(tmp_path)
    yield stack
    stack.close()
