import pytest

from tests.controller.gates.prometheus_server import FakePrometheus


@pytest.fixture
def prometheus():
    server = FakePrometheus()
    yield server
    server.stop()
