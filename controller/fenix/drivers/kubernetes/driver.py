"""The CloudDriver for Kubernetes, through the official ``kubernetes`` client.

How the cloud words map:

- host = node: CONTROLLER when labelled ``node-role.kubernetes.io/control-plane``, else
  COMPUTE; enabled = not cordoned; capacity = its allocatable ``pods``.
- project = namespace.
- instance = pod, identified by its **uid** (size 1, name = the pod's name). Not its name: a
  StatefulSet re-creates a pod under the same name, and a uid can never reach a different pod
  (every eviction carries it as a precondition). DaemonSet pods, mirror pods, finished pods
  and pods not yet scheduled are not instances (see ``pods.py``).
- disable_host = cordon, with the reason in the node annotation ``fenix.maintenance/
  disabled-reason``; enable_host = uncordon, annotation removed.
- migrate, live_migrate and evict all evict the pod through the Eviction API, so that
  PodDisruptionBudgets hold: Kubernetes has no migration, the pod's controller re-creates it
  and the scheduler places it (a target host is ignored). A 429 (the budget does not allow it
  now) is retried with backoff until the caller stops waiting; nothing is ever deleted or
  forced past a budget. The action is DONE once the pod is gone and, for a ReplicaSet,
  StatefulSet or ReplicationController pod, once a new pod of the same owner is Running and
  Ready (``ActionResult.host`` says where). While it runs, ``ActionResult.error`` says what it
  is waiting for, so a caller that gives up can say why.

There are no threads: ``wait_action`` does the retrying and the polling while it is called.
"""

from __future__ import annotations

import threading
import time

from fenix.drivers.base import (
    ActionResult,
    ActionStatus,
    CloudDriver,
    DriverError,
    HostInfo,
    InstanceInfo,
    UnknownHostError,
    UnknownInstanceError,
)

from . import pods
from .actions import Eviction
from .connection import KubernetesApiError, call, client, load_api_client, missing_library


