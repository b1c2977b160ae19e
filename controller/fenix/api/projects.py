"""The project API: a manager reads which of its instances a step affects and answers it.

A reply is taken only while the engine waits for exactly that answer from that project; any
other is refused with a 409 that says what the session does wait for (or what was accepted
instead), and the refusal is logged as an event, so a confused manager can be diagnosed from the
session's event log. The same reply sent again gets the same 200 and changes nothing: Tacker's
plug-in sends each reply twice within milliseconds. The session row is locked before it is
read (Repository.lock_session), so of replies sent at once exactly one is the first.

A reply to a step that asks nothing (`ACK_INSTANCE_ACTION_DONE`: Tacker acknowledges every
notice) is accepted, as Fenix did, when the project was told that step: it changes nothing and
is recorded once.

The vnf workflow asks about one instance at a time, and about several of a project's instances
at once (SessionAsk rows): such a reply is matched to its ask by instance id, from the notice's
own reply_url (`.../<project>/<instance>`), the ids of `instance_actions` or `instance_ids`, or,
with a lone `instance_action`, the one instance the project is asked about.

`/v1/maintenance/<session>/detail` and `/events` are the admin's: a project named `detail` or
`events` is reached through the older `/v1/project/<project>/maintenance/<session>` form.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint

from fenix.api import raw_json_object, runtime, validate
from fenix.api.auth import require_visible
from fenix.api.errors import bad_request, conflict, not_found
from fenix.api.schemas import ProjectReply
from fenix.db.models import Session, SessionAsk, SessionProject
from fenix.db.repository import Repository
from fenix.notify import notifier
from fenix.states import FINAL_SESSION_STATES, REPLY_STEPS
from fenix.timeutil import to_iso, utcnow

blueprint = Blueprint("projects", __name__)


def _own_project(session_id: str, project_id: str) -> None:
    """A 404 for another project's URL, the same whether or not the session exists."""
    require_visible(project_id, f"no maintenance session {session_id} for project {project_id}")


def _session_and_project(
    repo: Repository, session_id: str, project_id: str
) -> tuple[Session, SessionProject]:
    session = repo.lock_session(session_id)
    if session is None or session.deleted:
        raise not_found(f"no maintenance session {session_id}")
    for project in session.projects:
        if project.project_id == project_id:
            return session, project
    raise not_found(f"project {project_id} takes no part in maintenance session {session_id}")


@blueprint.get("/v1/maintenance/<session_id>/<project_id>")
@blueprint.get("/v1/project/<project_id>/maintenance/<session_id>")
def get_project_instances(session_id: str, project_id: str) -> dict[str, Any]:
    """The project's instances that the session's current step affects."""
    _own_project(session_id, project_id)
    with runtime().db.transaction() as repo:
        session, project = _session_and_project(repo, session_id, project_id)
        # Per-instance asks (vnf workflow) waiting for an answer, else the project's step.
        asks = repo.asks(session.id, open_only=True, project_id=project_id)
        asked = list(dict.fromkeys(a.instance_id for a in asks))
        return {"instance_ids": asked or list(project.instance_ids)}


def _reply_body(session_id: str, project_id: str) -> tuple[dict[str, Any], ProjectReply]:
    """The caller's own project, its reply as sent and validated, naming no other session."""
    _own_project(session_id, project_id)
    data = raw_json_object()
    body = validate(ProjectReply, data)
    if body.session_id is not None and body.session_id != session_id:
        raise bad_request(
            f"session_id: the body names session {body.session_id}, the URL {session_id}"
        )
    return data, body


@blueprint.put("/v1/maintenance/<session_id>/<project_id>")
def reply(session_id: str, project_id: str) -> dict[str, Any]:
    data, body = _reply_body(session_id, project_id)
    news = False
    with runtime().db.transaction() as repo:
        session, project = _session_and_project(repo, session_id, project_id)
        if body.step not in REPLY_STEPS:
            refusal = _note_acknowledgement(repo, session, project_id, body, data)
        elif (refusal := _refusal(session, project, body)) is None:
            actions = _instance_actions(project, body)
            project.reply = body.state
            project.replied_at = utcnow()
            project.instance_actions = actions
            repo.add_event(session_id, "project.reply", project_id, None, body.state, data)
            notifier.drop_questions(repo, session_id, project_id, [project.step_key], "answered")
            news = True
        elif _asked_per_instance(repo, session, project_id, body, open_only=True):
            refusal, news = _answer_asks(repo, session, project_id, body, data)
        elif _repeats_accepted(project, body):
            refusal = None  # the same answer again: already taken, nothing changes
        elif _asked_per_instance(repo, session, project_id, body, open_only=False):
            refusal, news = _answer_asks(repo, session, project_id, body, data)
        else:
            _log_refusal(repo, session_id, project_id, project.step, body, data, refusal)
    if refusal is not None:
        runtime().metrics.reply_rejected()
        raise conflict(refusal)
    if news:
        runtime().wake(session_id)
    return {"session_id": session_id, "project_id": project_id, "state": body.state}


