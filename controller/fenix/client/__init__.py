"""A small client for a Fenix controller's REST API, and the `fenix session` commands on it."""

from fenix.client.http import ControllerError, FenixClient, Unreachable

__all__ = ["ControllerError", "FenixClient", "Unreachable"]
