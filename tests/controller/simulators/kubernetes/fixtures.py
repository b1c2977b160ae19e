"""A simulated Kubernetes API server on a free port, and a KubernetesDriver talking to it.

The fixtures of the simulator's own tests and of the Kubernetes driver's: each directory's
conftest.py imports them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client as kubernetes_client

from fenix.drivers.kubernetes import KubernetesDriver
from fenix.simulators.kubernetes import SimCluster, SimClusterConfig, start_sim_cluster
from fenix.wsgi import ServerHandle

FAST = {"create_seconds": 0.1, "ready_seconds": 0.1, "terminate_seconds": 0.1}
DRIVER = {"eviction_retry": 0.05, "poll_interval": 0.02, "request_timeout": 5.0}


@dataclass
class Kube:
    cluster: SimCluster
    handle: ServerHandle
    driver: KubernetesDriver

    @property
    def url(self) -> str:
        return self.handle.url

    def new_driver(self, **options) -> KubernetesDriver:
        """Another driver on the same cluster (a restarted controller, or other options)."""
        configuration = kubernetes_client.Configuration(host=self.handle.url)
        api_client = kubernetes_client.ApiClient(configuration)
        self._clients.append(api_client)
        return KubernetesDriver(api_client=api_client, **{**DRIVER, **options})

    def __post_init__(self) -> None:
        self._clients: list = []


@pytest.fixture
def make_kube(_stoppers) -> Iterator[Callable[..., Kube]]:
    """``make_kube(**SimClusterConfig fields)``: a cluster, its server and a driver for it."""
    started: list[Kube] = []

    def make(**config) -> Kube:
        cluster, handle = start_sim_cluster(SimClusterConfig(**{**FAST, **config}))
        kube = Kube(cluster, handle, None)  # type: ignore[arg-type]
        kube.driver = kube.new_driver()
        started.append(kube)
        return kube

    yield make
    for kube in started:
        for api_client in kube._clients:
            api_client.close()
        stopper = threading.Thread(target=kube.handle.stop, name="stop-sim-kube", daemon=True)
        stopper.start()
        _stoppers.append(stopper)


@pytest.fixture
def kube(make_kube) -> Kube:
    """The seeded example cluster (see SimCluster.seed)."""
    return make_kube()


@pytest.fixture
def bare(make_kube) -> Kube:
    """Nodes and system namespaces only: each test adds the workloads it needs."""
    return make_kube(workloads=False)