MAX_LOGGED_REJECTED_BODY = 4096
"""Bytes of a refused reply's body kept in the log: enough to see what was sent, and a
manager that repeats a large late reply cannot grow the database by more than this a time."""


def logged_body(data: dict[str, Any]) -> dict[str, Any]:
    """A reply's body as the log keeps it: whole when small, else its first 4 KiB."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    size = len(text.encode())
    if size <= MAX_LOGGED_REJECTED_BODY:
        return {"body": data}
    excerpt = text.encode()[:MAX_LOGGED_REJECTED_BODY].decode(errors="ignore")
    return {"body_excerpt": excerpt, "body_bytes": size}


def rejected_reply(data: dict[str, Any], reason: str) -> dict[str, Any]:
    """The log entry of a refused reply: its body (bounded) and why it was refused."""
    return {**logged_body(data), "reason": reason}


def _log_refusal(
    repo: Repository,
    session_id: str,
    project_id: str,
    step: str | None,
    body: ProjectReply,
    data: dict[str, Any],
    refusal: str,
) -> None:
    """Logged, and committed: the refusal itself is what an operator needs to see."""
    repo.add_event(
        session_id,
        "project.reply.rejected",
        project_id,
        step,
        body.state,
        rejected_reply(data, refusal),
    )


def _note_acknowledgement(
    repo: Repository, session: Session, project_id: str, body: ProjectReply, data: dict[str, Any]
) -> str | None:
    """A reply to a step that asks nothing: taken (and logged once per project and state) when
    the project was told that step in this session; else the refusal, logged."""
    if not repo.has_event(session.id, "notification", project_id, body.step):
        refusal = (
            f"project {project_id} was not told {body.step} in session {session.id}: "
            f"{body.state} answers nothing"
        )
        _log_refusal(repo, session.id, project_id, None, body, data, refusal)
        return refusal
    if not repo.has_event(session.id, "project.reply.noted", project_id, body.state):
        repo.add_event(
            session.id,
            "project.reply.noted",
            project_id,
            body.step,
            body.state,
            {**logged_body(data), "note": f"{body.step} asks for no answer; nothing changes"},
        )
    return None


def _refusal(session: Session, project: SessionProject, body: ProjectReply) -> str | None:
    """Why this reply is not awaited now, or None when it is."""
    waiting = project.reply is None and project.step in REPLY_STEPS and _ended(session) is None
    if waiting and body.step == project.step:
        return None
    refusal = f"project {project.project_id} is not waiting for {body.state}; "
    if waiting:
        return refusal + f"the session waits for ACK_{project.step} or NACK_{project.step}"
    refusal += "the session waits for nothing from it now"
    if _ended(session):
        return refusal + f" (the session is {_ended(session)})"
    if project.reply is not None:
        accepted = f"{project.reply} at {to_iso(project.replied_at)}"
        if project.instance_actions:
            accepted += f" with instance_actions {json.dumps(project.instance_actions)}"
        return refusal + f" (it answered {accepted})"
    return refusal


def _repeats_accepted(project: SessionProject, body: ProjectReply) -> bool:
    """The reply is the one already accepted for the project's step, actions and all."""
    if project.reply != body.state or project.step != body.step:
        return False
    ids = list(project.instance_ids)
    if body.instance_action is not None:
        given = {ids[0]: str(body.instance_action)} if len(ids) == 1 else None
    else:
        given = {i: str(action) for i, action in body.instance_actions.items()}
    return given == dict(project.instance_actions or {})


def _ended(session: Session) -> str | None:
    """How the session has ended or is ending, or None while it runs."""
    if session.state in FINAL_SESSION_STATES:
        return f"over: {session.state}"
    if session.stop_requested:
        return "being stopped"
    return None


def _instance_actions(project: SessionProject, body: ProjectReply) -> dict[str, str]:
    """The reply's actions keyed by instance id, checked against the step's instances."""
    instance_ids = list(project.instance_ids)
    if body.instance_action is not None:
        if len(instance_ids) != 1:
            raise bad_request(
                f"instance_action: this step names {len(instance_ids)} instances, not one; "
                "give instance_actions with an action per instance id"
            )
        return {instance_ids[0]: str(body.instance_action)}
    unknown = sorted(set(body.instance_actions) - set(instance_ids))
    if unknown:
        raise bad_request(
            f"instance_actions: {', '.join(unknown)} not among this step's instances of "
            f"project {project.project_id} ({', '.join(instance_ids) or 'none'})"
        )
    return {instance_id: str(action) for instance_id, action in body.instance_actions.items()}