class KubernetesDriver(CloudDriver):
    """Drive a Kubernetes cluster (see the module docstring for the mapping).

    Credentials: an ``api_client`` given (its owner closes it), else the ``kubeconfig`` file and
    ``context`` (both default as for kubectl: ``$KUBECONFIG`` or ``~/.kube/config``, its
    current context), else, inside a pod with neither given, the pod's service account.
    ``eviction_retry`` is the first wait after a 429, doubled on each refusal up to
    ``eviction_retry_max``. ``force`` evicts pods that no controller would re-create (as
    ``kubectl drain --force``). ``poll_interval`` paces the checks while a pod terminates and
    its replacement starts; ``request_timeout`` bounds every API call.
    """

    name = "kubernetes"
    page_size = 500
    """Objects per list request (lists are paged with limit/continue, like kubectl)."""

    def __init__(
        self,
        api_client=None,
        kubeconfig: str | None = None,
        context: str | None = None,
        eviction_retry: float = 1.0,
        *,
        eviction_retry_max: float = 30.0,
        force: bool = False,
        poll_interval: float = 1.0,
        request_timeout: float = 30.0,
    ) -> None:
        missing_library()
        for label, value in (
            ("eviction_retry", eviction_retry),
            ("poll_interval", poll_interval),
            ("request_timeout", request_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{label} must be positive, got {value}")
        self._owns_client = api_client is None
        self.api_client = api_client or load_api_client(kubeconfig, context)
        self.core = client.CoreV1Api(self.api_client)
        self.server = self.api_client.configuration.host
        self.eviction_retry = eviction_retry
        self.eviction_retry_max = max(eviction_retry, eviction_retry_max)
        self.force = force
        self.poll_interval = poll_interval
        self.request_timeout = request_timeout
        self._lock = threading.Lock()
        self._actions: dict[str, Eviction] = {}
        self._claimed: set[str] = set()
        """Replacement pods already reported by an action: each replaces one pod only."""
        self._where: dict[str, tuple[str, str]] = {}
        """Pod uid -> (namespace, name), as last listed, to find a pod without a full list."""

    # -- API calls ------------------------------------------------------------------------

    def _call(self, what: str, method, *args, **kwargs):
        return call(self.server, self.request_timeout, what, method, *args, **kwargs)

    def _list(self, what: str, method, *args, **kwargs) -> list:
        items: list = []
        token = None
        while True:
            page = self._call(what, method, *args, limit=self.page_size, _continue=token, **kwargs)
            items.extend(page.items or [])
            token = page.metadata._continue if page.metadata else None
            if not token:
                return items

    def _remember(self, found: list) -> None:
        with self._lock:
            for pod in found:
                self._where[pod.metadata.uid] = (pod.metadata.namespace, pod.metadata.name)

    def _read_pod(self, namespace: str, name: str):
        """The pod, or None if there is none by that name."""
        try:
            return self._call(
                f"reading pod {namespace}/{name}", self.core.read_namespaced_pod, name, namespace
            )
        except KubernetesApiError as exc:
            if exc.status == 404:
                return None
            raise

    def _pod(self, uid: str):
        """The pod with this uid, or UnknownInstanceError."""
        where = self._where.get(uid)
        if where is not None:
            pod = self._read_pod(*where)
            if pod is not None and pod.metadata.uid == uid:
                return pod
        everything = self._list("listing pods", self.core.list_pod_for_all_namespaces)
        self._remember(everything)
        for pod in everything:
            if pod.metadata.uid == uid:
                return pod
        raise UnknownInstanceError(
            f"no pod has uid {uid}: it was deleted, or replaced by a new pod (with a new uid); "
            "list the instances again"
        )

    # -- hosts ----------------------------------------------------------------------------

    def list_hosts(self) -> list[HostInfo]:
        return [pods.host_info(n) for n in self._list("listing nodes", self.core.list_node)]

    def get_host(self, host: str) -> HostInfo:
        try:
            return pods.host_info(self._call(f"reading node {host}", self.core.read_node, host))
        except KubernetesApiError as exc:
            if exc.status == 404:
                raise UnknownHostError(f"no node named {host!r}") from exc
            raise

    def disable_host(self, host: str, reason: str) -> None:
        """Cordon the node, recording ``reason`` in its annotation."""
        patch = {
            "spec": {"unschedulable": True},
            "metadata": {"annotations": {pods.REASON_ANNOTATION: reason}},
        }
        self._patch_node(host, patch, "cordoning")

    def enable_host(self, host: str) -> None:
        """Uncordon the node (whoever cordoned it) and drop the reason annotation."""
        patch = {
            "spec": {"unschedulable": None},
            "metadata": {"annotations": {pods.REASON_ANNOTATION: None}},
        }
        self._patch_node(host, patch, "uncordoning")

    def _patch_node(self, host: str, patch: dict, what: str) -> None:
        try:
            self._call(f"{what} node {host}", self.core.patch_node, host, patch)
        except KubernetesApiError as exc:
            if exc.status == 404:
                raise UnknownHostError(f"no node named {host!r}") from exc
            raise

    def _check_node(self, host: str) -> None:
        try:
            self._call(f"reading node {host}", self.core.read_node, host)
        except KubernetesApiError as exc:
            if exc.status == 404:
                raise UnknownHostError(f"no node named {host!r}") from exc
            raise

    # -- instances ------------------------------------------------------------------------

    def list_instances(
        self, host: str | None = None, project_id: str | None = None
    ) -> list[InstanceInfo]:
        """Pods that maintenance moves (not DaemonSet, mirror or finished pods)."""
        selector = pods.NOT_FINISHED + (f",spec.nodeName={host}" if host else "")
        if project_id:
            found = self._list(
                f"listing pods in namespace {project_id}",
                self.core.list_namespaced_pod,
                project_id,
                field_selector=selector,
            )
        else:
            found = self._list(
                "listing pods", self.core.list_pod_for_all_namespaces, field_selector=selector
            )
        found = [p for p in found if pods.is_instance(p)]
        self._remember(found)
        if host and not found:
            self._check_node(host)  # an empty host, or no such host?
        return [pods.instance_info(p) for p in found]

    def migrate(self, instance_id: str, target_host: str | None = None) -> str:
        """An eviction: the scheduler, not the caller, picks the new node."""
        return self.evict(instance_id)

    def live_migrate(self, instance_id: str, target_host: str | None = None) -> str:
        """An eviction: pods do not live-migrate; the replacement starts before DONE."""
        return self.evict(instance_id)

    def evict(self, instance_id: str) -> str:
        """Ask for the pod's eviction now; refusals by a budget are retried by wait_action."""
        pod = self._pod(instance_id)
        self._check_evictable(pod)
        owner = pods.controller_of(pod)
        keeper = owner if owner is not None and owner.kind in pods.REPLICA_KEEPERS else None
        action = Eviction(
            namespace=pod.metadata.namespace,
            name=pod.metadata.name,
            uid=pod.metadata.uid,
            node=pod.spec.node_name,
            owner_uid=keeper.uid if keeper else None,
            owner=f"{keeper.kind} {pod.metadata.namespace}/{keeper.name}" if keeper else None,
            delay=self.eviction_retry,
        )
        with self._lock:
            earlier = self._actions.get(action.action_id)
            if earlier is not None and earlier.outcome is None:
                return earlier.action_id  # already being evicted
            self._actions[action.action_id] = action  # first, or again after a failure
        try:
            with action.lock:
                self._attempt(action)
        except DriverError:
            with self._lock:
                self._actions.pop(action.action_id, None)
            raise
        return action.action_id

    def _check_evictable(self, pod) -> None:
        where = f"pod {pod.metadata.namespace}/{pod.metadata.name}"
        if pods.is_mirror(pod):
            raise DriverError(
                f"{where} mirrors a static pod that the kubelet on {pod.spec.node_name} runs "
                "from a file: the API cannot move it (kubectl drain skips it too)"
            )
        if pods.is_daemon(pod):
            raise DriverError(
                f"{where} belongs to a DaemonSet, which ignores cordons and runs a pod on every "
                "node: it is not moved (as with kubectl drain --ignore-daemonsets) and stops "
                "with its node"
            )
        if pods.is_finished(pod):
            raise DriverError(f"{where} has finished ({pod.status.phase}): nothing to move")
        if not pod.spec.node_name:
            raise DriverError(f"{where} is not scheduled to any node yet: nothing to move")
        if pods.controller_of(pod) is None and not self.force:
            raise DriverError(
                f"{where} has no controller to re-create it, so evicting it would lose it for "
                "good. Re-create it under a Deployment or StatefulSet, delete it yourself, or "
                "run the driver with force=True (like kubectl drain --force) to evict it anyway"
            )

    def _attempt(self, action: Eviction) -> None:
        """POST the eviction once. A 429 schedules the next try; other refusals raise."""
        if action.owner_uid is not None:
            owned = self._owned_pods(action)
            evicted = next((p for p in owned if p.metadata.uid == action.uid), None)
            # Siblings only mean "not a replacement" if the pod had not started going yet.
            going = evicted is None or pods.is_terminating(evicted)
            action.siblings = None if going else {p.metadata.uid for p in owned}
        body = client.V1Eviction(
            api_version="policy/v1",
            kind="Eviction",
            metadata=client.V1ObjectMeta(name=action.name, namespace=action.namespace),
            delete_options=client.V1DeleteOptions(
                preconditions=client.V1Preconditions(uid=action.uid)
            ),
        )
        try:
            self._call(
                f"evicting pod {action.pod}",
                self.core.create_namespaced_pod_eviction,
                action.name,
                action.namespace,
                body,
            )
        except KubernetesApiError as exc:
            if exc.status == 429:
                action.refusals += 1
                action.refusal = exc.detail
                action.next_try = time.monotonic() + action.delay
                action.delay = min(action.delay * 2, self.eviction_retry_max)
                return
            if exc.status not in (404, 409):  # 404, 409: gone, or replaced under its name
                raise
            action.siblings = None
        action.accepted = True
        action.refusal = None

    def _owned_pods(self, action: Eviction) -> list:
        owned = self._list(
            f"listing pods in namespace {action.namespace}",
            self.core.list_namespaced_pod,
            action.namespace,
        )
        return [
            p
            for p in owned
            if any(o.uid == action.owner_uid for o in p.metadata.owner_references or [])
        ]

    # -- waiting --------------------------------------------------------------------------

    def wait_action(self, action_id: str, timeout: float) -> ActionResult:
        """Retry, poll and return when the eviction is DONE or FAILED, or RUNNING at timeout."""
        action = self._action(action_id)
        deadline = time.monotonic() + max(0.0, timeout)
        with action.lock:
            while True:
                result = self._progress(action)
                now = time.monotonic()
                if result.status is not ActionStatus.RUNNING or now >= deadline:
                    return result
                pause = self.poll_interval if action.accepted else action.next_try - now
                time.sleep(max(0.0, min(pause, deadline - now)))

    def _action(self, action_id: str) -> Eviction:
        with self._lock:
            action = self._actions.get(action_id)
            if action is None:  # started by another driver (a controller before a restart)
                action = Eviction.from_action_id(action_id)
                action.delay = self.eviction_retry
                self._actions[action_id] = action
            return action

    def _progress(self, action: Eviction) -> ActionResult:
        """One round: retry the eviction if due, else check the pod and its replacement."""

        def result(status: ActionStatus, host=None, error=None) -> ActionResult:
            return ActionResult(action.action_id, status, action.uid, host=host, error=error)

        if action.outcome is not None:
            return action.outcome
        if not action.accepted:
            if time.monotonic() >= action.next_try:
                try:
                    self._attempt(action)
                except KubernetesApiError as exc:
                    return self._finish(action, result(ActionStatus.FAILED, error=str(exc)))
            if not action.accepted:
                return result(
                    ActionStatus.RUNNING,
                    error=f"eviction of pod {action.pod} refused {action.refusals} time(s), "
                    f"retrying: {action.refusal}",
                )
        if not action.gone:
            pod = self._read_pod(action.namespace, action.name)
            if pod is not None and pod.metadata.uid == action.uid:
                return result(ActionStatus.RUNNING, error=f"pod {action.pod} is still terminating")
            action.gone = True
        if action.owner_uid is None:
            return self._finish(action, result(ActionStatus.DONE))
        replacement = self._replacement(action)
        if replacement is None:
            owner = action.owner or f"the owner (uid {action.owner_uid}) of pod {action.pod}"
            return result(
                ActionStatus.RUNNING,
                error=f"pod {action.pod} is gone; waiting for a new pod of {owner} to be "
                "Running and Ready",
            )
        return self._finish(action, result(ActionStatus.DONE, host=replacement.spec.node_name))

    @staticmethod
    def _finish(action: Eviction, outcome: ActionResult) -> ActionResult:
        action.outcome = outcome
        return outcome

    def _replacement(self, action: Eviction):
        """A serving pod of the owner that replaces this one, claimed so no other action can.

        Of the pods that qualify, the one fewest other evictions of the same owner could take
        goes first: a pod that already existed when another eviction started cannot be that
        one's replacement, so taking it first leaves the others theirs.
        """
        serving = [p for p in self._owned_pods(action) if pods.is_serving(p)]
        with self._lock:
            free = [p for p in serving if p.metadata.uid not in self._claimed]
            mine = [p for p in free if _may_replace(action, p)]
            if not mine:
                return None
            others = [
                a
                for a in self._actions.values()
                if a is not action
                and a.owner_uid == action.owner_uid
                and a.accepted
                and a.outcome is None
            ]

            def order(pod) -> tuple:
                contention = sum(1 for a in others if _may_replace(a, pod))
                return contention, str(pod.metadata.creation_timestamp), pod.metadata.name

            choice = min(mine, key=order)
            self._claimed.add(choice.metadata.uid)
            return choice

    def close(self) -> None:
        """Close the API client if this driver made it (an injected one is its owner's)."""
        if self._owns_client:
            self.api_client.close()


def _may_replace(action: Eviction, pod) -> bool:
    if pod.metadata.uid == action.uid:
        return False
    if action.siblings is not None:
        return pod.metadata.uid not in action.siblings
    return pod.spec.node_name != action.node
