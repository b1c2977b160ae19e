#!/usr/bin/python
# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Tell a project's manager (VNFM) of a maintenance step and wait for its answer."""

# Ansible modules put DOCUMENTATION, EXAMPLES and RETURN before their imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
module: vnfm_handshake
short_description: Send a maintenance.planned step to a VNF manager and wait for its reply
version_added: 0.1.0
description:
  - Sends one step of the maintenance conversation to a project's VNF manager, the way the
    Fenix controller does, and waits until the manager has answered the controller.
  - The notification is an HTTP POST to O(vnfm_url) of a JSON object with C(event_type)
    V(maintenance.planned), C(payload), C(message_id) and C(timestamp). Its payload names the
    session, the project, the step (O(step)), the affected instances, the allowed actions, and
    a C(reply_url) that points at the controller's C(PUT /v1/maintenance/{session_id}/{project_id}),
    so the manager answers the controller exactly as it would answer a notification the
    controller sent itself.
  - The module then polls C(GET /v1/maintenance/{session_id}/detail) until that project's
    C(reply) is set for the step, and returns the reply and its C(instance_actions).
  - Use it for a manager the controller cannot reach itself, or to rehearse a manager against
    a live session. The controller takes a reply only while its workflow waits for that step
    from that project, that is while the project has a subscribed manager (C(has_manager)) and
    its reply window is open; a project without one has already been given the workflow's
    default behaviour, shown as the reply V(NO_MANAGER).
  - If the project has already answered this step, nothing is sent and the existing answer is
    returned (C(changed) is V(false)); O(force=true) sends the step again.
author:
  - Fenix for Ansible developers (@fenix-ansible)
options:
  session_id:
    description:
      - The maintenance session the step belongs to.
    type: str
    required: true
  project_id:
    description:
      - The project whose manager is told.
    type: str
    required: true
  vnfm_url:
    description:
      - The manager's callback URL, where the notification is POSTed.
    type: str
    required: true
  step:
    description:
      - The step to tell the manager of. By default, the step the session is at for the
        project (its C(step) in the session's detail).
    type: str
    choices:
      - MAINTENANCE
      - SCALE_IN
      - PREPARE_MAINTENANCE
      - PLANNED_MAINTENANCE
      - IN_MAINTENANCE
      - MAINTENANCE_COMPLETE
      - INSTANCE_ACTION_DONE
      - ADMIN_ACTION_DONE
      - MAINTENANCE_DONE
      - MAINTENANCE_FAILED
  instance_ids:
    description:
      - The affected instances to put in the payload. By default the payload carries, as in
        Fenix, the URL where the manager GETs them from the controller.
    type: list
    elements: str
  allowed_actions:
    description:
      - The instance actions the manager may choose from.
    type: list
    elements: str
    default: [MIGRATE, LIVE_MIGRATE, OWN_ACTION]
  metadata:
    description:
      - The payload's metadata. By default, the session's metadata.
    type: dict
  reply_url:
    description:
      - Where the manager PUTs its answer. By default the controller's
        C(/v1/maintenance/{session_id}/{project_id}) under O(url).
    type: str
  reply_window:
    description:
      - Seconds the manager has to answer, written into the payload as C(reply_at).
    type: int
    default: 20
  actions_at:
    description:
      - The payload's C(actions_at), UTC; by default the time the notification is sent.
    type: str
  secret:
    description:
      - Sign the body with HMAC-SHA256 under this key, in the C(X-Fenix-Signature) header,
        as the controller does for a subscription with a secret.
    type: str
  force:
    description:
      - Send the step even if the project has already answered it.
    type: bool
    default: false
  wait:
    description:
      - Wait for the project's answer to reach the controller. Informational steps (those that
        are not answered, such as V(IN_MAINTENANCE)) are never waited for.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the answer.
    type: int
    default: 60
  poll_interval:
    description:
      - Seconds between two reads of the session while waiting.
    type: float
    default: 1.0
extends_documentation_fragment:
  - fenix.maintenance.controller
  - fenix.maintenance.attributes
attributes:
  check_mode:
    support: full
    details: In check mode the notification is built and returned, not sent.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A step the project has already answered is not sent again unless O(force=true).
seealso:
  - module: fenix.maintenance.maintenance_session
"""

EXAMPLES = r"""
- name: Ask the manager of project-1 to acknowledge the maintenance
  fenix.maintenance.vnfm_handshake:
    url: http://127.0.0.1:12347
    session_id: "{{ session.session_id }}"
    project_id: project-1
    vnfm_url: http://vnfm.example.com:8080/maintenance
    step: MAINTENANCE
  register: handshake

- name: Show what the manager chose for its instances
  ansible.builtin.debug:
    var: handshake.instance_actions

- name: Relay the step the session is waiting for, with a signed body
  fenix.maintenance.vnfm_handshake:
    url: http://127.0.0.1:12347
    session_id: "{{ session.session_id }}"
    project_id: project-2
    vnfm_url: https://vnfm.example.com/maintenance
    secret: "{{ vnfm_secret }}"
    wait_timeout: 120