# -- per-instance asks (the vnf workflow) ----------------------------------------------------
@blueprint.get("/v1/maintenance/<session_id>/<project_id>/<instance_id>")
def get_instance_ask(session_id: str, project_id: str, instance_id: str) -> dict[str, Any]:
    """The instance a per-instance notice is about, as its reply_url gives it."""
    _own_project(session_id, project_id)
    with runtime().db.transaction() as repo:
        session, _project = _session_and_project(repo, session_id, project_id)
        asks = repo.asks(session.id, project_id=project_id)
        if not any(a.instance_id == instance_id for a in asks):
            raise not_found(f"session {session_id} asked {project_id} nothing about {instance_id}")
        return {"instance_ids": [instance_id]}


@blueprint.put("/v1/maintenance/<session_id>/<project_id>/<instance_id>")
def reply_for_instance(session_id: str, project_id: str, instance_id: str) -> dict[str, Any]:
    """The reply_url of a per-instance notice: the answer is about that instance."""
    data, body = _reply_body(session_id, project_id)
    news = False
    with runtime().db.transaction() as repo:
        session, _project = _session_and_project(repo, session_id, project_id)
        if body.step not in REPLY_STEPS:
            refusal = _note_acknowledgement(repo, session, project_id, body, data)
        else:
            refusal, news = _answer_asks(repo, session, project_id, body, data, instance_id)
    if refusal is not None:
        runtime().metrics.reply_rejected()
        raise conflict(refusal)
    if news:
        runtime().wake(session_id)
    return {"session_id": session_id, "project_id": project_id, "state": body.state}


def _asked_per_instance(
    repo: Repository, session: Session, project_id: str, body: ProjectReply, *, open_only: bool
) -> bool:
    asks = repo.asks(session.id, open_only=open_only, project_id=project_id)
    return any(a.step == body.step for a in asks)


def _answer_asks(
    repo: Repository,
    session: Session,
    project_id: str,
    body: ProjectReply,
    data: dict[str, Any],
    instance_id: str | None = None,
) -> tuple[str | None, bool]:
    """Record the reply on the asks it answers: (None, whether it answered any still open),
    or (the refusal, logged, False). An ask already answered with this very reply is taken
    again without change."""
    asks = [a for a in repo.asks(session.id, project_id=project_id) if a.step == body.step]
    open_asks = {a.instance_id: a for a in asks if a.reply is None}
    answered = {a.instance_id: a for a in asks if a.reply is not None}  # the newest of each
    if instance_id is not None:
        extra = sorted(set(body.instance_actions) - {instance_id})
        if extra:
            raise bad_request(
                f"instance_actions: this reply_url is about {instance_id} only, not "
                f"{', '.join(extra)}"
            )
        ids = [instance_id]
    elif body.instance_actions:
        ids = list(body.instance_actions)
    elif body.instance_ids:
        ids = list(body.instance_ids)
    elif len(open_asks) > 1:
        raise bad_request(
            f"{project_id} is asked about {len(open_asks)} instances; name the one this "
            "answers: reply to its notice's reply_url, or give instance_actions or instance_ids"
        )
    else:
        ids = list(open_asks)
    if body.instance_action is not None and len(ids) != 1:
        raise bad_request("instance_action answers for one instance; give instance_actions")
    repeated = {i for i in ids if i not in open_asks and _same_answer(answered.get(i), body, i)}
    missing = [i for i in ids if i not in open_asks and i not in repeated]
    ids = [i for i in ids if i in open_asks]
    if repeated and not missing and not ids:
        return None, False
    refusal = None
    if _ended(session):
        refusal = f"project {project_id} is not waiting for {body.state}: {_ended(session)}"
    elif missing or not ids:
        refusal = (
            f"project {project_id} is not waiting for {body.state} about "
            f"{', '.join(missing) or 'any instance'}"
        )
        accepted = [_accepted(answered[i]) for i in missing if i in answered]
        if accepted:
            refusal += f"; it answered {'; '.join(accepted)}"
    if refusal is not None:
        _log_refusal(repo, session.id, project_id, None, body, data, refusal)
        return refusal, False
    now = utcnow()
    for asked in ids:
        ask = open_asks[asked]
        action = body.instance_action or body.instance_actions.get(asked)
        ask.reply = body.state
        ask.replied_at = now
        ask.instance_action = str(action) if action is not None else None
    repo.add_event(
        session.id,
        "project.reply",
        project_id,
        None,
        body.state,
        {**data, "keys": [open_asks[i].key for i in ids]},
    )
    notifier.drop_questions(
        repo, session.id, project_id, [open_asks[i].key for i in ids], "answered"
    )
    return None, True


def _same_answer(ask: SessionAsk | None, body: ProjectReply, instance_id: str) -> bool:
    if ask is None or ask.reply != body.state:
        return False
    action = body.instance_action or body.instance_actions.get(instance_id)
    return (str(action) if action is not None else None) == ask.instance_action


def _accepted(ask: SessionAsk) -> str:
    action = f" ({ask.instance_action})" if ask.instance_action else ""
    return f"{ask.reply}{action} about {ask.instance_id} at {to_iso(ask.replied_at)}"
