"""The per-instance side of the conversation, for workflows that maintain hosts in parallel.

The project-wide steps (MAINTENANCE, SCALE_IN, MAINTENANCE_COMPLETE) go through
fenix.workflows.conversation, one step per project at a time. PREPARE_MAINTENANCE and
PLANNED_MAINTENANCE go per instance here: with several hosts in maintenance at once a project
may be asked about several of its instances together, so each question is its own row
(SessionAsk) and a reply is matched to it by instance id (fenix.api.projects). Each notice
names its one instance (`instance_ids: [id]`), offers the actions its constraints allow, gives
`actions_at` (no action before it: the instance's lead_time) and a `reply_url` of its own.

Asks are written in batches, one transaction for all that a step of the workflow sends, so
five hundred instances do not cost five hundred commits.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from fenix.db.models import SessionAsk
from fenix.db.repository import Repository
from fenix.engine.context import SessionContext
from fenix.notify import notifier
from fenix.planner.decisions import Notice
from fenix.planner.snapshot import Ask
from fenix.states import EventType
from fenix.timeutil import to_iso, utcnow
from fenix.workflows.conversation import NO_MANAGER, NO_REPLY, Conversation

MANAGER_CACHE_SECONDS = 5.0
"""How long the workflow trusts that a project has (or has no) manager before looking again."""


def epoch(value: datetime) -> float:
    return value.replace(tzinfo=UTC).timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)


class InstanceTalk:
    def __init__(self, ctx: SessionContext, talk: Conversation) -> None:
        self.ctx = ctx
        self.talk = talk
        self._managers: dict[str, tuple[bool, float]] = {}

    def instance_url(self, project_id: str, instance_id: str) -> str:
        base = self.ctx.settings.controller_url().rstrip("/")
        return f"{base}/v1/maintenance/{self.ctx.session_id}/{project_id}/{instance_id}"

    def load(self) -> dict[str, Ask]:
        """Every ask of the session (a resumed workflow waits for those it made before)."""
        with self.ctx.db.transaction() as repo:
            return {row.key: _ask(row) for row in repo.asks(self.ctx.session_id)}

    def has_manager(self, project_id: str, repo: Repository | None = None) -> bool:
        """Whether the project has a manager to tell (looked up again every few seconds)."""
        known = self._managers.get(project_id)
        if known is not None and time.monotonic() - known[1] < MANAGER_CACHE_SECONDS:
            return known[0]
        if repo is None:
            with self.ctx.db.transaction() as repo:
                found = notifier.has_manager(repo, project_id)
        else:
            found = notifier.has_manager(repo, project_id)
        self._managers[project_id] = (found, time.monotonic())
        return found

    def managers(self, project_ids: Iterable[str]) -> dict[str, bool]:
        """has_manager of each project; those not looked up lately in one transaction."""
        project_ids = set(project_ids)
        now = time.monotonic()
        stale = [
            p
            for p in project_ids
            if p not in self._managers or now - self._managers[p][1] >= MANAGER_CACHE_SECONDS
        ]
        if stale:
            with self.ctx.db.transaction() as repo:
                for project_id in stale:
                    self.has_manager(project_id, repo)
        return {p: self._managers[p][0] for p in project_ids}

    def send(self, notices: list[Notice]) -> dict[str, Ask]:
        """Tell each instance's project, in one transaction; asks made before are kept."""
        if not notices:
            return {}
        window = timedelta(seconds=self.ctx.settings.reply_window)
        sent: dict[str, Ask] = {}
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            assert session is not None  # the workflow runs it
            keys = [n.key for n in notices]
            existing = {row.key: row for row in repo.asks(session.id, keys=keys)}
            fresh = [n for n in notices if n.key not in existing]
            # Read before writing: every query would otherwise flush the rows added so far.
            managers = {p: self.has_manager(p, repo) for p in {n.project_id for n in fresh}}
            unmanaged: dict[tuple[str, str], list[str]] = {}
            for key, row in existing.items():
                sent[key] = _ask(row)
            for notice in fresh:
                project_id = notice.project_id
                now = utcnow()
                actions_at = now + timedelta(seconds=notice.lead)
                # The manager has its whole reply window, and never less than the lead time.
                reply_at = max(now + window, actions_at)
                row = repo.add_ask(
                    session_id=session.id,
                    key=notice.key,
                    project_id=project_id,
                    instance_id=notice.instance_id,
                    step=str(notice.step),
                    allowed_actions=list(notice.allowed_actions),
                    notified_at=now,
                    reply_at=reply_at,
                    actions_at=actions_at,
                    has_manager=managers[project_id],
                    reply=None if managers[project_id] else NO_MANAGER,
                )
                sent[notice.key] = _ask(row)
                if not row.has_manager:
                    unmanaged.setdefault((project_id, str(notice.step)), []).append(
                        notice.instance_id
                    )
                    continue
                payload = self.talk._payload(
                    session, notice.step, project_id, [notice.instance_id], reply_at, True
                )
                payload.update(
                    allowed_actions=list(notice.allowed_actions),
                    actions_at=to_iso(actions_at),
                    reply_url=self.instance_url(project_id, notice.instance_id),
                )
                notifier.emit(
                    repo,
                    EventType.PLANNED,
                    payload,
                    session_id=session.id,
                    project_id=project_id,
                    question=notice.key,
                    expires_at=reply_at,
                )
            for (project_id, step), instance_ids in unmanaged.items():
                repo.add_event(
                    session.id,
                    "project.no_manager",
                    project_id,
                    None,
                    step,
                    {"instance_ids": instance_ids, "behaviour": self.ctx.settings.on_no_manager},
                )
        return sent

    def poll(self, keys: list[str]) -> dict[str, Ask]:
        """The asks among `keys` that are settled now: answered, or past their reply_at."""
        if not keys:
            return {}
        now = utcnow()
        settled: dict[str, Ask] = {}
        with self.ctx.db.transaction() as repo:
            for row in repo.asks(self.ctx.session_id, keys=keys):
                if row.reply is None and row.reply_at <= now:
                    row.reply = NO_REPLY
                    repo.add_event(
                        self.ctx.session_id,
                        "project.reply.timeout",
                        row.project_id,
                        None,
                        row.step,
                        {"reply_at": to_iso(row.reply_at), "key": row.key},
                    )
                if row.reply is not None:
                    settled[row.key] = _ask(row)
        return settled


def _ask(row: SessionAsk) -> Ask:
    return Ask(
        key=row.key,
        instance_id=row.instance_id,
        project_id=row.project_id,
        notified_at=epoch(row.notified_at),
        actions_at=epoch(row.actions_at),
        reply_at=epoch(row.reply_at),
        has_manager=row.has_manager,
        reply=row.reply,
        action=row.instance_action,
        allowed_actions=tuple(row.allowed_actions or ()),
    )
