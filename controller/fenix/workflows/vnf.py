"""The vnf workflow: several hosts at once, as far as the instances' ETSI constraints allow.

Managers describe what their applications can take with instance and instance-group
constraints (fenix.api.constraints): how many members of a group may be impacted at once, how
long a member needs to recover, how many may share a host, how much notice an instance needs,
how it is to be moved and how long it may be down. With that the engine itself knows how far it
may go, so it maintains as many hosts in parallel as capacity and constraints allow, and asks
each manager only about the instance it is about to act on.

The conversation follows OpenStack Fenix's vnf workflow: MAINTENANCE and MAINTENANCE_COMPLETE
per project; SCALE_IN only when capacity is short (no host, or not two hosts at once, can be
emptied), so that managers give capacity back instead of the maintenance needing more hosts;
PREPARE_MAINTENANCE (the first hosts emptied) and PLANNED_MAINTENANCE per instance, each notice
naming its one instance, answered with `instance_action` or `instance_actions`;
INSTANCE_ACTION_DONE per instance after its move.
The plan is fenix.planner's; fenix.workflows.parallel carries it out.

Every measured interruption longer than the instance's max_interruption_time is recorded as a
`constraint.breach` event and in the instance's details, which the session detail shows.
"""

from __future__ import annotations

from typing import ClassVar

from fenix.states import ProjectStep, SessionState
from fenix.workflows.base import WorkflowError
from fenix.workflows.default import DefaultWorkflow
from fenix.workflows.parallel import ParallelMaintenance

S = SessionState


class VnfWorkflow(DefaultWorkflow):
    TIME_SCALE: ClassVar[float] = 1.0
    """Constraint seconds per wall-clock second: 1 for real clouds. A benchmark that runs the
    simulated cloud N times faster than real time sets N, so lead, recovery and interruption
    times shrink with the moves and the maintenance."""
    SYNC_BEFORE_COMPLETE: ClassVar[bool] = False
    """The parallel steps recorded each move they made: no need to read the cloud again."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._parallel: ParallelMaintenance | None = None

    def parallel(self) -> ParallelMaintenance:
        """The engine of the parallel steps, kept from one state to the next so that what it
        learnt (where everything is, which members are recovering) need not be read again."""
        if self._parallel is None:
            self._parallel = ParallelMaintenance(self)
        return self._parallel

    def forget_parallel(self) -> None:
        if self._parallel is not None:
            self._parallel.close()
            self._parallel = None

    # MAINTENANCE is the default workflow's.

    def on_scale_in(self) -> None:
        self.forget_parallel()  # managers remove instances and change their constraints
        super().on_scale_in()

    def on_prepare_maintenance(self) -> None:
        first_wave = not self.cursor().get("prepare_started")
        done = self.parallel().run(
            ProjectStep.PREPARE_MAINTENANCE,
            maintain=False,
            new_hosts=first_wave,
            on_start=lambda: self.set_cursor(prepare_started=True),
        )
        if done:
            self.transition(S.START_MAINTENANCE)
        else:
            self.forget_parallel()

    def on_start_maintenance(self) -> None:
        if not self.cursor().get("pre_done"):
            self.run_actions(["pre"], self.session_hosts())
            self.set_cursor(pre_done=True)
        self.transition(
            S.PLANNED_MAINTENANCE if self.unmaintained_hosts() else S.MAINTENANCE_COMPLETE
        )

    def on_planned_maintenance(self) -> None:
        try:
            done = self.parallel().run(
                ProjectStep.PLANNED_MAINTENANCE, maintain=True, new_hosts=True
            )
        finally:
            self.forget_parallel()
        if done:
            self.transition(S.MAINTENANCE_COMPLETE)

    # -- choices -------------------------------------------------------------------------
    def _next_for_capacity(self, *, scaled_in: bool) -> SessionState:
        """Empty host already? Start. Room to empty hosts? Prepare. Capacity short: ask the
        managers to scale in, once. Short means no host can be emptied, or (this workflow being
        about parallel hosts) not two at once while more than two are due; after SCALE_IN a
        session that can empty one host at a time goes on, one that cannot fails."""
        occupied = {i.host for i in self.instances()}
        unmaintained = self.unmaintained_hosts()
        if any(host not in occupied for host in unmaintained):
            return S.START_MAINTENANCE
        at_once = self.parallel().hosts_at_once(enough=2)
        if at_once >= 2 or (at_once == 1 and (scaled_in or len(unmaintained) <= 2)):
            return S.PREPARE_MAINTENANCE
        if scaled_in:
            raise WorkflowError(
                "no host can be emptied: the other hosts lack room for its instances under "
                "their constraints even after SCALE_IN; relax the constraints or add hosts, "
                "then resume the session with PUT"
            )
        return S.SCALE_IN
