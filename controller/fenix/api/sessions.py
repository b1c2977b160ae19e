"""The admin API: plan, create, inspect, change and end maintenance sessions.

A session is written in one transaction with its hosts, its first event and its first
notification, so a rejected request leaves nothing behind. The API never runs the workflow
itself: it records what the admin asked for and wakes the engine. Every endpoint here is the
admin's: a project member's token gets a 403 before any session is looked up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from fenix.actions.download import check_scheme, split_download_url
from fenix.actions.plugins import COLLECTION_PREFIX, is_plugin_name, missing_plugins
from fenix.api import json_body, runtime
from fenix.api.auth import require_admin
from fenix.api.conditional import etag
from fenix.api.errors import bad_gateway, bad_request, conflict, not_found
from fenix.api.read_load import Freshness
from fenix.api.reads import MAX_ROW_INDEX, detail_query, events_query
from fenix.api.schemas import ACTION_TYPES, CreateSession, PlanSession, UpdateSession, some_of
from fenix.api.shared_reads import (
    SESSION_LIST,
    Read,
    Recent,
    conditional_read,
    count_the_read,
    event_tails,
    in_a_read,
    init_reads,
    note_an_admins_change,
)
from fenix.api.views import event_view, session_detail, session_summary
from fenix.db.models import Session
from fenix.db.repository import Repository
from fenix.drivers.base import DriverError, HostInfo, HostKind
from fenix.engine.pause import PauseRefused, request_pause, resume
from fenix.engine.transitions import transition
from fenix.gates.prometheus import GateError
from fenix.gates.prometheus import check_url as check_gate_url
from fenix.notify import notifier
from fenix.notify.callbacks import CallbackPolicy
from fenix.states import SessionState
from fenix.timeutil import to_iso, utcnow
from fenix.windows import Schedule, schedule_from, to_stored
from fenix.workflows.preview import NoPreview, assumed_durations, preview_session

blueprint = Blueprint("sessions", __name__, url_prefix="/v1/maintenance")


@blueprint.before_request
def _admin_only() -> None:
    require_admin()


_CREATE_LOCK = "fenix.api.sessions.create_lock"

MAX_EVENT_ID = MAX_ROW_INDEX
"""Event ids are INTEGER: 32 bits on PostgreSQL, which refuses to compare with a larger one."""


@blueprint.record_once
def _add_create_lock(state: BlueprintSetupState) -> None:
    # Checking that hosts are free and claiming them must not interleave between two requests
    # of this process (SQLite would fail the second writer instead of making it wait).
    state.app.extensions[_CREATE_LOCK] = threading.Lock()
    init_reads(state.app)


blueprint.before_request(count_the_read)
blueprint.after_request(note_an_admins_change)


def _session_or_404(repo: Repository, session_id: str) -> Session:
    session = repo.get_session(session_id)
    if session is None:
        raise not_found(f"no maintenance session {session_id}")
    return session


def _resolve_hosts(requested: list[str]) -> list[HostInfo]:
    """The cloud's hosts for the names asked for; every compute host when none are."""
    try:
        cloud_hosts = runtime().driver.list_hosts()
    except DriverError as exc:
        raise bad_gateway(f"could not list the cloud's hosts: {exc}") from exc
    if not requested:
        computes = [host for host in cloud_hosts if host.kind == HostKind.COMPUTE]
        if not computes:
            raise conflict("the cloud has no compute host to maintain; name the hosts in `hosts`")
        return computes
    by_name = {host.name: host for host in cloud_hosts}
    unknown = [name for name in requested if name not in by_name]
    if unknown:
        raise not_found(
            f"the cloud has no host {some_of(unknown)}; "
            f"its hosts are: {some_of(sorted(by_name), 20) or 'none'}"
        )
    return [by_name[name] for name in requested]


def _busy_message(repo: Repository, busy: dict[str, str]) -> str:
    held = []
    for name, session_id in sorted(busy.items()):
        other = repo.get_session(session_id, with_deleted=True)
        note = " (deleted, stopping)" if other is not None and other.deleted else ""
        held.append(f"host {name} is in session {session_id}{note}")
    return "; ".join(held) + "; wait for that session to end or leave those hosts out"


