"""A simulated OpenStack (Keystone v3 and Nova over HTTP) for the OpenStack driver's tests.

The real openstacksdk talks to it exactly as to a cloud: a clouds.yaml entry (see
``clouds_yaml_entry``) authenticates against its Keystone, finds Nova in the catalog and
negotiates microversions; no part of the SDK is mocked.
"""

from .app import create_simulator_app, start_simulator
from .cloud import ApiError, SimulatedOpenStack, SimulatorConfig
from .keystone import clouds_yaml_entry

__all__ = [
    "ApiError",
    "SimulatedOpenStack",
    "SimulatorConfig",
    "clouds_yaml_entry",
    "create_simulator_app",
    "start_simulator",
]
