"""The cloud driver that the settings name: simulated, OpenStack or Kubernetes.

One function, so that `fenix serve`, the Runtime and tests pick a driver the same way. The
driver packages are imported only for the cloud asked for: openstacksdk and the kubernetes
client are optional dependencies, and each driver says how to install its own when missing.
"""

from __future__ import annotations

import logging

from fenix.config import Settings
from fenix.drivers.base import CloudDriver
from fenix.drivers.simulated import SimulatedDriver

LOG = logging.getLogger(__name__)


class _OwnSimulatedDriver(SimulatedDriver):
    """The driver of a simulated cloud started for this controller alone: closing the driver
    stops the cloud too, as the controller that started it goes. The one place in drivers/
    that imports a simulator (fenix.simulators.cloud), and only when it starts one."""

    def __init__(self, settings: Settings) -> None:
        from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud

        config = SimulatedCloudConfig(
            hosts=settings.sim_hosts,
            projects=settings.sim_projects,
            instances=settings.sim_instances,
            controllers=settings.sim_controllers,
            zones=settings.sim_zones,
            migrate_seconds=settings.sim_migrate_seconds,
            live_migrate_seconds=settings.sim_live_migrate_seconds,
            maintain_seconds=settings.sim_maintain_seconds,
        )
        self._cloud, self._server = start_sim_cloud(config)
        LOG.info("simulated cloud started in-process at %s", self._server.url)
        super().__init__(self._server.url)

    def close(self) -> None:
        super().close()
        self._server.stop()
        self._cloud.close()


def make_driver(settings: Settings) -> CloudDriver:
    """A new driver for ``settings.cloud``; the caller closes it.

    - ``simulated``: the simulated cloud at ``sim_url``, or, without one, a simulated cloud
      started in this process (``sim_hosts``, ``sim_projects``, ... give its shape);
    - ``openstack``: the cloud ``os_cloud`` of clouds.yaml (else ``OS_CLOUD``, else the
      ``OS_*`` environment), in region ``os_region``;
    - ``kubernetes``: the cluster of ``kubeconfig`` and ``kube_context`` (else kubectl's
      defaults; inside a pod with neither, the pod's service account).

    Raises DriverError, saying what to set, when the cloud's credentials cannot be loaded.
    """
    if settings.cloud == "openstack":
        from fenix.drivers.openstack import OpenStackDriver

        return OpenStackDriver(cloud=settings.os_cloud, region=settings.os_region)
    if settings.cloud == "kubernetes":
        from fenix.drivers.kubernetes import KubernetesDriver

        return KubernetesDriver(kubeconfig=settings.kubeconfig, context=settings.kube_context)
    if settings.sim_url is None:
        return _OwnSimulatedDriver(settings)
    return SimulatedDriver(settings.sim_url)
