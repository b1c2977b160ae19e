# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Which cloud a host or instance module acts on; paired with CLOUD_ARGSPEC in module_utils."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - The kind of cloud the hosts and instances belong to.
      - V(simulated) is the simulated cloud of C(fenix serve) or C(fenix sim-cloud), reached
        over HTTP at O(sim_url).
      - V(openstack) uses C(openstacksdk) on the target, with the cloud named by O(os_cloud).
      - V(kubernetes) uses the C(kubernetes) Python client on the target, with O(kubeconfig)
        and O(context).
    type: str
    choices: [simulated, openstack, kubernetes]
    default: simulated
  sim_url:
    description:
      - Base URL of the simulated cloud's API, for example V(http://127.0.0.1:12348).
      - Required when O(cloud=simulated).
      - If not set, the value of the E(FENIX_SIM_URL) environment variable is used.
    type: str
  os_cloud:
    description:
      - Name of the cloud in C(clouds.yaml) when O(cloud=openstack).
      - If not set, the value of the E(OS_CLOUD) environment variable is used.
    type: str
  kubeconfig:
    description:
      - Path to the kubeconfig file when O(cloud=kubernetes).
      - If not set, the value of the E(KUBECONFIG) environment variable is used, then the
        in-cluster configuration, then C(~/.kube/config).
    type: path
  context:
    description:
      - The kubeconfig context to use when O(cloud=kubernetes).
    type: str
  validate_certs:
    description:
      - Whether to check TLS certificates of the simulated cloud's API.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the answer to one HTTP request to the simulated cloud.
    type: int
    default: 30
requirements:
  - C(openstacksdk) on the target when O(cloud=openstack).
  - C(kubernetes) on the target when O(cloud=kubernetes).
attributes:
  action_group:
    description:
      - Use C(group/fenix.maintenance.cloud) in C(module_defaults) to set the cloud's options
        (O(cloud), O(sim_url), O(os_cloud), ...) once for every module of the group.
    support: full
    membership:
      - fenix.maintenance.cloud
"""
