"""The conversation with the projects' managers: tell them a step, wait for their answers.

Each project row remembers which step (and which occurrence of it, the `key`) it was told of,
so a resumed workflow waits for answers already asked for instead of asking again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fenix.db.models import Session, SessionProject
from fenix.db.repository import Repository
from fenix.engine.context import Cancelled, SessionContext
from fenix.notify import notifier
from fenix.states import NO_MANAGER, NO_REPLY, EventType, InstanceAction, ProjectStep
from fenix.timeutil import to_iso, utcnow

LOG = logging.getLogger(__name__)

DEFAULT_ALLOWED_ACTIONS = [
    InstanceAction.MIGRATE,
    InstanceAction.LIVE_MIGRATE,
    InstanceAction.OWN_ACTION,
]


@dataclass(frozen=True)
class Reply:
    project_id: str
    outcome: str
    """ACK_<step>, NACK_<step>, NO_MANAGER (default behaviour) or NO_REPLY (window passed)."""
    instance_actions: dict[str, str] = field(default_factory=dict)

    @property
    def nacked(self) -> bool:
        return self.outcome.startswith("NACK_")

    @property
    def answered(self) -> bool:
        return self.outcome.startswith(("ACK_", "NACK_"))


class Conversation:
    def __init__(self, ctx: SessionContext, allowed_actions: list[InstanceAction] | None = None):
        self.ctx = ctx
        self.allowed_actions = [str(a) for a in (allowed_actions or DEFAULT_ALLOWED_ACTIONS)]

    def window(self, step: ProjectStep) -> float:
        settings = self.ctx.settings
        if step in (ProjectStep.SCALE_IN, ProjectStep.MAINTENANCE_COMPLETE):
            return settings.long_reply_window
        return settings.reply_window

    def ask(self, step: ProjectStep, key: str, affected: dict[str, list[str]]) -> dict[str, Reply]:
        """Tell each project `step` about its `affected` instances and wait for every answer."""
        if not affected:
            return {}
        self._send_once(step, key, affected)
        return self._wait(step, key, list(affected))

    def inform(
        self, step: ProjectStep, projects: dict[str, list[str]], *, ids_inline: bool = False
    ) -> None:
        """A step that needs no answer (ADMIN_ACTION_DONE, MAINTENANCE_DONE, ...)."""
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            for project_id, instance_ids in projects.items():
                payload = self._payload(session, step, project_id, instance_ids, None, ids_inline)
                notifier.emit(
                    repo,
                    EventType.PLANNED,
                    payload,
                    session_id=session.id,
                    project_id=project_id,
                )

    def actions_done(self, repo: Repository, done: list[tuple[str, str]]) -> None:
        """INSTANCE_ACTION_DONE to each (project, instance) whose move the engine carried out,
        in the caller's transaction (the one that records the move as done); `instance_ids` is
        the one id in a list, as Fenix's code sent it."""
        if not done:
            return
        session = repo.get_session(self.ctx.session_id, with_deleted=True)
        for project_id, instance_id in done:
            payload = self._payload(
                session, ProjectStep.INSTANCE_ACTION_DONE, project_id, [instance_id], None, True
            )
            notifier.emit(
                repo, EventType.PLANNED, payload, session_id=session.id, project_id=project_id
            )

    # -- internals -----------------------------------------------------------------------
    def _send_once(self, step: ProjectStep, key: str, affected: dict[str, list[str]]) -> None:
        now = utcnow()
        reply_at = now + timedelta(seconds=self.window(step))
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            for project_id, instance_ids in sorted(affected.items()):
                project = repo.project(session, project_id)
                if project.step == step and project.step_key == key:
                    continue  # asked before a restart: wait for that answer
                self._reset(repo, project, step, key, instance_ids, now, reply_at)
                if project.has_manager:
                    payload = self._payload(session, step, project_id, instance_ids, reply_at)
                    notifier.emit(
                        repo,
                        EventType.PLANNED,
                        payload,
                        session_id=session.id,
                        project_id=project_id,
                        question=key,
                        expires_at=reply_at,
                    )
                else:
                    project.reply = NO_MANAGER
                    repo.add_event(
                        session.id,
                        "project.no_manager",
                        project_id,
                        None,
                        str(step),
                        {"behaviour": self.ctx.settings.on_no_manager},
                    )

    @staticmethod
    def _reset(
        repo: Repository,
        project: SessionProject,
        step: ProjectStep,
        key: str,
        instance_ids: list[str],
        now,
        reply_at,
    ) -> None:
        project.step = str(step)
        project.step_key = key
        project.instance_ids = list(instance_ids)
        project.reply = None
        project.replied_at = None
        project.instance_actions = {}
        project.notified_at = now
        project.reply_at = reply_at
        project.has_manager = notifier.has_manager(repo, project.project_id)

    def _payload(
        self,
        session: Session,
        step: ProjectStep,
        project_id: str,
        instance_ids: list[str],
        reply_at,
        ids_inline: bool = False,
    ) -> dict[str, Any]:
        base = self.ctx.settings.controller_url().rstrip("/")
        project_url = f"{base}/v1/maintenance/{session.id}/{project_id}"
        # As in Fenix: MAINTENANCE announces when the session will act; a step after it acts
        # once its window is over.
        actions_at = session.maintenance_at if step == ProjectStep.MAINTENANCE else reply_at
        return {
            "service": "fenix",
            "session_id": session.id,
            "project_id": project_id,
            "state": str(step),
            "instance_ids": list(instance_ids) if ids_inline else project_url,
            "allowed_actions": self.allowed_actions if reply_at else [],
            "reply_url": project_url,
            "reply_at": to_iso(reply_at),
            "actions_at": to_iso(actions_at),
            "metadata": dict(session.meta or {}),
        }

    @staticmethod
    def _give_up_on_unreachable(
        repo: Repository,
        session_id: str,
        step: ProjectStep,
        key: str,
        rows: list[SessionProject],
    ) -> None:
        """A manager whose notice of this step could not be delivered will not answer it.

        Except at MAINTENANCE_COMPLETE: the session does not end while a manager may still
        scale its application back, so that window is waited out."""
        if step == ProjectStep.MAINTENANCE_COMPLETE:
            return
        for project in rows:
            if project.reply is None and notifier.undeliverable(
                repo, session_id, project.project_id, str(step), project.notified_at
            ):
                project.reply = NO_REPLY
                repo.add_event(
                    session_id,
                    "project.reply.undeliverable",
                    project.project_id,
                    None,
                    str(step),
                    {"key": key, "why": "every delivery of the notice is dead"},
                )

    def _wait(self, step: ProjectStep, key: str, project_ids: list[str]) -> dict[str, Reply]:
        while True:
            with self.ctx.db.transaction() as repo:
                session = repo.get_session(self.ctx.session_id, with_deleted=True)
                if session.stop_requested:
                    raise Cancelled()  # no answer is worth waiting for any more
                rows = [p for p in session.projects if p.project_id in project_ids]
                self._give_up_on_unreachable(repo, session.id, step, key, rows)
                now = utcnow()
                pending = [p for p in rows if p.reply is None and p.reply_at > now]
                if not pending:
                    for project in rows:
                        if project.reply is None:
                            project.reply = NO_REPLY
                            repo.add_event(
                                session.id,
                                "project.reply.timeout",
                                project.project_id,
                                None,
                                str(step),
                                {"reply_at": to_iso(project.reply_at), "key": key},
                            )
                    for p in rows:
                        self.ctx.runtime.metrics.reply(step, p.reply, p.notified_at, p.replied_at)
                    return {
                        p.project_id: Reply(p.project_id, p.reply, dict(p.instance_actions or {}))
                        for p in rows
                    }
            self.ctx.pause(self.ctx.settings.poll_interval)
