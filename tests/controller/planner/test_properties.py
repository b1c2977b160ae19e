"""The planner over random clouds and constraints, driven by its own simulated decisions: no
decision breaches capacity, anti-affinity, max_instances_per_host, max_impacted_members or the
session's max_hosts_per_zone; every host is maintained when room exists; on the bench's case
its makespan is within 1.1 of the lower bound, and under a limit of one host per zone every
host is still maintained, several zones at once."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fenix.planner import planner
from fenix.planner.rules import Rules
from fenix.planner.simulation import Simulation, Stuck
from fenix.states import InstanceAction
from tests.controller.planner.clouds import Scene, bench_module, bench_scene, scenes

RANDOM_CLOUDS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _simulation(scene: Scene, answer_last: bool = False) -> Simulation:
    return Simulation(
        scene.hosts,
        scene.instances,
        scene.rules,
        managers=scene.managers,
        answer=(lambda n: n.allowed_actions[-1])
        if answer_last
        else (lambda n: n.allowed_actions[0]),
    )


@RANDOM_CLOUDS
@given(scenes(), st.booleans())
def test_no_decision_breaches_a_constraint(scene, answer_last):
    simulation = _simulation(scene, answer_last)
    # The judge raises Breach at the first decision that breaks one. A cloud without room may
    # not be maintained to the end (Stuck); it is never over-filled either.
    with contextlib.suppress(Stuck):
        simulation.run()
    assert simulation.record.decisions > 0


@RANDOM_CLOUDS
@given(scenes(roomy=True), st.booleans())
def test_every_host_is_maintained_when_room_exists(scene, answer_last):
    simulation = _simulation(scene, answer_last)

    simulation.run()

    assert sorted(simulation.record.maintained) == sorted(scene.session_hosts)


def _ranking_from_scratch(work, hosts):
    """The planner's ranking with nothing remembered from the ranks it worked out before."""
    work._outlooks.clear()
    work._constrained.clear()
    return _remembering_outlook(work, hosts)


_remembering_outlook = planner._Work.outlook


@RANDOM_CLOUDS
@given(scenes(), st.booleans())
def test_hosts_ranked_from_what_is_remembered_as_from_scratch(scene, answer_last):
    """The ranking reworks only the hosts whose inputs changed: whole sessions decide exactly
    as when every host is ranked afresh each time."""
    remembering = _simulation(scene, answer_last)
    with contextlib.suppress(Stuck):
        remembering.run()
    with mock.patch.object(planner._Work, "outlook", _ranking_from_scratch):
        afresh = _simulation(scene, answer_last)
        with contextlib.suppress(Stuck):
            afresh.run()

    assert remembering.record == afresh.record
    assert remembering.record.decisions > 0


def _bench_simulation(bench, scene: Scene) -> Simulation:
    return Simulation(
        scene.hosts,
        scene.instances,
        scene.rules,
        managers=scene.managers,
        maintain_seconds=bench.MAINTAIN,
        move_seconds={
            InstanceAction.LIVE_MIGRATE: bench.LIVE,
            InstanceAction.MIGRATE: bench.MIGRATE,
            InstanceAction.EVICTION: 1.0,
            InstanceAction.OWN_ACTION: bench.MIGRATE,
        },
        default_action=bench.DEFAULT_ACTION,
    )


def test_the_simulated_makespan_on_the_bench_case_is_within_a_tenth_of_the_bound(report):
    bench = bench_module()
    scene, bound = bench_scene(bench)
    simulation = _bench_simulation(bench, scene)

    makespan = simulation.run()
    report(f"planner's simulated makespan on the bench case: {makespan:.0f} s, bound {bound} s")

    assert sorted(simulation.record.maintained) == sorted(scene.session_hosts)
    assert bound > 0 and makespan <= 1.1 * bound, f"{makespan:.0f} s against a bound of {bound}"


@RANDOM_CLOUDS
@given(scenes(roomy=True), st.integers(1, 3), st.integers(1, 2))
def test_no_zone_has_more_hosts_out_than_the_limit_and_all_are_maintained(scene, zones, limit):
    hosts = [replace(h, zone=f"zone-{n % zones + 1}") for n, h in enumerate(scene.hosts)]
    rules = scene.rules.with_zone_limit(limit)
    simulation = _simulation(Scene(hosts, scene.instances, rules, scene.managers))

    simulation.run()  # the judge raises Breach at a start over the limit

    assert sorted(simulation.record.maintained) == sorted(scene.session_hosts)


def test_one_host_per_zone_on_the_bench_case_still_maintains_zones_in_parallel():
    bench = bench_module()
    scene, _bound = bench_scene(bench)
    zones = 3
    hosts = [replace(h, zone=f"zone-{n % zones + 1}") for n, h in enumerate(scene.hosts)]
    rules: Rules = scene.rules.with_zone_limit(1)
    simulation = _bench_simulation(bench, Scene(hosts, scene.instances, rules, scene.managers))

    simulation.run()

    assert sorted(simulation.record.maintained) == sorted(scene.session_hosts)
    assert 2 <= simulation.record.most_out <= zones
