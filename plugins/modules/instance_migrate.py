#!/usr/bin/python
# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Move given instances to another host (live or cold migration) and wait for the moves."""
# Ansible modules put DOCUMENTATION, EXAMPLES and RETURN before their imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
module: instance_migrate
short_description: Live-migrate or migrate instances and wait for them
version_added: 0.1.0
description:
  - Moves each given instance to another host, O(max_concurrent) at a time, and waits until
    every move has ended.
  - With O(source_host) only the instances still on that host are moved, and with
    O(target_host) the instances already there are left alone; with either the module is
    idempotent. Without both, every run moves every instance again.
  - For a Kubernetes node use M(fenix.maintenance.host_drain), which evicts its pods.
author:
  - Fenix for Ansible developers (@fenix-ansible)
options:
  instances:
    description:
      - Ids of the instances to move (Nova server ids; C(<project>-vm-<k>) in the simulated
        cloud).
    type: list
    elements: str
    required: true
  migration_type:
    description:
      - How the instances are moved.
    type: str
    choices: [live_migrate, migrate]
    default: live_migrate
  fallback_to_migrate:
    description:
      - When a live migration fails, try a cold migration of that instance once.
    type: bool
    default: false
  source_host:
    description:
      - Move only the instances that are on this host now; the others are reported in
        RV(unmoved).
    type: str
  target_host:
    description:
      - Host to move the instances to; by default the scheduler picks one per instance.
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
    support: partial
    details:
      - Only with O(source_host) or O(target_host); otherwise each run moves the instances again.
"""

EXAMPLES = r"""
- name: Live-migrate two instances of the simulated cloud off compute-2
  fenix.maintenance.instance_migrate:
    sim_url: http://127.0.0.1:12348
    instances: [project-1-vm-2, project-2-vm-2]
    source_host: compute-2

- name: Cold-migrate a Nova server to a chosen host
  fenix.maintenance.instance_migrate:
    cloud: openstack
    os_cloud: admin
    instances: [109e14d9-8a3c-4f26-9c47-2a4c1f7d1a11]
    migration_type: migrate
    target_host: compute-7
"""

RETURN = r"""
moves:
  description: One entry per instance moved (see M(fenix.maintenance.host_drain) for the fields).
  returned: success
  type: list
  elements: dict
  sample:
    - instance_id: project-1-vm-2
      kind: live_migrate
      source: compute-2
      host: compute-3
      status: DONE
      error: null
      handle: 6f0c1f3e-9d7e-4a51-9d6b-2b6f1a1f0c11
unmoved:
  description: Instances left where they are, with the reason.
  returned: success
  type: list
  elements: dict
  sample:
    - instance_id: project-2-vm-2
      host: compute-3
      reason: not on source_host compute-2
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


def select_instances(cloud, instance_ids, source_host, target_host):
    """The instances to move now, and those to leave (with why)."""
    to_move, unmoved = [], []
    for instance_id in dict.fromkeys(instance_ids):
        instance = cloud.get_instance(instance_id)
        reason = None
        if source_host and instance["host"] != source_host:
            reason = f"not on source_host {source_host}"
        elif target_host and instance["host"] == target_host:
            reason = f"already on target_host {target_host}"
        if reason and not instance["moving"]:
            unmoved.append(dict(instance_id=instance_id, host=instance["host"], reason=reason))
        else:
            to_move.append(instance)
    return to_move, unmoved


def migrate_instances(module, cloud):
    params = module.params
    to_move, unmoved = select_instances(
        cloud, params["instances"], params["source_host"], params["target_host"]
    )
    result = dict(changed=bool(to_move), unmoved=unmoved, moves=[])
    if not to_move:
        return result
    if module.check_mode:
        result["moves"] = planned_moves(cloud, to_move, params["migration_type"])
        return result
    if not params["wait"]:
        result["moves"] = start_moves(
            cloud, to_move, params["migration_type"], params["target_host"]
        )
        return result
    fallback = None
    if params["fallback_to_migrate"] and params["migration_type"] == LIVE_MIGRATE:
        fallback = MIGRATE
    result["moves"] = run_moves(
        cloud,
        to_move,
        params["migration_type"],
        deadline_after(params["wait_timeout"]),
        target_host=params["target_host"],
        fallback=fallback,
        max_concurrent=params["max_concurrent"],
    )
    failures = move_failures(result["moves"])
    if failures:
        module.fail_json(
            msg=f"could not move {len(failures)} of {len(result['moves'])} instances: "
            f"{describe_failures(failures)}",
            **result,
        )
    return result


def main():
    argument_spec = dict(
        instances=dict(type="list", elements="str", required=True),
        migration_type=dict(type="str", default=LIVE_MIGRATE, choices=[LIVE_MIGRATE, MIGRATE]),
        fallback_to_migrate=dict(type="bool", default=False),
        source_host=dict(type="str"),
        target_host=dict(type="str"),
    )
    argument_spec.update(CLOUD_ARGSPEC)
    argument_spec.update(MOVES_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["cloud"] == "kubernetes":
        module.fail_json(
            msg="instance_migrate moves virtual machines; on Kubernetes use host_drain, which "
            "evicts a node's pods so their controllers recreate them elsewhere"
        )
    if module.params["max_concurrent"] < 1:
        module.fail_json(msg="max_concurrent must be at least 1")
    cloud = cloud_from_module(module)
    try:
        result = migrate_instances(module, cloud)
    except CloudError as exc:
        module.fail_json(msg=f"migrating instances failed: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
