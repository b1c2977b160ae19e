"""What every workflow shares: the run loop over the state table, failing, ending, syncing.

A workflow subclass declares `HANDLERS`, one method per session state. Each handler does its
state's work idempotently (it may be run again after a restart) and ends with
`self.transition(...)`. The run loop re-reads the state from the database before every step.
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

from fenix.actions.launcher import ActionFailed
from fenix.db.models import Session, SessionInstance
from fenix.drivers.base import DriverError
from fenix.engine.context import Cancelled, SessionContext, Stopping
from fenix.engine.transitions import transition
from fenix.states import HostState, InstanceAction, ProjectStep, SessionState
from fenix.workflows.conversation import Conversation, Reply
from fenix.workflows.gates import GateKeeper
from fenix.workflows.hold import HoldGate
from fenix.workflows.hosts import HostMaintenance, TakenOut
from fenix.workflows.moves import InstanceMover, MoveFailed, instances_by_project

LOG = logging.getLogger(__name__)


EMPTY_ROUNDS = 3
"""Rounds of moves to empty one host: instances still arriving from another session's moves
once it went out of service are moved in the next round."""


class WorkflowError(Exception):
    """Ends the session in MAINTENANCE_FAILED; the message says why, for the admin."""


class BaseWorkflow:
    HANDLERS: ClassVar[dict[SessionState, str]] = {}

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx
        self.talk = Conversation(ctx)
        self.mover = InstanceMover(ctx, self.talk)
        self.hosts = HostMaintenance(ctx, self.run_actions, self.mover.view)
        self.hold = HoldGate(ctx)
        self.gates = GateKeeper(ctx)
        self._kinds: dict[str, str] = {}

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        """Drive the session until it ends, is deleted, or the engine stops."""
        plugins_ready = False
        while True:
            with self.ctx.db.transaction() as repo:
                session = repo.get_session(self.ctx.session_id, with_deleted=True)
                state = SessionState(session.state)
                stop_requested = session.stop_requested
            if stop_requested:
                self.end_deleted()
                return
            if state.is_final:
                return
            self.ctx.check_stop()
            started = time.monotonic()
            self.mover.view.forget()  # one listing of the cloud per step, when first needed
            try:
                if not plugins_ready:
                    self.ctx.runtime.actions.prepare_session_plugins(self.ctx)
                    plugins_ready = True
                getattr(self, self.HANDLERS[state])()
                self.ctx.runtime.metrics.state_left(state, time.monotonic() - started)
            except Stopping:
                raise
            except Cancelled:
                self.end_deleted()
                return
            except (WorkflowError, MoveFailed, ActionFailed) as exc:
                self.fail(str(exc))
            except DriverError as exc:
                self.fail(f"the cloud refused: {exc}")

    def transition(self, new: SessionState, reason: str | None = None) -> None:
        with self.ctx.db.transaction() as repo:
            session = repo.lock_session(self.ctx.session_id)
            self.ctx.check_owner(session)
            transition(repo, session, new, reason)
        LOG.info("session %s -> %s", self.ctx.session_id, new)

    def fail(self, reason: str) -> None:
        LOG.warning("session %s failed: %s", self.ctx.session_id, reason)
        with self.ctx.db.transaction() as repo:
            session = repo.lock_session(self.ctx.session_id)
            self.ctx.check_owner(session)
            if SessionState(session.state).is_final:
                return
            transition(repo, session, SessionState.MAINTENANCE_FAILED, reason)
            disabled = [h.name for h in session.hosts if h.disabled]
            if disabled:
                repo.add_event(
                    session.id,
                    "hosts.left_disabled",
                    None,
                    data={"hosts": disabled, "why": "resume with PUT, or DELETE"},
                )
            projects = {p.project_id: [] for p in session.projects}
        self.talk.inform(ProjectStep.MAINTENANCE_FAILED, projects)

    def end_deleted(self) -> None:
        """The admin deleted the session: give back every host it took out of service, leave
        every other host as it is (one it found out of service stays so), end it, and say in
        the event log (`session.cancelled`) what was given back."""
        given_back, left_as_found = [], []
        for host in self.session_hosts(lambda h: h.disabled):
            if self.hosts.release(host):
                given_back.append(host)
            else:
                left_as_found.append(host)
        with self.ctx.db.transaction() as repo:
            session = repo.lock_session(self.ctx.session_id)
            repo.add_event(
                session.id,
                "session.cancelled",
                session.id,
                data={"given_back": given_back, "left_as_found": left_as_found},
            )
            if not SessionState(session.state).is_final:
                transition(repo, session, SessionState.MAINTENANCE_FAILED, "session deleted")

    def check_deleted(self) -> None:
        """A safe point between hosts: leave it if the admin deleted the session."""
        with self.ctx.db.transaction() as repo:
            if repo.get_session(self.ctx.session_id, with_deleted=True).stop_requested:
                raise Cancelled()

    # -- reading the session -------------------------------------------------------------
    def session_hosts(self, predicate=lambda host: True) -> list[str]:
        """The session's host names in order; `predicate` sees each host's name, kind, state,
        position, disabled and maintained."""
        with self.ctx.db.transaction() as repo:
            return [h.name for h in repo.session_host_rows(self.ctx.session_id) if predicate(h)]

    def host_kind(self, host: str) -> str:
        """A host's kind, which never changes in a session: read for every host at once."""
        if host not in self._kinds:
            with self.ctx.db.transaction() as repo:
                rows = repo.session_host_rows(self.ctx.session_id)
            self._kinds = {h.name: h.kind for h in rows}
        return self._kinds[host]

    def instances(self) -> list[SessionInstance]:
        """The session's instances still there (sync_host gives one host's)."""
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            return [i for i in session.instances if i.state not in ("DELETED", "EVICTED")]

    def cursor(self) -> dict:
        with self.ctx.db.transaction() as repo:
            return dict(repo.get_session(self.ctx.session_id, with_deleted=True).cursor or {})

    def set_cursor(self, **marks) -> None:
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            session.cursor = {**(session.cursor or {}), **marks}

    def sync_instances(self) -> None:
        """Record which instances are on the session's hosts now (managers scale, clouds move).
        (sync_host does the same for one host.)"""
        hosts = set(self.session_hosts())
        listing = self.ctx.driver.list_instances()
        self.mover.view.load(listing)
        seen = {i.instance_id: i for i in listing}
        with self.ctx.db.transaction() as repo:
            session: Session = repo.get_session(self.ctx.session_id, with_deleted=True)
            known = {i.instance_id: i for i in session.instances}
            for instance_id, info in seen.items():
                row = known.get(instance_id)
                if row is None:
                    if info.host not in hosts:
                        continue
                    repo.add_instance(
                        session,
                        instance_id=instance_id,
                        name=info.name,
                        project_id=info.project_id,
                        host=info.host,
                        size=info.size,
                        state="ACTIVE",
                    )
                    repo.add_event(session.id, "instance.added", instance_id, None, info.host)
                elif row.host != info.host or row.state == "DELETED":
                    repo.add_event(session.id, "instance.host", instance_id, row.host, info.host)
                    row.host = info.host
                    row.state = "ACTIVE"
            for instance_id, row in known.items():
                if instance_id not in seen and row.state not in ("DELETED", "EVICTED"):
                    row.state = "DELETED"
                    repo.add_event(session.id, "instance.deleted", instance_id, row.host, None)
            for project_id in {i.project_id for i in session.instances}:
                repo.project(session, project_id)

    def sync_host(self, host: str) -> list[SessionInstance]:
        """sync_instances for one host, returning the session's instances on it now: the cloud
        lists that host alone and only its rows are read, so emptying one host costs the same
        on 10 hosts as on 1,000."""
        listing = self.ctx.driver.list_instances(host=host)
        self.mover.view.host_seen(host, listing)
        seen = {i.instance_id: i for i in listing}
        session_id = self.ctx.session_id
        with self.ctx.db.transaction() as repo:
            known = {r.instance_id: r for r in repo.session_instances(session_id, list(seen))}
            here = repo.session_instances_on(session_id, [host])
            left = [r for r in here if r.instance_id not in seen]
            new_projects = set()
            for instance_id, info in seen.items():
                row = known.get(instance_id)
                if row is None:
                    repo.add_session_instance(
                        session_id,
                        instance_id=instance_id,
                        name=info.name,
                        project_id=info.project_id,
                        host=host,
                        size=info.size,
                        state="ACTIVE",
                    )
                    repo.add_event(session_id, "instance.added", instance_id, None, host)
                    new_projects.add(info.project_id)
                elif row.host != host or row.state == "DELETED":
                    repo.add_event(session_id, "instance.host", instance_id, row.host, host)
                    row.host = host
                    row.state = "ACTIVE"
            if left:
                # Gone from the host by other hands (a manager moved or deleted them): one look
                # at the whole cloud says where to, as a full sync would have.
                everywhere = self.ctx.driver.list_instances()
                self.mover.view.load(everywhere)
                where = {i.instance_id: i.host for i in everywhere}
                for row in left:
                    if row.instance_id in where:
                        new = where[row.instance_id]
                        repo.add_event(session_id, "instance.host", row.instance_id, host, new)
                        row.host = new
                    else:
                        row.state = "DELETED"
                        repo.add_event(session_id, "instance.deleted", row.instance_id, host, None)
            if new_projects:
                session = repo.get_session(session_id, with_deleted=True)
                for project_id in sorted(new_projects):
                    repo.project(session, project_id)
            return repo.session_instances_on(session_id, [host])  # the query flushes first

    # -- shared steps ----------------------------------------------------------------------
    def check_replies(self, replies: dict[str, Reply], step: ProjectStep) -> None:
        settings = self.ctx.settings
        nacked = sorted(p for p, r in replies.items() if r.nacked)
        if nacked and settings.on_nack == "fail":
            raise WorkflowError(f"{', '.join(nacked)} answered NACK_{step}")
        silent = sorted(p for p, r in replies.items() if not r.answered)
        if silent and settings.on_no_manager == "fail":
            raise WorkflowError(f"no answer to {step} from {', '.join(silent)}")

    def default_action(self) -> str:
        """What a project without an answer gets: live migration (the cloud allows it)."""
        return InstanceAction.LIVE_MIGRATE

    def standing_actions(
        self, affected: dict[str, list[str]], replies: dict[str, Reply], given: dict[str, str]
    ) -> dict[str, str]:
        """For the instances no answer gave an action: what their manager's standing instance
        constraint says (`migration_type`), where this workflow offers it. OWN_ACTION only
        where the manager acknowledged, as someone must carry it out; the rest get the
        workflow's default."""
        unanswered = [i for ids in affected.values() for i in ids if i not in given]
        if not unanswered:
            return {}
        project_of = {i: p for p, ids in affected.items() for i in ids}
        with self.ctx.db.transaction() as repo:
            standing = {
                instance_id: row.migration_type
                for instance_id, row in repo.instance_constraints(unanswered).items()
                if row.migration_type in self.talk.allowed_actions
            }
        acked = {p for p, reply in replies.items() if reply.answered and not reply.nacked}
        return {
            instance_id: action
            for instance_id, action in standing.items()
            if action != InstanceAction.OWN_ACTION or project_of[instance_id] in acked
        }

    def empty_host(self, host: str, step: ProjectStep) -> None:
        """Ask the host's projects what to do with their instances on it, then do it.

        An instance another session was moving onto the host when it went out of service
        arrives after the host was looked at: each round asks about and moves what arrived
        during the one before, up to EMPTY_ROUNDS."""
        for round_ in range(EMPTY_ROUNDS):
            affected = instances_by_project(self.sync_host(host))
            if round_ and not affected:
                return
            key = f"{step}:{host}" + (f":{round_}" if round_ else "")
            replies = self.talk.ask(step, key, affected)
            self.check_replies(replies, step)
            actions: dict[str, str] = {}
            for reply in replies.values():
                if not reply.nacked:
                    actions.update(reply.instance_actions)
            actions = {**self.standing_actions(affected, replies, actions), **actions}
            self.mover.empty_host(host, actions, self.default_action())
            self.talk.inform(ProjectStep.ADMIN_ACTION_DONE, affected)
        left = [i.instance_id for i in self.sync_host(host)]
        if left:
            raise WorkflowError(f"{host} is not empty after the moves: {', '.join(left)}")

    def maintain(self, host: str, *, taken_out: TakenOut | None = None) -> None:
        """`taken_out`: what take_out_of_service said of the host in this run, if it was."""
        self.hosts.maintain(host, self.host_kind(host), taken_out=taken_out)

    def run_actions(self, types: list[str], hosts: list[str]) -> None:
        """Run the session's action plug-ins of these types over these hosts, in order."""
        self.ctx.runtime.actions.run_session_actions(self.ctx, types, hosts)

    def unmaintained_hosts(self) -> list[str]:
        return self.session_hosts(lambda h: h.state != HostState.MAINTENANCE_COMPLETE)
