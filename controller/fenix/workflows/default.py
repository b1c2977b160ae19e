"""The default workflow: one host at a time, as OpenStack Fenix's default workflow does.

Find or make an empty host, maintain it, then for every other host ask its projects' managers
what to do with their instances, move them (to hosts already maintained where there is room, so
an instance moves once), maintain the host and bring it back. Unlike Fenix, only the host being
maintained is out of service.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from fenix.planner.one_at_a_time import first_host, order_of_work
from fenix.states import HostState, ProjectStep, SessionState
from fenix.timeutil import to_iso, utcnow
from fenix.workflows.base import BaseWorkflow, WorkflowError
from fenix.workflows.moves import instances_by_project

S = SessionState


class DefaultWorkflow(BaseWorkflow):
    HANDLERS: ClassVar[dict[SessionState, str]] = {
        S.MAINTENANCE: "on_maintenance",
        S.SCALE_IN: "on_scale_in",
        S.PREPARE_MAINTENANCE: "on_prepare_maintenance",
        S.START_MAINTENANCE: "on_start_maintenance",
        S.PLANNED_MAINTENANCE: "on_planned_maintenance",
        S.MAINTENANCE_COMPLETE: "on_maintenance_complete",
    }
    SYNC_BEFORE_COMPLETE: ClassVar[bool] = True
    """Read every instance from the cloud again before MAINTENANCE_COMPLETE is asked: the moves
    of the one-host-at-a-time steps are not all recorded where they went."""

    # -- states --------------------------------------------------------------------------
    def on_maintenance(self) -> None:
        self.sync_instances()
        affected = instances_by_project(self._on_session_hosts())
        replies = self.talk.ask(ProjectStep.MAINTENANCE, "MAINTENANCE", affected)
        self.check_replies(replies, ProjectStep.MAINTENANCE)
        if self._wait_for_maintenance_at():
            self.transition(self._next_for_capacity(scaled_in=False))

    def on_scale_in(self) -> None:
        affected = instances_by_project(self._on_session_hosts())
        replies = self.talk.ask(ProjectStep.SCALE_IN, "SCALE_IN", affected)
        self.check_replies(replies, ProjectStep.SCALE_IN)
        self.sync_instances()
        self.transition(self._next_for_capacity(scaled_in=True))

    def on_prepare_maintenance(self) -> None:
        host = self.cursor().get("prepare_host") or self._cheapest_host_to_empty()
        if not self._may_start(host):
            return
        self.set_cursor(prepare_host=host)
        self.hosts.take_out_of_service(host)
        self.empty_host(host, ProjectStep.PREPARE_MAINTENANCE)
        self.transition(S.START_MAINTENANCE)

    def on_start_maintenance(self) -> None:
        if not self.cursor().get("pre_done"):
            self.run_actions(["pre"], self.session_hosts())
            self.set_cursor(pre_done=True)
        self.sync_instances()
        occupied = self._occupied_hosts()  # maintaining a host moves no instance
        for host in self.unmaintained_hosts():
            if host not in occupied:
                self.check_deleted()
                if not self._may_start(host):
                    return
                self.maintain(host)
                if not self._healthy_after(host):
                    return
        self.transition(
            S.PLANNED_MAINTENANCE if self.unmaintained_hosts() else S.MAINTENANCE_COMPLETE
        )

    def on_planned_maintenance(self) -> None:
        for host in self._in_order_of_work():
            self.check_deleted()
            if not self._may_start(host):
                return
            taken_out = self.hosts.take_out_of_service(host)
            self.empty_host(host, ProjectStep.PLANNED_MAINTENANCE)
            self.check_deleted()  # emptied: given back unmaintained if the admin said stop
            self.maintain(host, taken_out=taken_out)
            if not self._healthy_after(host):
                return
        self.transition(S.MAINTENANCE_COMPLETE)

    def on_maintenance_complete(self) -> None:
        if not self.cursor().get("post_done"):
            self.run_actions(["post"], self.session_hosts())
            self.set_cursor(post_done=True)
        if self.SYNC_BEFORE_COMPLETE:
            self.sync_instances()
        projects = instances_by_project(self.instances())
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            for project in session.projects:
                projects.setdefault(project.project_id, [])
        replies = self.talk.ask(ProjectStep.MAINTENANCE_COMPLETE, "MAINTENANCE_COMPLETE", projects)
        self.check_replies(replies, ProjectStep.MAINTENANCE_COMPLETE)
        self.transition(S.MAINTENANCE_DONE)
        self.talk.inform(ProjectStep.MAINTENANCE_DONE, {p: [] for p in projects})

    def _wait_for_maintenance_at(self) -> bool:
        """The managers were told that nothing moves before maintenance_at (their MAINTENANCE
        notice's actions_at): wait for it. False when the session was deleted meanwhile."""
        told = False
        while True:
            with self.ctx.db.transaction() as repo:
                session = repo.get_session(self.ctx.session_id, with_deleted=True)
                if session.stop_requested:
                    return False
                remaining = (session.maintenance_at - utcnow()).total_seconds()
                if remaining <= 0:
                    return True
                if not told:
                    until = {"until": to_iso(session.maintenance_at)}
                    repo.add_event(session.id, "session.waiting", None, None, None, until)
                    told = True
            self.ctx.pause(min(remaining, 1.0))

    def _may_start(self, host: str) -> bool:
        """A host not yet started waits while the session is paused or outside its windows,
        then for its health gates to pass (one failing past its timeout pauses the session,
        and the wait starts again); one already in work goes on. False when the session was
        deleted meanwhile."""
        with self.ctx.db.transaction() as repo:
            if repo.session_host(self.ctx.session_id, host).state != HostState.PENDING:
                return True
        while True:
            if not self.hold.wait(before=host):
                return False
            if self.gates.wait("before", [host]):
                return True

    def _healthy_after(self, host: str) -> bool:
        """The health gates after a host came back: the session moves on only once they pass
        (a gate failing past its timeout pauses it). False when it was deleted meanwhile."""
        while not self.gates.wait("after", [host]):
            if not self.hold.wait(before=f"the gates after {host}"):
                return False
        return True

    # -- choices -------------------------------------------------------------------------
    def _on_session_hosts(self):
        hosts = set(self.session_hosts())
        return [i for i in self.instances() if i.host in hosts]

    def _in_order_of_work(self) -> list[str]:
        """A host interrupted half-way goes first, then the rest in the session's order."""
        with self.ctx.db.transaction() as repo:
            rows = repo.session_host_rows(self.ctx.session_id)
            return order_of_work({h.name: h.state for h in rows})

    def _occupied_hosts(self) -> set[str]:
        """Hosts with instances of the session on them, from one read of its instances: a read
        of every instance per host made these checks O(hosts x instances)."""
        return {instance.host for instance in self.instances()}

    def _used(self, host: str) -> int:
        return sum(i.size for i in self.ctx.driver.list_instances(host=host))

    def _cheapest_host_to_empty(self) -> str:
        """The unmaintained host with the least in use; the first in session order on a tie.

        One listing of the cloud for all the candidates: a listing per host was 200 calls to the
        cloud for each choice on 200 hosts, made two or three times as a session starts."""
        used: Counter[str] = Counter()
        for instance in self.ctx.driver.list_instances():
            used[instance.host] += instance.size
        return first_host(self.unmaintained_hosts(), used)

    def _next_for_capacity(self, *, scaled_in: bool) -> SessionState:
        """Empty host already? Maintain it. Room to make one? Prepare. Else ask to scale in."""
        unmaintained = self.unmaintained_hosts()
        if set(unmaintained) - self._occupied_hosts():
            return S.START_MAINTENANCE
        if self._room_to_empty(self._cheapest_host_to_empty()):
            return S.PREPARE_MAINTENANCE
        if scaled_in:
            raise WorkflowError(
                "no host can be emptied: the other hosts lack room even after SCALE_IN"
            )
        return S.SCALE_IN

    def _room_to_empty(self, host: str) -> bool:
        free = self.mover.free_capacity(exclude=host)
        return sum(free.values()) >= self._used(host)
