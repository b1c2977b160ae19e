"""The planner's decisions on small clouds, one snapshot at a time."""

from __future__ import annotations

from dataclasses import replace

from fenix.planner.cloud import Cluster, Host, Instance
from fenix.planner.decisions import (
    Blocked,
    ChooseAction,
    Fail,
    Finished,
    MaintainHost,
    MoveInstance,
    NoHostFits,
    OpenJob,
    StartHost,
    Tell,
    WaitUntil,
)
from fenix.planner.impact import Impact
from fenix.planner.planner import hosts_at_once, plan
from fenix.planner.rules import GroupRule, InstanceRule, Rules
from fenix.planner.snapshot import TOLD, Ask, Estimates, Job, Policy, Snapshot
from fenix.states import HostState, InstanceAction, ProjectStep

NOW = 1000.0
PENDING, PREPARING = HostState.PENDING, HostState.PREPARING
NO_RULES = Rules({}, {})


def _snapshot(hosts, instances, rules=NO_RULES, *, managed=False, jobs=(), **fields) -> Snapshot:
    cluster = Cluster(hosts, instances, rules)
    values = {
        "now": NOW,
        "step": ProjectStep.PLANNED_MAINTENANCE,
        "maintain": True,
        "new_hosts": True,
        "cloud": cluster.freeze(),
        "rules": rules,
        "raw_rules": rules,
        "jobs": {job.instance_id: job for job in jobs},
        "impacts": (),
        "managers": {i.project_id: managed for i in instances},
        "maintaining": frozenset(),
        "starts": 0,
        "estimates": Estimates(),
        "policy": Policy(InstanceAction.LIVE_MIGRATE, on_nack="fail", on_no_manager="default"),
    }
    return Snapshot(**(values | fields))


def _vm(name: str, host: str, project: str = "project-1") -> Instance:
    return Instance(name, project, host)


def _told(name: str, host: str, *, reply="ACK_PLANNED_MAINTENANCE", action=None, **fields) -> Job:
    ask = Ask(
        key=f"PLANNED_MAINTENANCE:{host}:{name}",
        instance_id=name,
        project_id="project-1",
        notified_at=NOW - 5,
        actions_at=fields.pop("actions_at", NOW - 5),
        reply_at=NOW + 25,
        has_manager=True,
        reply=reply,
        action=action,
        allowed_actions=("LIVE_MIGRATE", "MIGRATE", "EVICTION"),
    )
    return replace(Job(name, "project-1", host, f"instance:{name}", True, 1), ask=ask, state=TOLD)


def _of(kind, decisions):
    return [d for d in decisions if isinstance(d, kind)]


def test_a_host_starts_when_each_of_its_instances_has_a_place_and_they_are_told_of_it():
    hosts = [
        Host("compute-1", 2, state=PENDING, position=0),
        Host("compute-2", 2, state=PENDING, position=1),
        Host("spare", 2),
    ]
    instances = [_vm("vm-1", "compute-1"), _vm("vm-2", "compute-1"), _vm("vm-3", "compute-2")]

    decisions = plan(_snapshot(hosts, instances))

    (start,) = _of(StartHost, decisions)  # compute-2's instance has nowhere left to go
    assert start.host == "compute-1"
    assert dict(start.targets) == {"vm-1": "spare", "vm-2": "spare"}
    opened = {d.job.instance_id: d.job for d in _of(OpenJob, decisions)}
    assert opened["vm-1"].seq == opened["vm-2"].seq == 1
    assert opened["vm-3"].seq == float("inf")  # no manager: told ahead of its host
    told = [d.notice.instance_id for d in _of(Tell, decisions)]
    assert told == ["vm-1", "vm-2", "vm-3"]
    assert decisions.index(start) < decisions.index(_of(Tell, decisions)[0])


def test_an_instance_nobody_manages_moves_in_the_plan_that_tells_of_it_and_a_managed_one_waits():
    hosts = [Host("compute-1", 2, state=PENDING), Host("spare", 2)]
    instances = [_vm("vm-1", "compute-1"), _vm("vm-2", "compute-1", "project-2")]
    snapshot = _snapshot(hosts, instances, managers={"project-1": False, "project-2": True})

    decisions = plan(snapshot)

    told = {d.notice.instance_id for d in _of(Tell, decisions)}
    assert told == {"vm-1", "vm-2"}
    (move,) = _of(MoveInstance, decisions)  # no answer to wait for: its default at once
    assert move.instance_id == "vm-1" and move.target == "spare"
    assert move.action == InstanceAction.LIVE_MIGRATE
    tell_vm1 = next(d for d in _of(Tell, decisions) if d.notice.instance_id == "vm-1")
    assert decisions.index(tell_vm1) < decisions.index(move)  # its ask is recorded first


def test_no_host_starts_when_the_others_lack_room_and_the_plan_says_why():
    hosts = [Host("compute-1", 2, state=PENDING), Host("compute-2", 2, state=PENDING, position=1)]
    instances = [_vm(f"vm-{n}", f"compute-{1 + n % 2}") for n in range(4)]

    decisions = plan(_snapshot(hosts, instances, managed=True))

    assert not _of(StartHost, decisions)
    version = _snapshot(hosts, instances).cloud.version
    assert NoHostFits(version, True) in decisions
    assert isinstance(decisions[-1], Blocked)
    assert "no host can be emptied" in decisions[-1].reason
    again = plan(_snapshot(hosts, instances, managed=True, no_host_fits=(version, True)))
    assert not _of(NoHostFits, again)  # nothing changed: not looked at again


