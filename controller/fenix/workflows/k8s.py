"""The k8s workflow: the default workflow's conversation, for a Kubernetes cluster.

Nodes are hosts and namespaces are projects: each namespace's manager is asked, step by step,
as in the default workflow, and nodes are maintained one at a time, each cordoned only while
it is emptied and maintained. What changes is what can be done with an instance (a pod):

- Kubernetes cannot migrate a pod. It is evicted through the Eviction API, which holds the
  pods' PodDisruptionBudgets (the driver asks again while a budget refuses), and its
  controller's replacement goes wherever the scheduler puts it: the workflow chooses no target.
- A manager may answer EVICTION or OWN_ACTION (it moves or deletes its pods itself); the
  default, for a namespace with no manager or no answer, is EVICTION. A MIGRATE or
  LIVE_MIGRATE answer, which is not offered, is carried out as the eviction it would be anyway,
  and recorded as such.
- DaemonSet and mirror pods are not instances (the Kubernetes driver leaves them out), so they
  stay on their node and stop with it, as with ``kubectl drain --ignore-daemonsets``.
"""

from __future__ import annotations

import logging

from fenix.engine.context import SessionContext
from fenix.states import InstanceAction
from fenix.workflows.conversation import Conversation
from fenix.workflows.default import DefaultWorkflow
from fenix.workflows.moves import InstanceMover

LOG = logging.getLogger(__name__)

ALLOWED_ACTIONS = [InstanceAction.EVICTION, InstanceAction.OWN_ACTION]


class K8sWorkflow(DefaultWorkflow):
    def __init__(self, ctx: SessionContext) -> None:
        super().__init__(ctx)
        self.talk = Conversation(ctx, allowed_actions=ALLOWED_ACTIONS)
        self.mover = _PodMover(ctx, self.talk)

    def default_action(self) -> str:
        return InstanceAction.EVICTION


class _PodMover(InstanceMover):
    """Carries out only what a pod allows: an eviction, or its manager's own action."""

    def empty_host(self, host: str, actions: dict[str, str], default_action: str) -> list[str]:
        carried_out = {}
        for instance_id, action in actions.items():
            if action not in ALLOWED_ACTIONS:
                self._record_replaced(instance_id, action)
                action = InstanceAction.EVICTION
            carried_out[instance_id] = action
        return super().empty_host(host, carried_out, default_action)

    def _record_replaced(self, instance_id: str, asked: str) -> None:
        LOG.info("pod %s: %s asked, evicting it instead (pods only evict)", instance_id, asked)
        with self.ctx.db.transaction() as repo:
            repo.add_event(
                self.ctx.session_id,
                "instance.action.replaced",
                instance_id,
                asked,
                InstanceAction.EVICTION,
                {"why": "a pod cannot be migrated: it is evicted and its controller replaces it"},
            )
