#!/usr/bin/python
# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Start, follow or end a maintenance session on the Fenix controller."""
# Ansible modules put DOCUMENTATION, EXAMPLES and RETURN before their imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_session
short_description: Start, follow or end a maintenance session on the Fenix controller
version_added: 0.1.0
description:
  - With O(state=present), creates a maintenance session over O(hosts) on the controller
    (C(POST /v1/maintenance)); the controller's workflow then moves the instances away host
    by host, asking each project's manager first, runs the action plug-ins and maintains the
    hosts.
  - With O(wait=true), follows the session (C(GET /v1/maintenance/{id}/detail)) until it ends,
    returns its state changes with their times in RV(progress), and fails with the session's
    error when it ends in C(MAINTENANCE_FAILED).
  - With O(state=absent), ends the session (C(DELETE /v1/maintenance/{id})); its workflow stops
    at a safe point.
  - With O(state=paused), holds the running session of O(session_id) or O(name) at its next
    safe point (C(PUT /v1/maintenance/{id}) with C(action=pause)); no new host is started and
    no new move begun, what is in flight finishes. O(state=resumed) lets it go on. Both change
    nothing when the session is already so.
  - In check mode, when a session would be created, the controller's plan of it
    (C(POST /v1/maintenance/plan)) is returned in RV(plan), with the hosts in the order and
    waves they would be taken, each instance's move, a lower bound and an estimate of the
    makespan.
    Nothing is created or touched, so an approval step (an AWX approval node) can show it.
  - O(name) makes the module idempotent. It is stored in the session's metadata as
    C(fenix_name); while a session of that name is unfinished, O(state=present) follows it
    instead of creating another (C(changed) is V(false)). Once that session has ended, the
    next run starts a new maintenance, as a new upgrade run should.
author:
  - Fenix for Ansible developers (@fenix-ansible)
