"""The driver of the simulated cloud (``fenix.simulators.cloud``), over its HTTP API."""

from .driver import SimulatedDriver

__all__ = ["SimulatedDriver"]
