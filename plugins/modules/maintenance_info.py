#!/usr/bin/python
# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Read maintenance sessions and instance constraints from the Fenix controller."""
# Ansible modules put DOCUMENTATION, EXAMPLES and RETURN before their imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_info
short_description: Read maintenance sessions and maintenance constraints from the Fenix controller
version_added: 0.1.0
description:
  - Lists the controller's maintenance sessions (C(GET /v1/maintenance)).
  - With O(session_id), reads that session's detail (C(GET /v1/maintenance/{id}/detail)) and,
    with O(events=true), its event log.
  - With O(name), reads the details of the sessions started under that name by
    M(fenix.maintenance.maintenance_session); with O(details=true), of every session.
  - With O(instance_ids) or O(group_ids), reads the ETSI constraints that the projects' managers
    set on their instances (C(GET /v1/instance/{id})) and instance groups
    (C(GET /v1/instance_group/{id})).
author:
  - Fenix for Ansible developers (@fenix-ansible)
options:
  session_id:
    description:
      - The session to read in detail.
    type: str
  name:
    description:
      - Read the sessions whose metadata carries this C(fenix_name).
    type: str
  details:
    description:
      - Read the detail of every listed session into RV(sessions).
    type: bool
    default: false
  events:
    description:
      - With O(session_id), read the session's event log too (an extension of the Fenix API).
    type: bool
    default: false
  events_after:
    description:
      - With O(events=true), read only the events after this event id (the highest C(id)
        already read), to follow a session without reading its whole log again.
    type: int
    default: 0
  instance_ids:
    description:
      - Instances whose constraints to read. An instance without constraints gives V(null).
    type: list
    elements: str
    default: []
  group_ids:
    description:
      - Instance groups whose constraints to read. A group without constraints gives V(null).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - fenix.maintenance.controller
  - fenix.maintenance.attributes
attributes:
  check_mode:
    support: full
    details: This module only reads.
  diff_mode:
    support: N/A
    details: This module only reads.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: List the controller's sessions
  fenix.maintenance.maintenance_info:
    url: http://127.0.0.1:12347
  register: fenix

- name: Read one session with its event log
  fenix.maintenance.maintenance_info:
    url: http://127.0.0.1:12347
    session_id: "{{ fenix.session_ids[0] }}"
    events: true
  register: one

- name: Read the sessions of the queens-upgrade run
  fenix.maintenance.maintenance_info:
    url: http://127.0.0.1:12347
    name: queens-upgrade

- name: Read the constraints of an instance and of its group
  fenix.maintenance.maintenance_info:
    url: http://127.0.0.1:12347
    token: "{{ project_token }}"
    instance_ids: [project-1-vm-1]
    group_ids: [web-servers]
"""

RETURN = r"""
session_ids:
  description: Ids of the controller's sessions (deleted ones are not listed).
  returned: always
  type: list
  elements: str
  sample: [695030ee-1c4d-11e8-a9b0-0242ac110002]
session:
  description: The detail of O(session_id), as C(GET /v1/maintenance/{id}/detail) gives it.
  returned: when O(session_id) is given
  type: dict
  sample:
    session_id: 695030ee-1c4d-11e8-a9b0-0242ac110002
    state: PLANNED_MAINTENANCE
    percent_done: 50
    hosts: []
    projects: []
    instances: []
sessions:
  description: Session details, of O(name) or of every session with O(details=true).
  returned: when O(name) is given or O(details=true)
  type: list
  elements: dict
  sample: []
events:
  description: The event log of O(session_id) (after O(events_after)), oldest first.
  returned: when O(events=true) and O(session_id) is given
  type: list
  elements: dict
  sample:
    - id: 1
      at: "2026-01-05T10:00:00+00:00"
      kind: session.created
      new: MAINTENANCE
events_unsupported:
  description: V(true) when O(events=true) failed because the controller keeps no event log.
  returned: on that failure
  type: bool
  sample: true
instance_constraints:
  description: The constraints of each of O(instance_ids), keyed by instance id.
  returned: when O(instance_ids) is given
  type: dict
  sample:
    project-1-vm-1:
      instance_id: project-1-vm-1
      project_id: project-1
      migration_type: LIVE_MIGRATE
      max_interruption_time: 0
group_constraints:
  description: The constraints of each of O(group_ids), keyed by group id.
  returned: when O(group_ids) is given
  type: dict
  sample:
    web-servers:
      group_id: web-servers
      project_id: project-1
      anti_affinity_group: true
      max_impacted_members: 1
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fenix.maintenance.plugins.module_utils._controller_client import (
    CONTROLLER_ARGSPEC,
    ControllerError,
    controller_from_module,
)
from ansible_collections.fenix.maintenance.plugins.module_utils._progress import (
    UNSUPPORTED_LOG_STATUSES,
)

NAME_KEY = "fenix_name"


def or_none_if_missing(read, key):
    try:
        return read(key)
    except ControllerError as exc:
        if exc.not_found:
            return None
        raise


def read_events(module, client, result):
    params = module.params
    try:
        return client.session_events(params["session_id"], after=params["events_after"])
    except ControllerError as exc:
        if exc.status not in UNSUPPORTED_LOG_STATUSES:
            raise
        module.fail_json(
            msg=f"the controller keeps no event log for session {params['session_id']} "
            f"({exc.message}); read the session without events=true",
            events_unsupported=True,
            error=exc.to_dict(),
            **result,
        )


def gather(module, client):
    params = module.params
    result = dict(changed=False, session_ids=client.list_session_ids())
    if params["session_id"]:
        try:
            result["session"] = client.get_session_detail(params["session_id"])
        except ControllerError as exc:
            if exc.not_found:
                module.fail_json(
                    msg=f"the controller has no session {params['session_id']}; the listed ones "
                    "are in session_ids",
                    session_ids=result["session_ids"],
                )
            raise
        if params["events"]:
            result["events"] = read_events(module, client, result)
    if params["name"] or params["details"]:
        sessions = []
        for session_id in result["session_ids"]:
            detail = or_none_if_missing(client.get_session_detail, session_id)
            if detail is None:
                continue
            if params["name"] and (detail.get("metadata") or {}).get(NAME_KEY) != params["name"]:
                continue
            sessions.append(detail)
        result["sessions"] = sessions
    if params["instance_ids"]:
        result["instance_constraints"] = dict(
            (i, or_none_if_missing(client.get_instance_constraints, i))
            for i in params["instance_ids"]
        )
    if params["group_ids"]:
        result["group_constraints"] = dict(
            (g, or_none_if_missing(client.get_group_constraints, g)) for g in params["group_ids"]
        )
    return result


def main():
    argument_spec = dict(
        session_id=dict(type="str"),
        name=dict(type="str"),
        details=dict(type="bool", default=False),
        events=dict(type="bool", default=False),
        events_after=dict(type="int", default=0),
        instance_ids=dict(type="list", elements="str", default=[]),
        group_ids=dict(type="list", elements="str", default=[]),
    )
    argument_spec.update(CONTROLLER_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = controller_from_module(module)
    try:
        result = gather(module, client)
    except ControllerError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
