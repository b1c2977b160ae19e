# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""One small interface over the clouds whose hosts host_drain, host_restore and
instance_migrate act on: the simulated cloud (HTTP), OpenStack (openstacksdk) and Kubernetes
(the kubernetes client).

Each backend knows how to take a host out of service, put it back, list what runs on it and
move one instance away. How many moves run at once, the fallback from a failed live migration
to a cold one and the overall deadline are decided once, in ``run_moves``, for all of them.
"""

from __future__ import annotations

import functools
import time
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible_collections.fenix.maintenance.plugins.module_utils._controller_client import (
    ControllerError,
    JsonClient,
    path_quote,
)

try:
    import openstack
    import openstack.exceptions

    HAS_OPENSTACKSDK = True
    OPENSTACKSDK_IMPORT_ERROR = None
except ImportError:
    HAS_OPENSTACKSDK = False
    OPENSTACKSDK_IMPORT_ERROR = traceback.format_exc()

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException as K8sApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()


CLOUD_ARGSPEC = dict(
    cloud=dict(type="str", default="simulated", choices=["simulated", "openstack", "kubernetes"]),
    sim_url=dict(type="str", fallback=(env_fallback, ["FENIX_SIM_URL"])),
    os_cloud=dict(type="str", fallback=(env_fallback, ["OS_CLOUD"])),
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
)
"""The options of the ``fenix.maintenance.cloud`` doc fragment, documented there once."""

MOVES_ARGSPEC = dict(
    max_concurrent=dict(type="int", default=4),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=600),
)
"""The options of the ``fenix.maintenance.moves`` doc fragment, documented there once: how
many moves ``run_moves`` runs at once, and whether and how long the module waits for them."""

LIVE_MIGRATE = "live_migrate"
MIGRATE = "migrate"
EVICT = "evict"

DONE = "DONE"
FAILED = "FAILED"
RUNNING = "RUNNING"

POLL_SECONDS = 2.0


class CloudError(Exception):
    """A cloud call that failed, with a message that says what to check."""


class SimulatedCloud:
    """The simulated cloud's JSON API (controller/fenix/simulators/cloud/server.py)."""

    name = "simulated"
    move_kinds = (LIVE_MIGRATE, MIGRATE)

    def __init__(self, url, validate_certs=True, timeout=30):
        self.http = JsonClient(url, validate_certs=validate_certs, timeout=timeout)
        self.http.what = "simulated cloud"

    def _call(self, method, path, body=None, query=None, timeout=None):
        try:
            return self.http.request(method, path, body=body, query=query, timeout=timeout)
        except ControllerError as exc:
            raise CloudError(exc.message) from None

    def get_host(self, name):
        host = self._call("GET", f"/v1/hosts/{path_quote(name)}")
        return dict(
            name=host["name"],
            enabled=host["enabled"],
            disabled_reason=host.get("disabled_reason"),
        )

    def disable_host(self, name, reason):
        self._call("POST", f"/v1/hosts/{path_quote(name)}/disable", {"reason": reason})

    def enable_host(self, name):
        self._call("POST", f"/v1/hosts/{path_quote(name)}/enable", {})

    def instances_on(self, host):
        answer = self._call("GET", "/v1/instances", query={"host": host})
        return [self._instance(item) for item in answer["instances"]]

    def get_instance(self, instance_id):
        return self._instance(self._call("GET", f"/v1/instances/{path_quote(instance_id)}"))

    @staticmethod
    def _instance(item):
        return dict(
            instance_id=item["instance_id"],
            name=item.get("name"),
            host=item.get("host"),
            project_id=item.get("project_id"),
            moving=bool(item.get("task")),
            handle=item.get("action_id"),
        )

    def start_move(self, instance, kind, target_host=None):
        path = f"/v1/instances/{path_quote(instance['instance_id'])}/migrate"
        body = {"live": kind == LIVE_MIGRATE}
        if target_host:
            body["target_host"] = target_host
        return self._call("POST", path, body)["action_id"]

    def wait_move(self, handle, instance, deadline):
        """DONE or FAILED with the host the instance is on, or RUNNING at the deadline."""
        while True:
            wait = min(25.0, max(0.0, deadline - time.monotonic()))
            action = self._call(
                "GET",
                f"/v1/actions/{path_quote(handle)}",
                query={"wait": f"{wait:.1f}"},
                timeout=wait + self.http.timeout,
            )
            if action["status"] != RUNNING or time.monotonic() >= deadline:
                return dict(status=action["status"], host=action.get("host"), error=action["error"])