def _actions_or_defaults(body: CreateSession) -> list[tuple[str, str, dict[str, Any]]]:
    """The session's action plug-ins, or the ones configured for its workflow."""
    if body.actions:
        return [(action.plugin, action.type, action.metadata) for action in body.actions]
    defaults = runtime().settings.default_actions.get(body.workflow, [])
    return [(a["plugin"], a["type"], dict(a.get("metadata") or {})) for a in defaults]


def _check_downloads(urls: list[str]) -> None:
    """A 400 for a URL the settings do not allow: plain http, or no SHA-256 to check."""
    settings = runtime().settings
    for position, url in enumerate(urls):
        try:
            check_scheme(url, settings.allow_http_downloads)
            split_download_url(url, allow_unverified=settings.allow_unverified_downloads)
        except ValueError as exc:
            raise bad_request(f"download.{position}: {exc}") from None


def _check_plugins(actions: list[tuple[str, str, dict[str, Any]]], downloads: list[str]) -> None:
    """A 400 naming each plug-in that cannot run, before the session touches anything.

    A plug-in not found here may come with the session's `download`: those are checked again
    once downloaded, before the workflow's first step.
    """
    problems = []
    for position, (plugin, type_, _meta) in enumerate(actions):
        where = f"actions.{position}"
        if type_ not in ACTION_TYPES:
            problems.append(f"{where}.type: {type_!r} is not one of {', '.join(ACTION_TYPES)}")
        if not is_plugin_name(plugin):
            problems.append(
                f"{where}.plugin: {plugin!r} is not a plug-in name (letters, digits, . _ -)"
            )
            continue
        local_only = plugin.startswith(COLLECTION_PREFIX) or not downloads
        missing = missing_plugins([plugin], map(Path, runtime().settings.action_dirs))
        if missing and local_only:
            problems.append(
                f"{where}.plugin: {missing[plugin]}; add it to FENIX_ACTION_DIRS or name a "
                "`download` that ships it"
            )
    if problems:
        raise bad_request("; ".join(problems))


def _checked_schedule(schedule: Schedule) -> Schedule:
    """A 400 for a dated window already over: a session would wait for it for ever."""
    now = utcnow()
    past = [
        f"windows.{n}: ends at {to_iso(end)}, already past (now {to_iso(now)})"
        for n, (_start, end) in enumerate(schedule.dated)
        if end <= now
    ]
    if past:
        raise bad_request("; ".join(past))
    return schedule


def _checked_gates(
    body: CreateSession, actions: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, Any] | None:
    """The session's gates as stored, after a 400 for a gate URL the controller may not query
    (a link-local, loopback or private address not in FENIX_GATE_ALLOW_NETWORKS)."""
    has_playbooks = any(type_ == "gate" for _plugin, type_, _meta in actions)
    if not body.gates and not has_playbooks:
        return None
    policy = CallbackPolicy(runtime().settings.gate_allow_networks)
    problems = []
    for position, gate in enumerate(body.gates):
        try:
            check_gate_url(gate.url, policy)
        except GateError as exc:
            problems.append(f"gates.{position}.url: {exc}")
    if problems:
        raise bad_request("; ".join(problems))
    return {
        "prometheus": [gate.model_dump() for gate in body.gates],
        "timeout": body.gate_timeout,
        "interval": body.gate_interval,
    }


def _admin_name() -> str:
    """Who is acting, for the record: the Keystone user where Keystone says so, else the
    role (static tokens name no person)."""
    settings = runtime().settings
    if settings.auth_strategy == "keystone":
        name = request.headers.get("X-User-Name") or request.headers.get("X-User-Id")
        if name:
            return name[:255]
    return "admin"


def _checked(body: CreateSession) -> tuple[list[tuple[str, str, dict[str, Any]]], list[HostInfo]]:
    """The session's action plug-ins and hosts, or the 400, 404 or 502 that creating it gives."""
    max_hosts = runtime().settings.max_hosts
    if len(body.hosts) > max_hosts:
        raise bad_request(
            f"hosts: {len(body.hosts)} names; a session takes at most {max_hosts} "
            "(FENIX_MAX_HOSTS): split the maintenance into several sessions"
        )
    _check_downloads(body.download)
    actions = _actions_or_defaults(body)
    _check_plugins(actions, body.download)
    return actions, _resolve_hosts(body.hosts)


