"""The simulated cloud, served over HTTP, that the ``simulated`` driver talks to.

Demos and tests run whole maintenance sessions against it with no real cloud, and its report
(downtime per instance, maintenance per host) shows whether a workflow kept instances serving.
"""

from .cloud import SimulatedCloud, SimulatedCloudConfig, host_capacity
from .server import create_sim_app, start_sim_cloud

__all__ = [
    "SimulatedCloud",
    "SimulatedCloudConfig",
    "create_sim_app",
    "host_capacity",
    "start_sim_cloud",
]