"""

RETURN = r"""
reply:
  description:
    - The project's answer as the controller recorded it, for example V(ACK_MAINTENANCE),
      V(NACK_PLANNED_MAINTENANCE), or V(NO_MANAGER) when the workflow went on without one.
    - Null when the step is informational, or when O(wait=false).
  returned: success
  type: str
  sample: ACK_PLANNED_MAINTENANCE
instance_actions:
  description: The action the manager chose for each instance.
  returned: success
  type: dict
  sample:
    project-1-vm-1: LIVE_MIGRATE
replied_at:
  description: When the controller received the answer (ISO 8601, UTC).
  returned: success
  type: str
  sample: "2026-01-05T10:00:03+00:00"
notification:
  description: The body POSTed to O(vnfm_url) (or that would be, in check mode).
  returned: when a notification is sent or would be
  type: dict
  sample:
    event_type: maintenance.planned
    message_id: 0b8f5c9e-6a4b-4a3e-9c55-3b0f2a7d8e61
    timestamp: "2026-01-05T10:00:00+00:00"
    payload:
      service: fenix
      session_id: 695030ee-1c4d-11e8-a9b0-0242ac110002
      project_id: project-1
      state: MAINTENANCE
      instance_ids: http://127.0.0.1:12347/v1/maintenance/695030ee-1c4d-11e8-a9b0-0242ac110002/project-1
      allowed_actions: [MIGRATE, LIVE_MIGRATE, OWN_ACTION]
      reply_url: http://127.0.0.1:12347/v1/maintenance/695030ee-1c4d-11e8-a9b0-0242ac110002/project-1
      reply_at: "2026-01-05T10:00:20+00:00"
      actions_at: "2026-01-05T10:00:00+00:00"
      metadata: {}
project:
  description: The project's part of the session after the handshake, as in the session detail.
  returned: success
  type: dict
  sample:
    project_id: project-1
    step: MAINTENANCE
    reply: ACK_MAINTENANCE
    has_manager: true
"""

import datetime
import hashlib
import hmac
import json
import time
import uuid

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fenix.maintenance.plugins.module_utils._contract import (
    DEFAULT_ALLOWED_ACTIONS,
    EVENT_PLANNED,
    PROJECT_STEPS,
    REPLY_STEPS,
    is_final,
)
from ansible_collections.fenix.maintenance.plugins.module_utils._controller_client import (
    CONTROLLER_ARGSPEC,
    ControllerError,
    JsonClient,
    controller_from_module,
    deadline_after,
    seconds_left,
)

SIGNATURE_HEADER = "X-Fenix-Signature"
LATE_SECONDS = 3.0
"""How long a reply is looked for in the event log once the detail shows the step over."""
LATE_POLL_SECONDS = 0.25


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (py3.8 targets)


def project_of(detail, project_id):
    for project in detail.get("projects", []):
        if project["project_id"] == project_id:
            return project
    return None


def build_notification(params, client, detail, step):
    session_id, project_id = params["session_id"], params["project_id"]
    now = utc_now()
    project_url = client.project_url(session_id, project_id)
    instance_ids = params["instance_ids"]
    if instance_ids is None:
        instance_ids = project_url
    metadata = params["metadata"]
    if metadata is None:
        metadata = detail.get("metadata") or {}
    payload = dict(
        service="fenix",
        session_id=session_id,
        project_id=project_id,
        state=step,
        instance_ids=instance_ids,
        allowed_actions=params["allowed_actions"],
        reply_url=params["reply_url"] or project_url,
        reply_at=(now + datetime.timedelta(seconds=params["reply_window"])).isoformat(),
        actions_at=params["actions_at"] or now.isoformat(),
        metadata=metadata,
    )
    return dict(
        event_type=EVENT_PLANNED,
        payload=payload,
        message_id=str(uuid.uuid4()),
        timestamp=now.isoformat(),
    )


def send_notification(params, notification):
    """POST the notification to the manager, signed when a secret is given."""
    body = json.dumps(notification, sort_keys=True).encode("utf-8")
    headers = {}
    if params["secret"]:
        digest = hmac.new(params["secret"].encode("utf-8"), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    vnfm = JsonClient(
        params["vnfm_url"], validate_certs=params["validate_certs"], timeout=params["timeout"]
    )
    vnfm.what = "VNF manager"
    vnfm.request("POST", "", body=body, headers=headers, decode=False)


def answered(project, step):
    return project is not None and project["step"] == step and project["reply"] is not None


class ReplyWatch:
    """Finds a project's answer to one step in the session's event log.

    The session detail shows a project's reply only until the workflow moves it to its next
    step, which can happen between two polls; the event log (an extension of the Fenix API)
    keeps every reply. Against a controller without it, the detail is all there is.
    """

    def __init__(self, client, session_id, project_id, step):
        self.client = client
        self.session_id = session_id
        self.project_id = project_id
        self.replies = (f"ACK_{step}", f"NACK_{step}")
        self.after = 0
        self.has_events = True

    def reply_logged_late(self):
        """The answer to the step, looked for again once the detail shows the project moved
        on: the reply may have come between the log's read and the detail's, or a busy
        controller may give a log page up to a second old. None once LATE_SECONDS passed
        with none."""
        deadline = time.monotonic() + LATE_SECONDS
        while True:
            found = self.next_reply()
            if found is not None or not self.has_events or time.monotonic() >= deadline:
                return found
            time.sleep(LATE_POLL_SECONDS)

    def next_reply(self):
        """The latest answer to the step logged since the last call, or None."""
        if not self.has_events:
            return None
        try:
            events = self.client.session_events(self.session_id, after=self.after)
        except ControllerError as exc:
            if exc.status not in (404, 405, 501):
                raise
            self.has_events = False
            return None
        found = None
        for event in events:
            self.after = max(self.after, event.get("id") or 0)
            if (
                event.get("kind") == "project.reply"
                and event.get("subject") == self.project_id
                and event.get("new") in self.replies
            ):
                found = event
        return found


def reply_result(project, step, event=None):
    """The reply fields of the result, from the project's view or from a logged reply."""
    if event is None or (answered(project, step) and project["reply"] == event["new"]):
        return dict(
            reply=project["reply"],
            instance_actions=project.get("instance_actions") or {},
            replied_at=project.get("replied_at"),
            project=project,
        )
    body = event.get("data") or {}
    return dict(
        reply=event["new"],
        instance_actions=body.get("instance_actions") or {},
        replied_at=event.get("at"),
        project=project,
    )


