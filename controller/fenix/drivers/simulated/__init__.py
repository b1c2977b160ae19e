"""A simulated cloud, served over HTTP, and the driver for it.

Demos and tests run whole maintenance sessions against it with no real cloud, and its report
(downtime per instance, maintenance per host) shows whether a workflow kept instances serving.
"""

from .cloud import SimulatedCloud, SimulatedCloudConfig
from .driver import SimulatedDriver
from .server import create_sim_app, start_sim_cloud

__all__ = [
    "SimulatedCloud",
    "SimulatedCloudConfig",
    "SimulatedDriver",
    "create_sim_app",
    "start_sim_cloud",
]