def _sdk_errors(method):
    """Turn openstacksdk's errors (ResourceNotFound, HttpException, ...) into CloudError."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except openstack.exceptions.SDKException as exc:
            raise CloudError(f"OpenStack refused {method.__name__}: {exc}") from None

    return call


class OpenStackCloud:
    """Nova through openstacksdk: hosts are nova-compute services, instances are servers."""

    name = "openstack"
    move_kinds = (LIVE_MIGRATE, MIGRATE)

    def __init__(self, os_cloud=None):
        try:
            self.conn = openstack.connect(cloud=os_cloud)
        except Exception as exc:  # openstacksdk raises many kinds while reading clouds.yaml
            raise CloudError(
                f"could not connect to OpenStack cloud {os_cloud!r}: {exc}; "
                "check clouds.yaml and os_cloud"
            ) from None

    def _service(self, name):
        for service in self.conn.compute.services(binary="nova-compute", host=name):
            return service
        raise CloudError(f"OpenStack has no nova-compute service on host {name}")

    @_sdk_errors
    def get_host(self, name):
        service = self._service(name)
        return dict(
            name=name,
            enabled=service.status == "enabled",
            disabled_reason=service.disabled_reason,
        )

    @_sdk_errors
    def disable_host(self, name, reason):
        service = self._service(name)
        self.conn.compute.disable_service(
            service, host=name, binary="nova-compute", disabled_reason=reason
        )

    @_sdk_errors
    def enable_host(self, name):
        self.conn.compute.enable_service(self._service(name), host=name, binary="nova-compute")

    @_sdk_errors
    def instances_on(self, host):
        servers = self.conn.compute.servers(all_projects=True, host=host)
        return [self._instance(server) for server in servers]

    @_sdk_errors
    def get_instance(self, instance_id):
        return self._instance(self.conn.compute.get_server(instance_id))

    @staticmethod
    def _instance(server):
        return dict(
            instance_id=server.id,
            name=server.name,
            host=server.compute_host,
            project_id=server.project_id,
            moving=bool(server.task_state),
            handle=server.id if server.task_state else None,
        )

    @_sdk_errors
    def start_move(self, instance, kind, target_host=None):
        server = instance["instance_id"]
        if kind == LIVE_MIGRATE:
            self.conn.compute.live_migrate_server(server, host=target_host, block_migration="auto")
        else:
            self.conn.compute.migrate_server(server, host=target_host)
        return server

    @_sdk_errors
    def wait_move(self, handle, instance, deadline):
        while True:
            server = self.conn.compute.get_server(handle)
            if server.status == "VERIFY_RESIZE":
                # A cold migration waits for its confirmation, like a resize.
                self.conn.compute.confirm_server_resize(server)
            elif not server.task_state and server.status in ("ACTIVE", "SHUTOFF", "ERROR"):
                if server.status == "ERROR":
                    fault = (server.fault or {}).get("message", "no fault recorded")
                    return dict(status=FAILED, host=server.compute_host, error=fault)
                if server.compute_host == instance["host"]:
                    return dict(
                        status=FAILED,
                        host=server.compute_host,
                        error=f"the server is still on {server.compute_host} after the "
                        "move; see nova's instance actions "
                        f"(openstack server event list {server.id})",
                    )
                return dict(status=DONE, host=server.compute_host, error=None)
            if time.monotonic() >= deadline:
                return dict(status=RUNNING, host=server.compute_host, error=None)
            time.sleep(POLL_SECONDS)


class KubernetesCloud:
    """Nodes and pods: a host is cordoned, and its pods are evicted (their controllers
    recreate them elsewhere, within their PodDisruptionBudgets)."""

    name = "kubernetes"
    move_kinds = (EVICT,)

    def __init__(self, kubeconfig=None, context=None):
        try:
            if kubeconfig or context:
                k8s_config.load_kube_config(config_file=kubeconfig, context=context)
            else:
                try:
                    k8s_config.load_incluster_config()
                except k8s_config.ConfigException:
                    k8s_config.load_kube_config()
        except (k8s_config.ConfigException, OSError) as exc:
            raise CloudError(
                f"could not load the Kubernetes configuration: {exc}; set kubeconfig or KUBECONFIG"
            ) from None
        self.api = k8s_client.CoreV1Api()

    def _call(self, what, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except K8sApiException as exc:
            raise CloudError(f"{what} failed: {exc.status} {exc.reason}") from None

    def get_host(self, name):
        node = self._call(f"reading node {name}", self.api.read_node, name)
        return dict(name=name, enabled=not node.spec.unschedulable, disabled_reason=None)

    def disable_host(self, name, reason):
        body = {"spec": {"unschedulable": True}}
        self._call(f"cordoning node {name}", self.api.patch_node, name, body)

    def enable_host(self, name):
        body = {"spec": {"unschedulable": False}}
        self._call(f"uncordoning node {name}", self.api.patch_node, name, body)

    def instances_on(self, host):
        pods = self._call(
            f"listing the pods of node {host}",
            self.api.list_pod_for_all_namespaces,
            field_selector=f"spec.nodeName={host}",
        )
        return [self._instance(pod) for pod in pods.items if self._movable(pod)]

    @staticmethod
    def _movable(pod):
        # DaemonSet pods belong on every node and mirror pods to the kubelet: drain skips them.
        owners = pod.metadata.owner_references or []
        if any(owner.kind == "DaemonSet" for owner in owners):
            return False
        if "kubernetes.io/config.mirror" in (pod.metadata.annotations or {}):
            return False
        return pod.status.phase not in ("Succeeded", "Failed")

    @staticmethod
    def _instance(pod):
        return dict(
            instance_id=f"{pod.metadata.namespace}/{pod.metadata.name}",
            name=pod.metadata.name,
            host=pod.spec.node_name,
            project_id=pod.metadata.namespace,
            moving=pod.metadata.deletion_timestamp is not None,
            handle=pod.metadata.uid if pod.metadata.deletion_timestamp else None,
            uid=pod.metadata.uid,
        )

    def get_instance(self, instance_id):
        namespace, _sep, name = instance_id.partition("/")
        pod = self._call(
            f"reading pod {instance_id}", self.api.read_namespaced_pod, name, namespace
        )
        return self._instance(pod)

    def start_move(self, instance, kind, target_host=None):
        namespace, _sep, name = instance["instance_id"].partition("/")
        body = k8s_client.V1Eviction(
            metadata=k8s_client.V1ObjectMeta(name=name, namespace=namespace)
        )
        self._call(
            f"evicting pod {instance['instance_id']}",
            self.api.create_namespaced_pod_eviction,
            name,
            namespace,
            body,
        )
        return instance.get("uid")

    def wait_move(self, handle, instance, deadline):
        namespace, _sep, name = instance["instance_id"].partition("/")
        while True:
            try:
                pod = self.api.read_namespaced_pod(name, namespace)
            except K8sApiException as exc:
                if exc.status == 404:
                    return dict(status=DONE, host=None, error=None)
                raise CloudError(
                    f"reading pod {instance['instance_id']} failed: {exc.reason}"
                ) from None
            if pod.metadata.uid != handle:
                return dict(status=DONE, host=pod.spec.node_name, error=None)
            if time.monotonic() >= deadline:
                return dict(status=RUNNING, host=pod.spec.node_name, error=None)
            time.sleep(POLL_SECONDS)


def cloud_from_module(module):
    """The backend the module's cloud options name; fail_json when it cannot be had."""
    params = module.params
    kind = params["cloud"]
    try:
        if kind == "simulated":
            if not params.get("sim_url"):
                module.fail_json(
                    msg="cloud=simulated needs sim_url (or FENIX_SIM_URL): the URL of the "
                    "simulated cloud, e.g. the one `fenix sim-cloud` prints"
                )
            return SimulatedCloud(
                params["sim_url"],
                validate_certs=params["validate_certs"],
                timeout=params["timeout"],
            )
        if kind == "openstack":
            if not HAS_OPENSTACKSDK:
                module.fail_json(
                    msg=missing_required_lib("openstacksdk"), exception=OPENSTACKSDK_IMPORT_ERROR
                )
            return OpenStackCloud(params.get("os_cloud"))
        if not HAS_KUBERNETES:
            module.fail_json(
                msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR
            )
        return KubernetesCloud(params.get("kubeconfig"), params.get("context"))
    except CloudError as exc:
        module.fail_json(msg=str(exc))


