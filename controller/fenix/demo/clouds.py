"""The clouds `fenix demo` runs on: the same scene and the same report through each driver.

- ``simulated``: the simulated cloud and its driver;
- ``openstack-sim``: the OpenStack driver (openstacksdk) against the simulated Keystone and
  Nova, the sample managers answering LIVE_MIGRATE and MIGRATE in turn;
- ``k8s-sim``: the Kubernetes driver (the kubernetes client) against the simulated API server,
  with the k8s workflow and managers that answer EVICTION.

The scene is the simulated cloud's (see fenix-api.md): hosts ``compute-1`` ... ``compute-N``
(nodes ``node-1`` ... ``node-N``), projects ``project-1`` ... ``project-P`` (namespaces), and
``--instances`` instances per project placed round robin, so no host starts empty while there
are enough instances, on hosts of one capacity that leaves room for any one host's instances
elsewhere. On Kubernetes each namespace runs one ReplicaSet ``vnf`` with a
PodDisruptionBudget of maxUnavailable 1, and a DaemonSet ``kube-proxy`` runs on every node (not
an instance: it stays, and takes one pod slot more per node).

Downtime in the report is always what the cloud measured, never the controller's belief; each
cloud's ``describe()`` says what was measured (``report["cloud"]``). A DemoCloud also gives the
report in the simulated cloud's shape, which demo/report.py reads. The managers' cloud is None
outside the simulated cloud: they then only answer (no scale-in, no moves of their own).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from fenix.drivers.base import CloudDriver, DriverError
from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, host_capacity, start_sim_cloud

if TYPE_CHECKING:
    from fenix.demo.options import DemoOptions

CLOUDS = ("simulated", "openstack-sim", "k8s-sim")
MANAGER_ACTIONS = ("LIVE_MIGRATE", "MIGRATE")
"""What each project's manager answers, in turn: so the report shows both kinds of move."""
NO_HOST_MAINTENANCE = (
    "this simulator does not maintain hosts itself: a host's maintenance is its action "
    "plug-ins' runs (action_runs), so the cloud counts no maintenance_runs"
)


class DemoCloud(abc.ABC):
    """One cloud of the demo, started with its scene; ``stop()`` ends it."""

    kind: str
    label: str
    """How the progress line names it."""
    url: str
    workflow = "default"
    """The workflow the demo runs when none is asked for."""
    manager_actions: tuple[str, ...] = MANAGER_ACTIONS

    @abc.abstractmethod
    def driver(self) -> CloudDriver:
        """A driver for the controller (the Runtime closes it)."""

    def manager_cloud(self) -> Any:
        """What the sample managers may scale and move with; None: they only answer."""
        return None

    @abc.abstractmethod
    def report(self) -> dict[str, Any]:
        """What the cloud measured, in the simulated cloud's report shape: ``instances`` (each
        with project_id, fate, hosts, downtime_seconds, moves) and ``hosts`` (maintenance)."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """The cloud, its driver, and what its downtime figures mean."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the cloud and release what the demo opened on it."""


def start_demo_cloud(options: DemoOptions) -> DemoCloud:
    """The cloud ``options.cloud``, started with the scene the options ask for."""
    clouds: dict[str, Callable[[DemoOptions], DemoCloud]] = {
        "simulated": SimulatedDemoCloud,
        "openstack-sim": OpenStackDemoCloud,
        "k8s-sim": KubernetesDemoCloud,
    }
    if options.cloud not in clouds:
        raise ValueError(f"unknown demo cloud {options.cloud!r}; choose one of {CLOUDS}")
    return clouds[options.cloud](options)


def placement(options: DemoOptions) -> Iterator[tuple[str, int, int]]:
    """(project, k, host index) of every instance: number ``j`` (project by project) goes to
    host ``j mod N``, as in the simulated cloud."""
    j = 0
    for p in range(1, options.projects + 1):
        for k in range(1, options.instances + 1):
            yield f"project-{p}", k, j % options.hosts
            j += 1


def capacity(options: DemoOptions) -> int:
    return host_capacity(options.hosts, options.projects * options.instances)


class SimulatedDemoCloud(DemoCloud):
    kind = "simulated"
    label = "simulated cloud"

    def __init__(self, options: DemoOptions) -> None:
        self._cloud, self._server = start_sim_cloud(
            SimulatedCloudConfig(
                hosts=options.hosts,
                projects=options.projects,
                instances=options.instances,
                migrate_seconds=options.migrate_seconds,
                live_migrate_seconds=options.live_migrate_seconds,
                maintain_seconds=options.maintain_seconds,
                zones=options.zones,
            )
        )
        self.url = self._server.url

    def driver(self) -> CloudDriver:
        return SimulatedDriver(self.url)

    def manager_cloud(self) -> SimulatedDriver:
        return SimulatedDriver(self.url)

    def report(self) -> dict[str, Any]:
        return self._cloud.report()

    def describe(self) -> dict[str, Any]:
        return {
            "cloud": self.kind,
            "url": self.url,
            "driver": "simulated",
            "downtime": "measured by the simulated cloud: per instance, the time it was not "
            "serving (a cold migration, an eviction, the maintenance of a host it was on; a "
            "live migration costs none)",
        }

    def stop(self) -> None:
        self._server.stop()
        self._cloud.close()