options:
  state:
    description:
      - V(present) creates the session, or finds the unfinished one of O(name), or follows
        O(session_id).
      - V(absent) deletes O(session_id), or every listed session of O(name).
      - V(paused) pauses, V(resumed) resumes the session of O(session_id), or the unfinished
        one of O(name).
    type: str
    choices: [present, absent, paused, resumed]
    default: present
  pause_reason:
    description:
      - Why the session is paused (O(state=paused)), shown in its detail and timeline.
    type: str
  name:
    description:
      - A name for the session, kept in its metadata as C(fenix_name); see the description.
    type: str
  session_id:
    description:
      - The id of an existing session, to follow (O(state=present)) or delete (O(state=absent)).
    type: str
  hosts:
    description:
      - Names of the hosts to maintain. An empty list means every compute host of the cloud.
    type: list
    elements: str
    default: []
  workflow:
    description:
      - The controller's workflow plug-in that runs the session, for example V(default),
        V(vnf) or V(k8s).
    type: str
    default: default
  maintenance_at:
    description:
      - When the maintenance starts, UTC, as C(YYYY-MM-DD HH:MM:SS) or ISO 8601.
      - By default it starts at once.
    type: str
  metadata:
    description:
      - Free metadata stored with the session and passed to the projects' managers, for
        example C(openstack_release=Queens).
    type: dict
    default: {}
  actions:
    description:
      - Action plug-ins to run, each a playbook the controller finds by name.
    type: list
    elements: dict
    default: []
    suboptions:
      plugin:
        description: Name of the action plug-in, for example V(dummy) or V(os_upgrade).
        type: str
        required: true
      type:
        description:
          - When it runs, V(pre) (before the first host), V(host) (on each host) or V(post).
        type: str
        required: true
      metadata:
        description: Variables handed to the plug-in.
        type: dict
        default: {}
  windows:
    description:
      - Maintenance windows, UTC. New hosts start only inside one; a host in work finishes
        when a window closes and the next window carries on where the last stopped.
      - With O(weekly_windows) too, a host may start inside a window of either kind. Neither
        means at any time.
    type: list
    elements: dict
    default: []
    suboptions:
      start:
        description: When the window opens, C(YYYY-MM-DD HH:MM:SS) (UTC) or ISO 8601.
        type: str
        required: true
      end:
        description: When it closes; after O(windows[].start), and not already past.
        type: str
        required: true
  weekly_windows:
    description:
      - Maintenance windows every week, UTC, for example Saturday and Sunday nights.
    type: list
    elements: dict
    default: []
    suboptions:
      days:
        description: Days of the week, V(mon) to V(sun) (or their full names).
        type: list
        elements: str
        required: true
      start:
        description: Time of day the window opens, C(HH:MM), UTC.
        type: str
        required: true
      end:
        description:
          - Time of day it closes, C(HH:MM), UTC; at or before O(weekly_windows[].start) it
            closes the next day.
        type: str
        required: true
  gates:
    description:
      - Health gates checked before each host (or wave) starts and after it comes back, beside
        the session's action plug-ins of type C(gate) (playbooks whose failure means
        unhealthy). A gate failing for longer than O(gate_timeout) pauses the session with its
        reason; it does not fail it.
      - The controller queries only addresses its admin allows (C(FENIX_GATE_ALLOW_NETWORKS)
        for private or loopback ones).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The gate's name (letters, digits, C(.), C(_), C(-)), shown in the pause.
        type: str
        required: true
      url:
        description: The Prometheus server's base URL, for example C(http://prometheus:9090).
        type: str
        required: true
      query:
        description: A PromQL instant query, for example C(ALERTS{severity="critical"}).
        type: str
        required: true
      healthy:
        description:
          - V(empty) passes when the query gives no series; V(below) and V(above) when every
            value is below or above O(gates[].threshold).
        type: str
        choices: [empty, below, above]
        default: empty
      threshold:
        description: The value compared with, for V(below) and V(above).
        type: float
      stages:
        description: When the gate is checked.
        type: list
        elements: str
        choices: [before, after]
        default: [before, after]
  gate_timeout:
    description: Seconds a gate may keep failing before the session is paused.
    type: int
    default: 600
  gate_interval:
    description: Seconds between two checks of a failing gate.
    type: int
    default: 10
  download:
    description:
      - URLs of workflow or action plug-ins for the controller to download first.
      - Each URL is https (plain http only where the controller allows it) and names the
        SHA-256 of its content in pip's form, C(https://example.com/plugins.tar.gz#sha256=<hex>);
        the controller checks it before using anything downloaded.
    type: list
    elements: str
    default: []
  max_hosts_per_zone:
    description:
      - At most this many of the session's hosts of one zone out of service at once (an
        OpenStack availability zone, a Kubernetes node's C(topology.kubernetes.io/zone)).
      - Omitted, no limit per zone. The V(default) workflow takes one host at a time anyway.
    type: int
  plan_durations:
    description:
      - In check mode, the seconds the plan's estimate assumes, any of C(live_migrate),
        C(migrate), C(evict), C(own_action), C(maintain) (one host) and C(answer) (a manager's
        answer); the others come from the controller's settings.
    type: dict
  wait:
    description:
      - Follow the session until it ends (C(MAINTENANCE_DONE) or C(MAINTENANCE_FAILED)).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to follow the session before giving up. The session itself goes on.
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between two reads of the session while waiting.
    type: float
    default: 2.0
  display_progress:
    description:
      - While O(wait=true), print a line in the play's output for each step of the session as
        it happens (each host's state change, each step the projects' managers are asked and
        their answers, each instance moved, each action plug-in run), so a job's log (AWX's
        too) shows the session live instead of one silent task.
      - The lines come from the controller's event log; a controller without one gets the
        changes seen between two reads of the session.
      - With V(false) the module follows the session silently in one call.
    type: bool
    default: true
extends_documentation_fragment:
  - fenix.maintenance.controller
  - fenix.maintenance.attributes
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options
      can be executed on the controller.
    support: full
    details:
      - The action plug-in follows the session (with O(wait=true) and O(display_progress=true))
        through M(fenix.maintenance.maintenance_info) calls on the task's host, and prints each
        step on the machine that runs the play.
  check_mode:
    support: full
    details:
      - In check mode nothing is created or deleted, and nothing is waited for.
      - A session that would be created is planned instead, and its plan returned in RV(plan).
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - With O(name) or O(session_id) a second run finds the session and changes nothing while it
        is unfinished. Without them every run creates a new session.