def effective_kind(cloud, kind):
    """The move asked for where the cloud has it, else its own (Kubernetes only evicts)."""
    return kind if kind in cloud.move_kinds else cloud.move_kinds[0]


def _record(instance, kind, status, handle=None):
    return dict(
        instance_id=instance["instance_id"],
        kind=kind,
        source=instance["host"],
        host=instance["host"],
        status=status,
        error=None,
        handle=handle,
    )


def planned_moves(cloud, instances, kind):
    """What run_moves would do, for check mode."""
    kind = effective_kind(cloud, kind)
    return [_record(i, "in_progress" if i["moving"] else kind, "PLANNED") for i in instances]


def start_moves(cloud, instances, kind, target_host=None):
    """Start every move and return at once (an instance already moving keeps its move)."""
    kind = effective_kind(cloud, kind)
    records = []
    for instance in instances:
        if instance["moving"]:
            records.append(_record(instance, "in_progress", RUNNING, instance["handle"]))
        else:
            handle = cloud.start_move(instance, kind, target_host)
            records.append(_record(instance, kind, RUNNING, handle))
    return records


def run_moves(cloud, instances, kind, deadline, target_host=None, fallback=None, max_concurrent=4):
    """Move every instance away from where it is and wait, at most ``max_concurrent`` at once.

    An instance already moving is waited for, not moved again. When a move fails and
    ``fallback`` names another kind (a cold migration after a failed live one), that is tried
    once. Returns one record per instance: instance_id, kind, source, host, status, error.
    """
    kind = effective_kind(cloud, kind)
    pending = list(instances)
    results = []
    while pending:
        batch, pending = pending[:max_concurrent], pending[max_concurrent:]
        started = []
        for instance in batch:
            record = _record(instance, kind, RUNNING)
            try:
                handle = instance["handle"] if instance["moving"] else None
                if handle is None:
                    handle = cloud.start_move(instance, kind, target_host)
                else:
                    record["kind"] = "in_progress"
                record["handle"] = handle
                started.append((instance, record, handle))
            except CloudError as exc:
                record.update(status=FAILED, error=str(exc))
            results.append(record)
        for instance, record, handle in started:
            record.update(cloud.wait_move(handle, instance, deadline))
            if record["status"] == FAILED and fallback and fallback in cloud.move_kinds:
                failed = record["error"]
                try:
                    retry = cloud.start_move(instance, fallback, target_host)
                    record.update(cloud.wait_move(retry, instance, deadline))
                    record.update(kind=fallback, handle=retry)
                except CloudError as exc:
                    record.update(status=FAILED, error=str(exc))
                if record["status"] == FAILED:
                    record["error"] = (
                        f"{kind} failed ({failed}); then {fallback} failed ({record['error']})"
                    )
    return results


def move_failures(results):
    return [r for r in results if r["status"] != DONE]


def describe_failures(failures):
    return "; ".join(
        f"{r['instance_id']}: {r['error'] or 'still moving at the deadline'}" for r in failures
    )