def wait_for_reply(module, client, watch, step):
    """The reply fields once the project has answered ``step``; fails at the deadline."""
    params = module.params
    deadline = deadline_after(params["wait_timeout"])
    while True:
        event = watch.next_reply()
        detail = client.get_session_detail(params["session_id"])
        project = project_of(detail, params["project_id"])
        if event is not None or answered(project, step):
            return reply_result(project, step, event)
        if project is not None and project["step"] != step:
            event = watch.reply_logged_late()
            if event is not None:
                return reply_result(project, step, event)
            module.fail_json(
                msg=f"the session moved on from {step} to {project['step']} for project "
                f"{params['project_id']} without an answer to {step} (reply window over?)",
                project=project,
            )
        if is_final(detail["state"]):
            module.fail_json(
                msg=f"session {params['session_id']} ended {detail['state']} before project "
                f"{params['project_id']} answered {step}",
                project=project,
            )
        if seconds_left(deadline) <= 0:
            module.fail_json(
                msg=f"no answer to {step} from the manager at {params['vnfm_url']} within "
                f"{params['wait_timeout']} s; check that it PUTs its reply to the reply_url of "
                "the notification and that the controller was waiting for it",
                project=project,
            )
        time.sleep(min(params["poll_interval"], seconds_left(deadline)))


def handshake(module, client):
    params = module.params
    try:
        detail = client.get_session_detail(params["session_id"])
    except ControllerError as exc:
        if exc.not_found:
            module.fail_json(msg=f"the controller has no session {params['session_id']}")
        raise
    project = project_of(detail, params["project_id"])
    if project is None:
        module.fail_json(
            msg=f"project {params['project_id']} takes no part in session "
            f"{params['session_id']}; its projects: "
            f"{', '.join(p['project_id'] for p in detail.get('projects', [])) or 'none yet'}"
        )
    step = params["step"] or project["step"]
    if not step:
        module.fail_json(
            msg=f"project {params['project_id']} has no step yet in session "
            f"{params['session_id']}; give step"
        )
    result = dict(changed=False, reply=None, instance_actions={}, replied_at=None, project=project)
    watch = ReplyWatch(client, params["session_id"], params["project_id"], step)
    earlier = watch.next_reply()
    if (earlier is not None or answered(project, step)) and not params["force"]:
        result.update(reply_result(project, step, earlier))
        return result
    notification = build_notification(params, client, detail, step)
    result.update(changed=True, notification=notification)
    if module.check_mode:
        return result
    send_notification(params, notification)
    if params["wait"] and step in REPLY_STEPS:
        result.update(wait_for_reply(module, client, watch, step))
    return result


def main():
    argument_spec = dict(
        session_id=dict(type="str", required=True),
        project_id=dict(type="str", required=True),
        vnfm_url=dict(type="str", required=True),
        step=dict(type="str", choices=list(PROJECT_STEPS)),
        instance_ids=dict(type="list", elements="str"),
        allowed_actions=dict(type="list", elements="str", default=list(DEFAULT_ALLOWED_ACTIONS)),
        metadata=dict(type="dict"),
        reply_url=dict(type="str"),
        reply_window=dict(type="int", default=20),
        actions_at=dict(type="str"),
        secret=dict(type="str", no_log=True),
        force=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=60),
        poll_interval=dict(type="float", default=1.0),
    )
    argument_spec.update(CONTROLLER_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = controller_from_module(module)
    try:
        result = handshake(module, client)
    except ControllerError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