seealso:
  - module: fenix.maintenance.maintenance_info
"""

EXAMPLES = r"""
- name: Upgrade the compute hosts, one at a time, and wait for the end
  fenix.maintenance.maintenance_session:
    url: http://fenix.example.com:12347
    name: queens-upgrade
    hosts: "{{ groups['compute'] }}"
    workflow: default
    metadata:
      openstack_release: Queens
    actions:
      - plugin: dummy
        type: host
    wait: true
    wait_timeout: 7200
  register: upgrade

- name: Show the plan of the upgrade before anything moves (check mode plans, creates nothing)
  fenix.maintenance.maintenance_session:
    url: http://fenix.example.com:12347
    name: queens-upgrade
    hosts: "{{ groups['compute'] }}"
    workflow: vnf
    plan_durations:
      maintain: 900
      live_migrate: 20
  check_mode: true
  register: upgrade_plan

- name: Print the waves and the estimate for the approver
  ansible.builtin.debug:
    msg: >-
      {{ upgrade_plan.plan.waves | length }} waves, about
      {{ (upgrade_plan.plan.estimate / 60) | round(1) }} min
      (no less than {{ (upgrade_plan.plan.lower_bound.seconds / 60) | round(1) }} min)

- name: Show how the session went
  ansible.builtin.debug:
    var: upgrade.progress

- name: Schedule a session for tonight without waiting
  fenix.maintenance.maintenance_session:
    url: http://fenix.example.com:12347
    name: nightly
    hosts: [compute-1, compute-2]
    maintenance_at: "2030-01-01 02:00:00"

- name: Upgrade on weekend nights only, carrying on from one night to the next
  fenix.maintenance.maintenance_session:
    url: http://fenix.example.com:12347
    name: weekend-upgrade
    weekly_windows:
      - days: [sat, sun]
        start: "22:00"
        end: "04:00"

- name: Upgrade only while no critical alert fires, before and after each host
  fenix.maintenance.maintenance_session:
    url: http://fenix.example.com:12347
    name: gated-upgrade
    gates:
      - name: critical-alerts
        url: http://prometheus.example.com:9090
        query: ALERTS{alertstate="firing",severity="critical"}
    gate_timeout: 900
    actions:
      - plugin: service_check
        type: gate

- name: Hold the nightly session while the dashboards are looked at
  fenix.maintenance.maintenance_session:
    url: http://fenix.example.com:12347
    name: nightly
    state: paused
    pause_reason: storage alarms on rack 4

- name: Let it go on
  fenix.maintenance.maintenance_session:
    url: http://fenix.example.com:12347
    name: nightly
    state: resumed

- name: End the nightly session
  fenix.maintenance.maintenance_session:
    url: http://fenix.example.com:12347
    name: nightly
    state: absent
"""

RETURN = r"""
session_id:
  description: The id of the session created, found or followed.
  returned: when O(state=present), O(state=paused) or O(state=resumed), except in check mode
    when it would be created
  type: str
  sample: 695030ee-1c4d-11e8-a9b0-0242ac110002
session:
  description:
    - The session's detail as the controller gives it (C(GET /v1/maintenance/{id}/detail)),
      with its state, percent_done, error, hosts, projects, instances, action plug-ins and
      their runs.
  returned: when O(state=present), O(state=paused) or O(state=resumed), except in check mode
    when it would be created
  type: dict
  sample:
    session_id: 695030ee-1c4d-11e8-a9b0-0242ac110002
    state: MAINTENANCE_DONE
    percent_done: 100
    error: null
    workflow: default
    hosts:
      - name: compute-1
        state: MAINTENANCE_COMPLETE
created:
  description: Whether this run created the session.
  returned: when O(state=present)
  type: bool
  sample: true