@blueprint.post("")
def create_session() -> dict[str, Any]:
    body = json_body(CreateSession)
    actions, hosts = _checked(body)
    schedule = _checked_schedule(body.schedule())
    gates = _checked_gates(body, actions)
    maintenance_at = body.maintenance_at
    with current_app.extensions[_CREATE_LOCK], runtime().db.transaction() as repo:
        busy = repo.busy_hosts(host.name for host in hosts)
        if busy:
            raise conflict(_busy_message(repo, busy))
        session = repo.add_session(
            workflow=body.workflow,
            maintenance_at=maintenance_at if maintenance_at is not None else utcnow(),
            meta=body.metadata,
            download=body.download,
            hosts=[(host.name, str(host.kind)) for host in hosts],
            actions=actions,
            windows=to_stored(schedule),
            max_hosts_per_zone=body.max_hosts_per_zone,
            zones={host.name: host.zone for host in hosts},
        )
        session.gates = gates
        notifier.session_changed(repo, session)
        session_id = session.id
    runtime().wake(session_id)
    return {"session_id": session_id}


@blueprint.post("/plan")
def plan_session() -> dict[str, Any]:
    """What a session of this body would do, without creating it: the same checks and errors
    as creating it, then only reads (fenix.workflows.preview); nothing is written or told."""
    body = json_body(PlanSession)
    _actions, hosts = _checked(body)
    with runtime().db.transaction() as repo:
        busy = repo.busy_hosts(host.name for host in hosts)
        if busy:
            raise conflict(_busy_message(repo, busy))
    names = [host.name for host in hosts]
    settings = runtime().settings
    try:
        plan = preview_session(
            runtime().driver,
            runtime().db,
            settings,
            hosts=names,
            workflow=body.workflow,
            durations=assumed_durations(settings, body.durations),
            max_hosts_per_zone=body.max_hosts_per_zone,
        )
    except NoPreview as exc:
        raise conflict(str(exc)) from None
    except DriverError as exc:
        raise bad_gateway(f"could not read the cloud: {exc}") from exc
    return {
        "workflow": body.workflow,
        "maintenance_at": to_iso(body.maintenance_at or utcnow()),
        "session_hosts": names,
        **plan.as_dict(),
    }


@blueprint.get("")
def list_sessions() -> ResponseReturnValue:
    read: list[list[str]] = []

    def ids_tag(repo: Repository) -> str:
        # The list is only ids, one indexed column: its tag is taken from them.
        read.append(list(repo.list_session_ids()))
        return etag("sessions", read[-1])

    def body(_repo: Repository) -> dict[str, Any]:
        # Fenix's code answered `sessions`, its documentation `session_id`: clients use either.
        return {"sessions": read[-1], "session_id": read[-1]}

    return conditional_read(Read(("sessions",), SESSION_LIST, ids_tag, body))


def _session_read(
    session_id: str,
    what: str,
    shape: tuple[object, ...],
    build: Callable[[Repository], Any],
    recent: Callable[[Freshness], Recent | None] | None = None,
) -> ResponseReturnValue:
    """One of a session's reads, tagged by its change counter."""

    def tag_of(repo: Repository) -> str:
        seq = repo.change_seq(session_id, with_deleted=what == "events")
        if seq is None:
            raise not_found(f"no maintenance session {session_id}")
        return _session_tag(what, session_id, seq, shape)

    kind = (what, session_id, shape)
    return conditional_read(Read(kind, session_id, tag_of, build, recent))


def _session_tag(what: str, session_id: str, seq: int, shape: tuple[object, ...]) -> str:
    return etag(what, session_id, seq, *shape)


@blueprint.get("/<session_id>")
def get_session(session_id: str) -> ResponseReturnValue:
    return _session_read(
        session_id, "summary", (), lambda repo: session_summary(_session_or_404(repo, session_id))
    )


@blueprint.get("/<session_id>/detail")
def get_session_detail(session_id: str) -> ResponseReturnValue:
    query = detail_query(request.args)
    return _session_read(
        session_id,
        "detail",
        query.key(),
        lambda repo: session_detail(repo, _session_or_404(repo, session_id), query),
    )


