"""The OpenStack cloud driver (openstacksdk); ``fenix.simulators.openstack`` serves a simulated
Keystone and Nova to test it.

openstacksdk is optional: importing this package works without it, and OpenStackDriver says
how to install it when it is missing.
"""

from .driver import OpenStackDriver

__all__ = ["OpenStackDriver"]