progress:
  description:
    - The session's state changes with their times (UTC, ISO 8601), oldest first.
    - Read from the controller's event log where it has one, else as observed while polling.
  returned: when O(wait=true)
  type: list
  elements: dict
  sample:
    - state: MAINTENANCE
      previous: null
      at: "2026-01-05T10:00:00+00:00"
    - state: PREPARE_MAINTENANCE
      previous: MAINTENANCE
      at: "2026-01-05T10:00:01+00:00"
plan:
  description:
    - The controller's plan of the session that would be created (C(POST /v1/maintenance/plan))
      with C(hosts) in order with their C(wave), C(step) and times (seconds from the start),
      C(waves), C(moves) (each instance's C(action), C(source), C(target) and C(how)),
      C(lower_bound), C(estimate), the C(durations) it assumed, C(blocked) (why it cannot go to
      the end, or null) and its C(assumptions).
    - Times and the estimate are an estimate on the assumed durations, not a promise.
  returned: in check mode, when a session would be created and the controller can plan it
  type: dict
  sample:
    workflow: vnf
    session_hosts: [compute-1, compute-2]
    planner: parallel
    waves: [[compute-1], [compute-2]]
    estimate: 1260.0
    lower_bound:
      seconds: 1230.0
deleted:
  description: Ids of the sessions deleted.
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [695030ee-1c4d-11e8-a9b0-0242ac110002]
"""

import datetime
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fenix.maintenance.plugins.module_utils._contract import (
    MAINTENANCE_FAILED,
    is_final,
)
from ansible_collections.fenix.maintenance.plugins.module_utils._controller_client import (
    CONTROLLER_ARGSPEC,
    ControllerError,
    controller_from_module,
    deadline_after,
    seconds_left,
)
from ansible_collections.fenix.maintenance.plugins.module_utils._progress import (
    UNSUPPORTED_LOG_STATUSES,
    deleted_message,
    failed_message,
    progress_entry,
    unfinished_message,
)

NAME_KEY = "fenix_name"


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()  # noqa: UP017 (py3.8 targets)


def sessions_named(client, name):
    """The details of every listed session whose metadata carries this name."""
    found = []
    for session_id in client.list_session_ids():
        try:
            detail = client.get_session_detail(session_id)
        except ControllerError as exc:
            if exc.not_found:  # deleted since it was listed
                continue
            raise
        if (detail.get("metadata") or {}).get(NAME_KEY) == name:
            found.append(detail)
    return found


def unfinished_session_named(module, client):
    """The unfinished session of O(name), or None; fails if it differs from what is asked."""
    params = module.params
    running = [d for d in sessions_named(client, params["name"]) if not is_final(d["state"])]
    if not running:
        return None
    detail = running[0]
    hosts = sorted(host["name"] for host in detail.get("hosts", []))
    asked = sorted(params["hosts"])
    if (asked and asked != hosts) or detail.get("workflow") != params["workflow"]:
        module.fail_json(
            msg=f"session {detail['session_id']} named {params['name']!r} is still running with "
            f"workflow {detail.get('workflow')} over hosts {', '.join(hosts)}, not workflow "
            f"{params['workflow']} over hosts {', '.join(asked) or '(all compute hosts)'}; wait "
            "for it to end, delete it with state=absent, or use another name",
            session_id=detail["session_id"],
            session=detail,
        )
    return detail


def create_body(params):
    metadata = dict(params["metadata"] or {})
    if params["name"]:
        metadata[NAME_KEY] = params["name"]
    body = dict(
        hosts=params["hosts"],
        state="MAINTENANCE",
        workflow=params["workflow"],
        metadata=metadata,
        actions=[
            dict(plugin=a["plugin"], type=a["type"], metadata=a.get("metadata") or {})
            for a in params["actions"]
        ],
        download=params["download"],
    )
    if params["gates"]:
        body["gates"] = [
            {key: value for key, value in gate.items() if value is not None}
            for gate in params["gates"]
        ]
    if params["gates"] or any(a["type"] == "gate" for a in params["actions"]):
        body["gate_timeout"] = params["gate_timeout"]
        body["gate_interval"] = params["gate_interval"]
    if params["windows"]:
        body["windows"] = [dict(start=w["start"], end=w["end"]) for w in params["windows"]]
    if params["weekly_windows"]:
        body["weekly_windows"] = [
            dict(days=w["days"], start=w["start"], end=w["end"]) for w in params["weekly_windows"]
        ]
    if params["maintenance_at"]:
        body["maintenance_at"] = params["maintenance_at"]
    if params.get("max_hosts_per_zone") is not None:
        body["max_hosts_per_zone"] = params["max_hosts_per_zone"]
    return body


def plan_of(module, client):
    """The controller's plan of the session that would be created; None from a controller that
    cannot plan (OpenStack Fenix, or an older one: its API document has no such path), with a
    warning."""
    if not client.can_plan():
        module.warn("the controller cannot plan a session (no POST /v1/maintenance/plan)")
        return None
    body = create_body(module.params)
    if module.params["plan_durations"]:
        body["durations"] = module.params["plan_durations"]
    return client.plan_session(body)


class Follower:
    """Reads a session until it ends, keeping its state changes with their times."""

    def __init__(self, client, session_id, first_detail=None):
        self.client = client
        self.session_id = session_id
        self.progress = []
        self._last_event = 0
        self._use_events = True
        self._first_detail = first_detail
        self._detail = first_detail
        self._etag = None

    def poll(self):
        # The first read may be one the caller already made, so no state seen goes unrecorded.
        detail, self._first_detail = self._first_detail, None
        if detail is None:
            # With the last answer's ETag: while nothing changed the controller answers 304
            # (from a counter, without building the detail) and the last detail stands.
            fresh, self._etag = self.client.get_session_detail_if_changed(
                self.session_id, self._etag
            )
            detail = self._detail = fresh if fresh is not None else self._detail
        if self._use_events:
            try:
                self._read_events()
            except ControllerError as exc:
                if exc.status not in UNSUPPORTED_LOG_STATUSES:
                    raise
                # A controller without the event log: record what polling sees instead.
                self._use_events = False
                self.progress = []
        if not self._use_events:
            last = self.progress[-1]["state"] if self.progress else None
            if detail["state"] != last:
                self.progress.append(
                    dict(
                        state=detail["state"],
                        previous=last,
                        at=utc_now(),
                        percent_done=detail.get("percent_done"),
                    )
                )
        return detail

    def _read_events(self):
        for event in self.client.session_events(self.session_id, after=self._last_event):
            self._last_event = max(self._last_event, event.get("id") or 0)
            entry = progress_entry(event)
            if entry:
                self.progress.append(entry)

    def follow(self, timeout, interval):
        deadline = deadline_after(timeout)
        while True:
            detail = self.poll()
            if is_final(detail["state"]) or seconds_left(deadline) <= 0:
                return detail
            time.sleep(min(interval, seconds_left(deadline)))


def follow(module, client, detail, result):
    params = module.params
    session_id = detail["session_id"]
    follower = Follower(client, session_id, first_detail=detail)
    try:
        detail = follower.follow(params["wait_timeout"], params["poll_interval"])
    except ControllerError as exc:
        if exc.not_found:
            module.fail_json(msg=deleted_message(session_id), progress=follower.progress, **result)
        raise
    result.update(session=detail, progress=follower.progress)
    if detail["state"] == MAINTENANCE_FAILED:
        module.fail_json(msg=failed_message(session_id, detail), **result)
    if not is_final(detail["state"]):
        module.fail_json(
            msg=unfinished_message(session_id, detail, params["wait_timeout"]), **result
        )


def ensure_present(module, client):
    params = module.params
    result = dict(changed=False, created=False)
    if params["session_id"]:
        try:
            detail = client.get_session_detail(params["session_id"])
        except ControllerError as exc:
            if exc.not_found:
                module.fail_json(
                    msg=f"the controller has no session {params['session_id']} (it may have "
                    "been deleted); start one without session_id"
                )
            raise
    else:
        detail = unfinished_session_named(module, client) if params["name"] else None
    if detail is None:
        result.update(changed=True, created=True)
        if module.check_mode:
            plan = plan_of(module, client)
            if plan is not None:
                result["plan"] = plan
            return result
        session_id = client.create_session(create_body(params))
        detail = client.get_session_detail(session_id)
    result.update(session_id=detail["session_id"], session=detail)
    if params["wait"] and not module.check_mode:
        follow(module, client, detail, result)
    return result


def ensure_absent(module, client):
    params = module.params
    if params["session_id"]:
        ids = [params["session_id"]]
    else:
        ids = [d["session_id"] for d in sessions_named(client, params["name"])]
    deleted = []
    for session_id in ids:
        try:
            if module.check_mode:
                client.get_session(session_id)
            else:
                client.delete_session(session_id)
        except ControllerError as exc:
            if exc.not_found:
                continue
            raise
        deleted.append(session_id)
    return dict(changed=bool(deleted), deleted=deleted)


def session_to_hold(module, client):
    """The session of O(session_id), or the unfinished one of O(name); fails when none."""
    params = module.params
    if params["session_id"]:
        try:
            return client.get_session_detail(params["session_id"])
        except ControllerError as exc:
            if exc.not_found:
                module.fail_json(msg=f"the controller has no session {params['session_id']}")
            raise
    running = [d for d in sessions_named(client, params["name"]) if not is_final(d["state"])]
    if not running:
        module.fail_json(msg=f"no unfinished session is named {params['name']!r}")
    return running[0]


def ensure_paused(module, client, paused):
    """Pause (or resume) the session unless it is so already."""
    detail = session_to_hold(module, client)
    result = dict(changed=False, session_id=detail["session_id"], session=detail)
    if bool(detail.get("paused")) == paused:
        return result
    result["changed"] = True
    if module.check_mode:
        return result
    body = dict(action="pause" if paused else "resume")
    if paused and module.params["pause_reason"]:
        body["reason"] = module.params["pause_reason"]
    client.update_session(detail["session_id"], body)
    result["session"] = client.get_session_detail(detail["session_id"])
    return result


def main():
    argument_spec = dict(
        state=dict(
            type="str", default="present", choices=["present", "absent", "paused", "resumed"]
        ),
        pause_reason=dict(type="str"),
        name=dict(type="str"),
        session_id=dict(type="str"),
        hosts=dict(type="list", elements="str", default=[]),
        workflow=dict(type="str", default="default"),
        maintenance_at=dict(type="str"),
        metadata=dict(type="dict", default={}),
        actions=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                plugin=dict(type="str", required=True),
                type=dict(type="str", required=True),
                metadata=dict(type="dict", default={}),
            ),
        ),
        download=dict(type="list", elements="str", default=[]),
        gates=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                name=dict(type="str", required=True),
                url=dict(type="str", required=True),
                query=dict(type="str", required=True),
                healthy=dict(type="str", default="empty", choices=["empty", "below", "above"]),
                threshold=dict(type="float"),
                stages=dict(
                    type="list",
                    elements="str",
                    default=["before", "after"],
                    choices=["before", "after"],
                ),
            ),
        ),
        gate_timeout=dict(type="int", default=600),
        gate_interval=dict(type="int", default=10),
        windows=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                start=dict(type="str", required=True),
                end=dict(type="str", required=True),
            ),
        ),
        weekly_windows=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                days=dict(type="list", elements="str", required=True),
                start=dict(type="str", required=True),
                end=dict(type="str", required=True),
            ),
        ),
        max_hosts_per_zone=dict(type="int"),
        plan_durations=dict(type="dict"),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=2.0),
        # Read by the action plug-in, which follows the session itself to print its progress.
        display_progress=dict(type="bool", default=True),
    )
    argument_spec.update(CONTROLLER_ARGSPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[
            ("state", "absent", ("name", "session_id"), True),
            ("state", "paused", ("name", "session_id"), True),
            ("state", "resumed", ("name", "session_id"), True),
        ],
    )
    client = controller_from_module(module)
    try:
        state = module.params["state"]
        if state == "present":
            result = ensure_present(module, client)
        elif state == "absent":
            result = ensure_absent(module, client)
        else:
            result = ensure_paused(module, client, paused=state == "paused")
    except ControllerError as exc:
        module.fail_json(msg=exc.message, error=exc.to_dict())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
