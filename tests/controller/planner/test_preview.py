"""The plan of a session before it starts, on clouds of the planner's own (no I/O)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings

from fenix.planner.bounds import lower_bound
from fenix.planner.cloud import Host, Instance
from fenix.planner.preview import (
    Durations,
    preview_one_at_a_time,
    preview_parallel,
)
from fenix.planner.rules import GroupRule, InstanceRule, Rules
from fenix.states import HostState, InstanceAction
from tests.controller.planner.clouds import bench_module, bench_scene, scenes

PENDING = HostState.PENDING
QUICK = Durations(live_migrate=3, migrate=6, evict=1, own_action=4, maintain=60, answer=2)


def _hosts(count: int, capacity: int = 4, outside: int = 0) -> list[Host]:
    hosts = [Host(f"compute-{n + 1}", capacity, state=PENDING, position=n) for n in range(count)]
    hosts += [Host(f"spare-{k + 1}", capacity, position=count + k) for k in range(outside)]
    return hosts


def test_the_bench_case_plans_every_host_within_a_tenth_of_the_bound_the_bench_computes():
    bench = bench_module()
    scene, bench_bound = bench_scene(bench)
    durations = Durations(
        live_migrate=bench.LIVE, migrate=bench.MIGRATE, evict=1.0, own_action=bench.MIGRATE,
        maintain=bench.MAINTAIN, answer=2.0,
    )  # fmt: skip

    plan = preview_parallel(
        scene.hosts,
        scene.instances,
        scene.rules,
        scene.managers,
        durations,
        default_action=bench.DEFAULT_ACTION,
    )

    assert plan.blocked is None
    assert plan.lower_bound.seconds == bench_bound
    assert bench_bound <= plan.estimate <= 1.1 * bench_bound
    assert sorted(h.host for h in plan.hosts) == sorted(scene.session_hosts)
    assert [h.order for h in plan.hosts] == list(range(1, len(plan.hosts) + 1))
    assert sum(len(wave) for wave in plan.waves) == len(scene.session_hosts)
    assert len(plan.waves) < len(scene.session_hosts), "the vnf plan takes hosts together"
    on_session_hosts = {i.instance_id for i in scene.instances}
    assert {m.instance_id for m in plan.moves} == on_session_hosts
    for host in plan.hosts:
        assert host.out_of_service_at <= host.maintenance_from < host.maintenance_until
        assert host.maintenance_until - host.maintenance_from == bench.MAINTAIN


def test_each_instance_moves_as_its_standing_constraints_say_and_the_rest_by_default():
    hosts = _hosts(3, capacity=3, outside=1)
    instances = [
        Instance("db-1", "project-1", "compute-1"),
        Instance("db-2", "project-1", "compute-2"),
        Instance("own", "project-1", "compute-3"),
        Instance("free", "project-2", "compute-3"),
    ]
    rules = Rules(
        {
            "db-1": InstanceRule("db-1", "db", InstanceAction.MIGRATE),
            "db-2": InstanceRule("db-2", "db", InstanceAction.MIGRATE),
            "own": InstanceRule("own", "instance:own", InstanceAction.OWN_ACTION),
        },
        {"db": GroupRule("db", anti_affinity=True, max_impacted=1, recovery_time=10)},
    )

    plan = preview_parallel(hosts, instances, rules, {"project-1": True, "project-2": False}, QUICK)

    assert plan.blocked is None
    how = {m.instance_id: (m.action, m.target) for m in plan.moves}
    assert how["db-1"][0] == how["db-2"][0] == InstanceAction.MIGRATE
    assert how["own"] == (InstanceAction.OWN_ACTION, None)
    assert how["free"][0] == InstanceAction.LIVE_MIGRATE
    db_moves = sorted(
        (m for m in plan.moves if m.instance_id.startswith("db")), key=lambda m: m.start
    )
    assert db_moves[1].start >= db_moves[0].end + 10, "one member impacted at a time, recovered"
    assert plan.lower_bound.tightest_group == "db"
    assert plan.estimate >= plan.lower_bound.seconds
    assert plan.as_dict()["moves"][0]["how"]


def test_the_default_workflow_takes_one_host_at_a_time_the_least_used_first():
    hosts = _hosts(3, capacity=4)
    instances = [
        Instance("a", "project-1", "compute-1"),
        Instance("b", "project-1", "compute-1"),
        Instance("c", "project-1", "compute-2"),
        Instance("d", "project-1", "compute-3"),
        Instance("e", "project-1", "compute-3"),
    ]
    rules = Rules({"c": InstanceRule("c", "instance:c", InstanceAction.MIGRATE)}, {})

    plan = preview_one_at_a_time(hosts, instances, rules, {"project-1": False}, QUICK)

    assert plan.blocked is None
    assert [h.host for h in plan.hosts] == ["compute-2", "compute-1", "compute-3"]
    assert plan.waves == [["compute-2"], ["compute-1"], ["compute-3"]]
    assert plan.hosts[0].step == "PREPARE_MAINTENANCE"
    assert {m.instance_id: m.action for m in plan.moves}["c"] == InstanceAction.MIGRATE
    assert plan.moves[0].target == "compute-3", "the host due last takes it first"
    # c went to a host still due and moves again with it (cold, 6 s): each host its slowest
    # move, then its maintenance; no manager to wait for.
    assert [m.instance_id for m in plan.moves].count("c") == 2
    assert plan.estimate == 6 + 60 + 3 + 60 + 6 + 60
    assert plan.estimate >= plan.lower_bound.seconds


def test_a_plan_without_room_says_why_and_gives_no_estimate():
    hosts = _hosts(2, capacity=1)
    instances = [Instance("a", "p", "compute-1"), Instance("b", "p", "compute-2")]

    for preview in (preview_parallel, preview_one_at_a_time):
        plan = preview(hosts, instances, Rules({}, {}), {"p": False}, QUICK)

        assert plan.estimate is None and plan.blocked
        assert plan.lower_bound.seconds is None
        assert plan.lower_bound.hosts_at_once == 0


def test_the_lower_bound_counts_only_the_hosts_that_can_be_empty_at_once():
    hosts = _hosts(4, capacity=2, outside=1)
    instances = [Instance(f"vm-{k}", "p", f"compute-{k % 4 + 1}") for k in range(6)]
    actions = {i.instance_id: InstanceAction.LIVE_MIGRATE for i in instances}
    seconds = QUICK.move_seconds()

    bound = lower_bound(
        hosts, instances, Rules({}, {}), action_of=actions, move_seconds=seconds, maintain=60
    )

    # 10 units, 6 used: room for 2 empty hosts at once; 4 hosts take 2 rounds after a move.
    assert bound.hosts_at_once == 2
    assert bound.seconds == 3 + 2 * 60
    evicted = lower_bound(
        [replace(h, enabled=h.state is not None) for h in hosts],
        instances,
        Rules({}, {}),
        action_of=actions,
        move_seconds=seconds,
        maintain=60,
        leaving=frozenset(actions),
    )
    assert evicted.hosts_at_once == 4, "instances that leave need no room"


def test_a_session_of_hosts_that_hold_no_instances_is_bounded_by_one_maintenance():
    hosts = [Host("controller-1", 4, compute=False, state=PENDING), *_hosts(0, outside=1)]

    plan = preview_parallel(
        hosts, [Instance("a", "p", "spare-1")], Rules({}, {}), {"p": False}, QUICK
    )

    assert [h.host for h in plan.hosts] == ["controller-1"] and plan.moves == []
    assert plan.lower_bound.seconds == plan.estimate == 60


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(roomy=True))
def test_no_plan_is_shorter_than_its_lower_bound(scene):
    plan = preview_parallel(scene.hosts, scene.instances, scene.rules, scene.managers, QUICK)

    assert plan.blocked is None
    assert plan.estimate >= plan.lower_bound.seconds
    assert sorted(h.host for h in plan.hosts) == sorted(scene.session_hosts)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_a_plan_that_goes_to_the_end_is_no_shorter_than_its_bound_whichever_workflow(scene):
    for preview in (preview_parallel, preview_one_at_a_time):
        plan = preview(scene.hosts, scene.instances, scene.rules, scene.managers, QUICK)

        if plan.blocked is None:
            assert plan.lower_bound.seconds is not None, "a plan exists: so does a bound"
            assert plan.estimate >= plan.lower_bound.seconds