def test_an_instance_its_manager_moves_is_told_only_when_its_group_admits_it():
    group = GroupRule("db", max_impacted=1, recovery_time=30.0)
    rules = Rules(
        {
            name: InstanceRule(name, "db", migration_type=InstanceAction.OWN_ACTION)
            for name in ("vm-1", "vm-2")
        },
        {"db": group},
    )
    hosts = [Host("compute-1", 2, state=PREPARING), Host("spare", 2)]
    instances = [_vm("vm-1", "compute-1"), _vm("vm-2", "compute-1")]
    jobs = [Job(name, "project-1", "compute-1", "db", False, 1) for name in ("vm-1", "vm-2")]

    decisions = plan(_snapshot(hosts, instances, rules, managed=True, jobs=jobs))

    (tell,) = _of(Tell, decisions)
    assert tell.notice.instance_id == "vm-1" and tell.admit_at == NOW
    assert "OWN_ACTION" in tell.notice.allowed_actions  # the notice starts its impact
    busy = (Impact("db", "vm-1", NOW - 40, 30.0, end=NOW - 20),)  # recovering until NOW + 10
    later = plan(_snapshot(hosts, instances, rules, managed=True, jobs=jobs, impacts=busy))
    assert not _of(Tell, later)
    assert later[-1] == WaitUntil(NOW + 10, busy=False, asking=False)


def test_a_move_waits_for_its_lead_time():
    hosts = [Host("compute-1", 1, state=PREPARING), Host("spare", 1)]
    job = _told("vm-1", "compute-1", actions_at=NOW + 12)

    decisions = plan(_snapshot(hosts, [_vm("vm-1", "compute-1")], managed=True, jobs=[job]))

    assert not _of(MoveInstance, decisions)
    assert decisions[-1] == WaitUntil(NOW + 12, busy=False, asking=False)


def test_a_ready_instance_moves_by_its_managers_answer_to_a_place_with_room():
    hosts = [Host("compute-1", 1, state=PREPARING), Host("full", 1), Host("spare", 1)]
    instances = [_vm("vm-1", "compute-1"), _vm("vm-2", "full")]
    job = _told("vm-1", "compute-1", action="MIGRATE")

    decisions = plan(_snapshot(hosts, instances, managed=True, jobs=[job]))

    assert _of(ChooseAction, decisions) == [ChooseAction("vm-1", "MIGRATE", None)]
    assert _of(MoveInstance, decisions) == [MoveInstance("vm-1", "MIGRATE", "spare", False, NOW)]


def test_an_answer_that_was_not_offered_is_recorded_and_the_default_taken():
    hosts = [Host("compute-1", 1, state=PREPARING), Host("spare", 1)]
    job = _told("vm-1", "compute-1", action="OWN_ACTION")

    decisions = plan(_snapshot(hosts, [_vm("vm-1", "compute-1")], managed=True, jobs=[job]))

    assert ChooseAction("vm-1", "LIVE_MIGRATE", "OWN_ACTION") in decisions
    assert _of(MoveInstance, decisions)[0].action == "LIVE_MIGRATE"


def test_a_nack_fails_the_session_when_the_settings_say_so():
    hosts = [Host("compute-1", 1, state=PREPARING), Host("spare", 1)]
    job = _told("vm-1", "compute-1", reply="NACK_PLANNED_MAINTENANCE")
    snapshot = _snapshot(hosts, [_vm("vm-1", "compute-1")], managed=True, jobs=[job])

    assert plan(snapshot)[-1] == Fail("project-1 answered NACK_PLANNED_MAINTENANCE for vm-1")
    lenient = replace(snapshot, policy=replace(snapshot.policy, on_nack="continue"))
    assert _of(MoveInstance, plan(lenient))[0].action == "LIVE_MIGRATE"


def test_an_emptied_host_is_maintained_and_the_run_ends_when_every_host_is():
    hosts = [Host("compute-1", 1, state=PREPARING), Host("compute-2", 1, state=PREPARING)]
    decisions = plan(_snapshot(hosts, [], maintaining=frozenset({"compute-2"})))
    assert _of(MaintainHost, decisions) == [MaintainHost("compute-1")]

    done = [replace(h, state=HostState.MAINTENANCE_COMPLETE) for h in hosts]
    assert plan(_snapshot(done, []))[-1] == Finished()


def test_planning_changes_nothing_it_was_given():
    hosts = [Host("compute-1", 2, state=PENDING), Host("spare", 2)]
    snapshot = _snapshot(hosts, [_vm("vm-1", "compute-1"), _vm("vm-2", "compute-1")])
    before = (dict(snapshot.cloud.reserved), dict(snapshot.cloud.hosts), dict(snapshot.jobs))

    first, second = plan(snapshot), plan(snapshot)

    assert first == second and _of(StartHost, first)
    assert (dict(snapshot.cloud.reserved), dict(snapshot.cloud.hosts), dict(snapshot.jobs)) == (
        before
    )


def test_hosts_at_once_counts_the_hosts_that_could_be_emptied_together():
    def cloud(count: int) -> Snapshot:
        hosts = [Host(f"compute-{n}", 2, state=PENDING, position=n) for n in range(count)]
        return _snapshot(hosts, [_vm(f"vm-{n}", f"compute-{n}") for n in range(count)])

    assert hosts_at_once(cloud(3)) == 1  # the third takes one instance; nothing else fits
    assert hosts_at_once(cloud(4)) == 2
    assert hosts_at_once(cloud(8), enough=3) == 3
