#!/usr/bin/python
# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Take a compute host out of service and move every instance off it, then wait."""
# Ansible modules put DOCUMENTATION, EXAMPLES and RETURN before their imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
module: host_drain
short_description: Take a compute host out of service and move its instances away
version_added: 0.1.0
description:
  - Disables the host so that no new instance lands on it, then live-migrates (or migrates)
    every instance away from it and waits until the host is empty.
  - On Kubernetes the node is cordoned and its pods are evicted (DaemonSet and mirror pods
    stay); their controllers recreate them on other nodes.
  - Draining a host that is already disabled and empty changes nothing.
  - Use M(fenix.maintenance.host_restore) to put the host back in service afterwards.
  - This does by hand what a Fenix maintenance session does for its hosts; prefer
    M(fenix.maintenance.maintenance_session) when the instances' managers must be asked first.
author:
  - Fenix for Ansible developers (@fenix-ansible)
options:
  host:
    description:
      - Name of the compute host (Nova host, Kubernetes node, or C(compute-N) in the
        simulated cloud).
    type: str
    required: true
  reason:
    description:
      - Why the host is disabled; recorded with the host where the cloud keeps one.
    type: str
    default: maintenance by fenix.maintenance.host_drain
  migration_type:
    description:
      - How instances are moved. Kubernetes always evicts.
    type: str
    choices: [live_migrate, migrate]
    default: live_migrate
  fallback_to_migrate:
    description:
      - When a live migration fails, try a cold migration of that instance once.
    type: bool
    default: true
  target_host:
    description:
      - Host to move the instances to; by default the cloud's scheduler picks one per instance.
    type: str
extends_documentation_fragment:
  - fenix.maintenance.cloud
  - fenix.maintenance.moves
  - fenix.maintenance.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A disabled host with no instance on it is left as it is.
notes:
  - The simulated cloud is reached over HTTP from the target; OpenStack and Kubernetes need
    their Python client on the target.
"""

EXAMPLES = r"""
- name: Drain compute-1 of the simulated cloud
  fenix.maintenance.host_drain:
    host: compute-1
    sim_url: http://127.0.0.1:12348

- name: Drain a Nova compute host, moving instances with cold migrations
  fenix.maintenance.host_drain:
    cloud: openstack
    os_cloud: admin
    host: "{{ inventory_hostname }}"
    migration_type: migrate
    wait_timeout: 1800
  delegate_to: localhost

- name: Cordon and drain a Kubernetes node
  fenix.maintenance.host_drain:
    cloud: kubernetes
    host: worker-3
    kubeconfig: ~/.kube/config
"""

RETURN = r"""
host:
  description: The host after the drain.
  returned: success
  type: dict
  contains:
    name:
      description: The host's name.
      type: str
      sample: compute-1
    enabled:
      description: Whether new instances may land on the host.
      type: bool
      sample: false
    disabled_reason:
      description: Why the host is disabled, where the cloud keeps a reason.
      type: str
      sample: maintenance by fenix.maintenance.host_drain
disabled:
  description: Whether this run disabled the host.
  returned: always
  type: bool
  sample: true
moves:
  description: One entry per instance that was on the host.
  returned: success
  type: list
  elements: dict
  contains:
    instance_id:
      description: The instance (a Nova server id, C(namespace/pod) on Kubernetes).
      type: str
      sample: project-1-vm-1
    kind:
      description:
        - The move made, V(live_migrate), V(migrate) or V(evict); V(in_progress) for an
          instance that was already moving and was only waited for.
      type: str
      sample: live_migrate
    source:
      description: The host the instance was on.
      type: str
      sample: compute-1
    host:
      description: The host the instance is on after the move (null once evicted).
      type: str
      sample: compute-2
    status:
      description:
        - V(DONE) or V(FAILED) once waited for; V(RUNNING) when O(wait=false) or at the
          deadline; V(PLANNED) in check mode.
      type: str
      sample: DONE
    error:
      description: Why the move failed.
      type: str
      sample: null
    handle:
      description: The cloud's id of the move (an action id in the simulated cloud).
      type: str
      sample: 6f0c1f3e-9d7e-4a51-9d6b-2b6f1a1f0c11
remaining:
  description: Instances still on the host (empty after a successful drain with O(wait=true)).
  returned: success
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fenix.maintenance.plugins.module_utils._cloud import (
    CLOUD_ARGSPEC,
    LIVE_MIGRATE,
    MIGRATE,
    MOVES_ARGSPEC,
    CloudError,
    cloud_from_module,
    describe_failures,
    move_failures,
    planned_moves,
    run_moves,
    start_moves,
)
from ansible_collections.fenix.maintenance.plugins.module_utils._controller_client import (
    deadline_after,
)


def drain_host(module, cloud):
    params = module.params
    name = params["host"]
    host = cloud.get_host(name)
    instances = cloud.instances_on(name)
    result = dict(changed=False, disabled=False, moves=[], host=host)
    if not host["enabled"] and not instances:
        result["remaining"] = []
        return result
    result["changed"] = True
    if module.check_mode:
        result["disabled"] = host["enabled"]
        result["moves"] = planned_moves(cloud, instances, params["migration_type"])
        result["remaining"] = [i["instance_id"] for i in instances]
        return result
    if host["enabled"]:
        cloud.disable_host(name, params["reason"])
        result["disabled"] = True
    if params["wait"]:
        fallback = None
        if params["fallback_to_migrate"] and params["migration_type"] == LIVE_MIGRATE:
            fallback = MIGRATE
        result["moves"] = run_moves(
            cloud,
            instances,
            params["migration_type"],
            deadline_after(params["wait_timeout"]),
            target_host=params["target_host"],
            fallback=fallback,
            max_concurrent=params["max_concurrent"],
        )
    else:
        result["moves"] = start_moves(
            cloud, instances, params["migration_type"], params["target_host"]
        )
    result["host"] = cloud.get_host(name)
    result["remaining"] = [i["instance_id"] for i in cloud.instances_on(name)]
    failures = move_failures(result["moves"]) if params["wait"] else []
    if failures:
        module.fail_json(
            msg=f"could not move {len(failures)} of {len(result['moves'])} instances off {name}: "
            f"{describe_failures(failures)}. The host stays disabled: fix the cause and run "
            "host_drain again, or put the host back with host_restore",
            **result,
        )
    if params["wait"] and result["remaining"]:
        module.fail_json(
            msg=f"{name} still has instances after the drain: {', '.join(result['remaining'])} "
            "(new ones may have been placed on it before it was disabled); run host_drain again",
            **result,
        )
    return result


def main():
    argument_spec = dict(
        host=dict(type="str", required=True),
        reason=dict(type="str", default="maintenance by fenix.maintenance.host_drain"),
        migration_type=dict(type="str", default=LIVE_MIGRATE, choices=[LIVE_MIGRATE, MIGRATE]),
        fallback_to_migrate=dict(type="bool", default=True),
        target_host=dict(type="str"),
    )
    argument_spec.update(CLOUD_ARGSPEC)
    argument_spec.update(MOVES_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["max_concurrent"] < 1:
        module.fail_json(msg="max_concurrent must be at least 1")
    cloud = cloud_from_module(module)
    try:
        result = drain_host(module, cloud)
    except CloudError as exc:
        module.fail_json(msg=f"draining {module.params['host']} failed: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
