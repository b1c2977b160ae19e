"""Clouds for the planner's tests: drawn at random (hypothesis), and the bench's case."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from fenix.planner.cloud import Host, Instance
from fenix.planner.rules import GroupRule, InstanceRule, Rules, solo_group
from fenix.states import HostState, InstanceAction

BENCH = Path(__file__).resolve().parents[3] / "bench" / "vnf_makespan.py"
MIGRATION_TYPES = [
    None,
    InstanceAction.LIVE_MIGRATE,
    InstanceAction.MIGRATE,
    InstanceAction.EVICTION,
    InstanceAction.OWN_ACTION,
]


@dataclass
class Scene:
    hosts: list[Host]
    instances: list[Instance]
    rules: Rules
    managers: dict[str, bool]

    @property
    def session_hosts(self) -> list[str]:
        return [h.name for h in self.hosts if h.state is not None]


@st.composite
def scenes(draw, *, roomy: bool = False) -> Scene:
    """A cloud whose instances sit within their constraints: session hosts (due for
    maintenance), hosts outside the session, hosts in zones or in none, a session limit of
    hosts out per zone or none, groups with anti-affinity, max_instances_per_host,
    max_impacted_members and recovery times, instances with lead times and migration types,
    projects with and without a manager.

    `roomy`: the session's hosts are all as large, and one empty host as large is outside the
    session, so that whatever is in progress, some host could take all of the next one's
    instances once the hosts in progress are done."""
    count = draw(st.integers(2, 6))
    capacity = draw(st.integers(2, 6))
    sizes = (
        [capacity] * count
        if roomy
        else draw(st.lists(st.integers(1, 6), min_size=count, max_size=count))
    )
    zones = draw(st.integers(0, 3))
    zone_limit = draw(st.none() | st.integers(1, 2))

    def zone(n: int) -> str | None:
        return f"zone-{n % zones + 1}" if zones else None

    hosts = [
        Host(f"compute-{n + 1}", size, state=HostState.PENDING, position=n, zone=zone(n))
        for n, size in enumerate(sizes)
    ]
    outside = 1 if roomy else draw(st.integers(0, 2))
    for k in range(outside):
        size = capacity if roomy else draw(st.integers(1, 6))
        hosts.append(
            Host(f"outside-{k + 1}", size, state=None, position=count + k, zone=zone(count + k))
        )
    groups = {}
    for g in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["anti-affinity", "per-host", "free"]))
        group_id = f"group-{g + 1}"
        groups[group_id] = GroupRule(
            group_id,
            anti_affinity=kind == "anti-affinity",
            max_per_host=draw(st.integers(1, 3)) if kind == "per-host" else None,
            max_impacted=draw(st.none() | st.integers(1, 3)),
            recovery_time=draw(st.sampled_from([0.0, 5.0, 20.0])),
        )
    projects = [f"project-{p + 1}" for p in range(draw(st.integers(1, 3)))]
    managers = {p: draw(st.booleans()) for p in projects}
    room = {h.name: h.capacity for h in hosts}
    members: Counter[tuple[str, str]] = Counter()
    places = [h.name for h in hosts if h.state is not None or not roomy]
    instances, rules = [], {}
    for k in range(draw(st.integers(0, sum(room.values())))):
        instance_id = f"vm-{k + 1}"
        size = draw(st.sampled_from([1, 1, 1, 2]))
        group_id = draw(st.sampled_from([None, *groups])) or solo_group(instance_id)
        limit = groups[group_id].per_host_limit if group_id in groups else None
        fits = [
            h
            for h in places
            if room[h] >= size and (limit is None or members[(h, group_id)] < limit)
        ]
        if not fits:
            continue  # the cloud is drawn within its constraints
        host = draw(st.sampled_from(fits))
        room[host] -= size
        members[(host, group_id)] += 1
        instances.append(Instance(instance_id, draw(st.sampled_from(projects)), host, size))
        rules[instance_id] = InstanceRule(
            instance_id,
            group_id,
            migration_type=draw(st.sampled_from(MIGRATION_TYPES)),
            lead_time=draw(st.sampled_from([0.0, 0.0, 10.0, 30.0])),
        )
    return Scene(hosts, instances, Rules(rules, groups, zone_limit), managers)


def bench_module():
    """bench/vnf_makespan.py, whose case and lower bound the makespan is held to."""
    spec = importlib.util.spec_from_file_location("vnf_makespan", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("vnf_makespan", module)
    spec.loader.exec_module(module)
    return module


def bench_scene(bench, seed: int = 7) -> tuple[Scene, float]:
    """The bench's case as its simulated cloud starts it (instance j on compute host j mod N,
    every host of the capacity that can hold the others' instances), and its lower bound."""
    case = bench.build_case(seed)
    total = bench.PROJECTS * bench.PER_PROJECT
    capacity = bench.host_capacity(bench.HOSTS, total)
    hosts = [
        Host(f"compute-{n}", capacity, state=HostState.PENDING, position=n - 1)
        for n in range(1, bench.HOSTS + 1)
    ]
    instances = []
    for j in range(total):
        project = f"project-{j // bench.PER_PROJECT + 1}"
        name = f"{project}-vm-{j % bench.PER_PROJECT + 1}"
        instances.append(Instance(name, project, f"compute-{j % bench.HOSTS + 1}"))
    rules = {
        name: InstanceRule(
            name,
            fields["group_id"] or solo_group(name),
            fields["migration_type"],
            float(fields["max_interruption_time"]),
            float(fields["lead_time"]),
        )
        for name, fields in case.instances.items()
    }
    groups = {
        g.group_id: GroupRule(
            g.group_id, g.anti_affinity, g.max_per_host or None, g.max_impacted, float(g.recovery)
        )
        for g in case.groups
    }
    managers = {f"project-{p}": False for p in range(1, bench.PROJECTS + 1)}
    scene = Scene(hosts, instances, Rules(rules, groups), managers)
    return scene, bench.lower_bound(case, capacity)["bound"]
