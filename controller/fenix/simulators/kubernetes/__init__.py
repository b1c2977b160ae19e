"""A simulated Kubernetes API server: the subset a drain needs, over real HTTP.

No Kubernetes runs in tests or demos; this lets the Kubernetes driver be exercised through the
official client against nodes, pods, controllers that re-create evicted pods, and disruption
budgets enforced by the Eviction API. ``python -m fenix.simulators.kubernetes`` serves
one on its own.
"""

from .cluster import SimCluster, SimClusterConfig
from .server import create_kube_app, start_sim_cluster

__all__ = ["SimCluster", "SimClusterConfig", "create_kube_app", "start_sim_cluster"]