class OpenStackDemoCloud(DemoCloud):
    kind = "openstack-sim"
    label = "simulated OpenStack (Keystone, Nova)"

    def __init__(self, options: DemoOptions) -> None:
        try:
            import openstack
        except ImportError as exc:
            raise DriverError(
                "the openstack-sim demo needs openstacksdk: pip install 'fenix-ansible[openstack]'"
            ) from exc
        from fenix.simulators.openstack import (
            SimulatorConfig,
            clouds_yaml_entry,
            start_simulator,
        )

        config = SimulatorConfig(
            migrate_seconds=options.migrate_seconds,
            live_migrate_seconds=options.live_migrate_seconds,
            confirm_seconds=options.migrate_seconds / 4,
            delete_seconds=options.migrate_seconds / 4,
        )
        self.sim, self._server = start_simulator(config)
        self.url = self._server.url
        self.hosts = [f"compute-{n}" for n in range(1, options.hosts + 1)]
        for index, host in enumerate(self.hosts):
            zone = options.zone_of(index)  # an availability zone's aggregate, as nova has it
            self.sim.add_compute_host(host, vcpus=capacity(options), zone=zone or "nova")
        flavor = self.sim.add_flavor("m1.small", vcpus=1)
        for project, k, index in placement(options):
            self.sim.add_server(f"{project}-vm-{k}", project, self.hosts[index], flavor)
        # Exactly the simulator's clouds.yaml entry: no clouds.yaml or OS_* of this machine.
        self._connection = openstack.connect(
            load_yaml_config=False, load_envvars=False, **clouds_yaml_entry(self.sim, self.url)
        )

    def driver(self) -> CloudDriver:
        from fenix.drivers.openstack import OpenStackDriver

        return OpenStackDriver(connection=self._connection, poll_interval=0.1)

    def report(self) -> dict[str, Any]:
        servers = self.sim.report()["servers"]
        return {
            "instances": {
                server_id: {
                    "instance_id": server_id,
                    "name": server["name"],
                    "project_id": server["project_id"],
                    "fate": server["fate"],
                    "hosts": server["hosts"],
                    "downtime_seconds": server["downtime_seconds"],
                    "moves": server["moves"],
                }
                for server_id, server in servers.items()
            },
            "hosts": {host: {"maintenance": []} for host in self.hosts},
        }

    def describe(self) -> dict[str, Any]:
        measured = self.sim.report()
        return {
            "cloud": self.kind,
            "url": self.url,
            "driver": "openstack (openstacksdk)",
            "downtime": f"measured by the Nova simulator: {measured['measure']}",
            "host_maintenance": NO_HOST_MAINTENANCE,
            "instance_names": {sid: s["name"] for sid, s in measured["servers"].items()},
        }

    def stop(self) -> None:
        self._connection.close()
        self._server.stop()
        self.sim.close()


class KubernetesDemoCloud(DemoCloud):
    kind = "k8s-sim"
    label = "simulated Kubernetes API server"
    workflow = "k8s"
    manager_actions = ("EVICTION",)

    def __init__(self, options: DemoOptions) -> None:
        try:
            from kubernetes import client
        except ImportError as exc:
            raise DriverError(
                "the k8s-sim demo needs the kubernetes client: "
                "pip install 'fenix-ansible[kubernetes]'"
            ) from exc
        from fenix.simulators.kubernetes import SimClusterConfig, start_sim_cluster

        step = options.migrate_seconds / 2  # eviction -> replacement Ready: about one migrate
        config = SimClusterConfig(
            nodes=options.hosts,
            control_planes=0,
            max_pods=capacity(options) + 1,  # and kube-proxy
            create_seconds=step,
            ready_seconds=step,
            terminate_seconds=step,
            workloads=False,
            zones=options.zones,
        )
        self.cluster, self._server = start_sim_cluster(config)
        self.url = self._server.url
        self.nodes = [f"node-{n}" for n in range(1, options.hosts + 1)]
        self.cluster.add_workload(
            "kube-system", "kube-proxy", kind="DaemonSet", labels={"k8s-app": "kube-proxy"}
        )
        for p in range(1, options.projects + 1):
            namespace = f"project-{p}"
            nodes = [self.nodes[h] for project, _k, h in placement(options) if project == namespace]
            if not nodes:
                continue
            labels = {"app": "vnf"}
            self.cluster.add_workload(namespace, "vnf", len(nodes), labels=labels, nodes=nodes)
            self.cluster.add_budget(namespace, "vnf", labels, max_unavailable=1)
        self._api_client = client.ApiClient(client.Configuration(host=self.url))

    def driver(self) -> CloudDriver:
        from fenix.drivers.kubernetes import KubernetesDriver

        return KubernetesDriver(
            api_client=self._api_client,
            eviction_retry=0.2,
            eviction_retry_max=2.0,
            poll_interval=0.1,
        )

    def report(self) -> dict[str, Any]:
        pods = self.cluster.downtime_report()["pods"]
        return {
            "instances": {
                uid: {
                    "instance_id": uid,
                    "name": pod["pod"],
                    "project_id": pod["namespace"],
                    "fate": "active" if pod["fate"] == "running" else pod["fate"],
                    "hosts": pod["nodes"],
                    "downtime_seconds": pod["downtime_seconds"],
                    "moves": [],  # a pod never moves: it is evicted and replaced
                }
                for uid, pod in pods.items()
            },
            "hosts": {node: {"maintenance": []} for node in self.nodes},
        }

    def describe(self) -> dict[str, Any]:
        measured = self.cluster.downtime_report()
        return {
            "cloud": self.kind,
            "url": self.url,
            "driver": "kubernetes (the kubernetes client)",
            "downtime": f"measured by the Kubernetes simulator: {measured['measure']}",
            "host_maintenance": NO_HOST_MAINTENANCE,
            "workloads": measured["workloads"],
            "pod_names": {uid: pod["pod"] for uid, pod in measured["pods"].items()},
            "evictions_refused_by_budgets": sum(
                1 for e in self.cluster.evictions if e["code"] == 429
            ),
        }

    def stop(self) -> None:
        self._api_client.close()
        self._server.stop()
