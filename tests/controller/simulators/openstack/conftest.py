"""The simulated OpenStack and the real openstacksdk of
tests/controller/simulators/openstack/fixtures.py, for the simulator's tests."""

from tests.controller.simulators.openstack.fixtures import (  # noqa: F401  (fixtures)
    cloud,
    make_cloud,
)
