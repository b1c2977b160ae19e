#!/usr/bin/python
# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Put a compute host back in service after its maintenance: the inverse of host_drain."""
# Ansible modules put DOCUMENTATION, EXAMPLES and RETURN before their imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
module: host_restore
short_description: Put a drained compute host back in service
version_added: 0.1.0
description:
  - Enables a host that M(fenix.maintenance.host_drain) (or anything else) disabled, so that
    the scheduler may place instances on it again. On Kubernetes the node is uncordoned.
  - Instances are not moved back; the scheduler uses the host for new and moved instances.
  - Restoring a host that is already enabled changes nothing.
author:
  - Fenix for Ansible developers (@fenix-ansible)
options:
  host:
    description:
      - Name of the compute host (Nova host, Kubernetes node, or C(compute-N) in the
        simulated cloud).
    type: str
    required: true
extends_documentation_fragment:
  - fenix.maintenance.cloud
  - fenix.maintenance.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Put compute-1 of the simulated cloud back in service
  fenix.maintenance.host_restore:
    host: compute-1
    sim_url: http://127.0.0.1:12348

- name: Enable the nova-compute service of this host again
  fenix.maintenance.host_restore:
    cloud: openstack
    os_cloud: admin
    host: "{{ inventory_hostname }}"
  delegate_to: localhost

- name: Uncordon a Kubernetes node
  fenix.maintenance.host_restore:
    cloud: kubernetes
    host: worker-3
"""

RETURN = r"""
host:
  description: The host after the call.
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
      sample: true
    disabled_reason:
      description: Why the host is disabled (null once enabled).
      type: str
      sample: null
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fenix.maintenance.plugins.module_utils._cloud import (
    CLOUD_ARGSPEC,
    CloudError,
    cloud_from_module,
)


def restore_host(module, cloud):
    name = module.params["host"]
    before = cloud.get_host(name)
    result = dict(changed=not before["enabled"], host=before)
    if module._diff:
        result["diff"] = dict(before=dict(enabled=before["enabled"]), after=dict(enabled=True))
    if before["enabled"] or module.check_mode:
        if module.check_mode and not before["enabled"]:
            result["host"] = dict(before, enabled=True, disabled_reason=None)
        return result
    cloud.enable_host(name)
    result["host"] = cloud.get_host(name)
    return result


def main():
    argument_spec = dict(host=dict(type="str", required=True))
    argument_spec.update(CLOUD_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cloud = cloud_from_module(module)
    try:
        result = restore_host(module, cloud)
    except CloudError as exc:
        module.fail_json(msg=f"restoring {module.params['host']} failed: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