@blueprint.get("/<session_id>/events")
def list_events(session_id: str) -> ResponseReturnValue:
    """The session's event log (an extension), a page at a time. Kept readable after the
    session is deleted."""
    query = events_query(request.args)
    shape = (query.since, query.limit)

    def page(repo: Repository) -> dict[str, Any]:
        # One more than asked for tells whether more are left.
        events = repo.events(session_id, query.since, query.limit + 1)
        views = [event_view(event) for event in events[: query.limit]]
        next_since = views[-1]["id"] if views else query.since
        return {"events": views, "more": len(events) > query.limit, "next": next_since}

    def from_the_tail(window: Freshness) -> Recent | None:
        tail = event_tails().tail(
            session_id, query.since, window.not_before, window.refresh_before, in_a_read, event_view
        )
        if tail is None:
            return None
        tag = _session_tag("events", session_id, tail.seq, shape)
        return Recent(tag, tail.as_of, lambda: tail.page(query.since, query.limit))

    return _session_read(session_id, "events", shape, page, from_the_tail)


@blueprint.put("/<session_id>")
def update_session(session_id: str) -> dict[str, Any]:
    body = json_body(UpdateSession)
    with runtime().db.transaction() as repo:
        session = repo.lock_session(session_id)
        if session is None or session.deleted:
            raise not_found(f"no maintenance session {session_id}")
        changed: dict[str, Any] = {}
        if body.maintenance_at is not None:
            session.maintenance_at = body.maintenance_at
            changed["maintenance_at"] = body.maintenance_at.isoformat()
        if body.metadata is not None:
            session.meta = body.metadata
            changed["metadata"] = body.metadata
        if body.changes_windows:
            schedule = _checked_schedule(body.schedule(schedule_from(session.windows)))
            session.windows = to_stored(schedule)
            changed["windows"] = session.windows
        if changed:
            repo.add_event(session.id, "session.updated", session.id, data=changed)
        if body.state is not None:
            _resume(repo, session, body.state)
        if body.action is not None:
            _pause_or_resume(repo, session, body.action, body.reason)
    runtime().wake(session_id)
    # Rendered after the commit, so updated_at is the stored one.
    return session_summary(session)


def _pause_or_resume(repo: Repository, session: Session, action: str, reason: str | None) -> None:
    """Hold a running session at its next safe point, or let it go on: 409 when there is
    nothing to do (already paused, not paused, ended)."""
    try:
        if action == "pause":
            if not request_pause(repo, session, reason, _admin_name()):
                raise conflict(
                    f"session {session.id} is paused already, since "
                    f"{to_iso(session.paused_at)} by {session.paused_by}"
                )
        elif not resume(repo, session, _admin_name()):
            raise conflict(f"session {session.id} is not paused")
    except PauseRefused as exc:
        raise conflict(str(exc)) from None


def _resume(repo: Repository, session: Session, state: SessionState) -> None:
    """Set a failed session going again from `state` (usually where it failed)."""
    where = f"; it failed in {session.failed_in}" if session.failed_in else ""
    if session.state != SessionState.MAINTENANCE_FAILED:
        raise conflict(
            f"session {session.id} is in {session.state}; a new state can be set only to "
            f"resume a {SessionState.MAINTENANCE_FAILED} session"
        )
    if state.is_final:
        resumable = ", ".join(s for s in SessionState if not s.is_final)
        raise bad_request(f"state: {state} is final; resume into one of {resumable}{where}")
    # While it was failed its hosts were free: another session may have taken them since.
    busy = repo.busy_hosts(host.name for host in session.hosts)
    if busy:
        raise conflict(f"cannot resume session {session.id}: " + _busy_message(repo, busy))
    transition(repo, session, state, reason="resumed by admin")


@blueprint.delete("/<session_id>")
def delete_session(session_id: str) -> dict[str, Any]:
    """End the session: the engine stops its workflow at a safe point and ends it."""
    with runtime().db.transaction() as repo:
        session = repo.lock_session(session_id)
        if session is None or session.deleted:
            raise not_found(f"no maintenance session {session_id}")
        session.deleted = True
        session.stop_requested = True
        repo.add_event(session.id, "session.deleted", session.id, old=session.state)
        answer = {"session_id": session.id, "state": session.state}
    runtime().wake(session_id)
    return answer
