"""Kubernetes as a cloud: nodes are hosts, namespaces projects, pods instances.

``KubernetesDriver`` talks to a cluster through the official ``kubernetes`` client (an optional
dependency: ``pip install 'fenix-ansible[kubernetes]'``); ``fenix.simulators.kubernetes`` serves a
simulated API server for tests and demos.
"""

from .connection import KubernetesApiError
from .driver import KubernetesDriver

__all__ = ["KubernetesApiError", "KubernetesDriver"]
