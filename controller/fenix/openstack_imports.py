"""Importing OpenStack's libraries (keystonemiddleware, oslo.messaging) without their noise.

They bring eventlet along, which we never use: it warns of its deprecation on import, and from
then on at every fork (each ansible-runner launch). Neither warning is ours to act on.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

EVENTLET_FORK_WARNING = r"Using fork\(\) is a bad idea"


def import_openstack(*names: str) -> list[ModuleType]:
    """The named modules, imported quietly; ImportError when one is not installed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        modules = [importlib.import_module(name) for name in names]
    warnings.filterwarnings("ignore", message=EVENTLET_FORK_WARNING, category=DeprecationWarning)
    return modules
