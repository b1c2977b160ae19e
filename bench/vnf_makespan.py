"""Makespan of the vnf workflow against a lower bound, on the simulated cloud.

    .venv/bin/python bench/vnf_makespan.py [--scale 10] [--default-scale 20] [--seed 7]
                                           [--skip-default] [--skip-vnf]

The case: 50 hosts, 20 projects of 25 instances (500), each project's instances in groups
with mixed ETSI constraints (anti-affinity databases that allow one member impacted at a time
and need recovery time; web pools with several members per host and a few impacted at once;
singletons that need notice; instances with no constraints), drawn from a fixed seed. Each host
takes 60 s of maintenance, a live migration 3 s, a cold migration 6 s: simulated seconds. The
simulated cloud runs `--scale` times faster than that (its own process), and the vnf workflow
scales the constraints' seconds the same way (VnfWorkflow.TIME_SCALE), so the figures below are
in simulated seconds: wall seconds times the scale. The engine's own delays (database, HTTP,
Python) are scaled up with them, so they count against the workflow; its CPU time is printed
apart. No managers are subscribed, so every instance gets its default behaviour at once.

The engine runs in-process (Runtime with its engine, no API server); the constraints are written
through the repository, as PUT /v1/instance and /v1/instance_group would write them.

Lower bound (valid for any workflow on this case):
- capacity: with S free units and hosts of capacity C, at most k = floor(S / C) hosts can be
  empty at once; each host needs M seconds of maintenance, so in any window of length W at most
  k * floor(W / M) maintenances fit; none can start before one move has ended (no host is empty
  at the start). Hence makespan >= min_move + ceil(N / k) * M.
- groups: a group whose members must all move once (every host is maintained), with at most m
  impacted at a time and each impact lasting its move plus recovery_time, needs
  ceil(n / m) waves: makespan >= lead_time + (waves - 1) * (move + recovery) + move + M.
The bound is the larger of the two. The simulated cloud's own report is the judge of the run:
breaches are counted from its measured moves and downtime, not from the engine's word.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from fenix.config import Settings
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.simulators.cloud import host_capacity
from fenix.timeutil import utcnow
from fenix.workflows import register_workflow
from fenix.workflows.instance_talk import epoch
from fenix.workflows.vnf import VnfWorkflow

HOSTS, PROJECTS, PER_PROJECT = 50, 20, 25
MAINTAIN, LIVE, MIGRATE = 60.0, 3.0, 6.0
DEFAULT_ACTION = "LIVE_MIGRATE"


@dataclass
class Group:
    group_id: str
    project_id: str
    members: list[str]
    anti_affinity: bool = False
    max_per_host: int = 0
    max_impacted: int | None = None
    recovery: int = 0


@dataclass
class Case:
    groups: list[Group] = field(default_factory=list)
    instances: dict[str, dict] = field(default_factory=dict)
    """instance id -> its constraint fields (absent: no constraints)."""

    def group_of(self, instance_id: str) -> Group | None:
        group_id = self.instances.get(instance_id, {}).get("group_id")
        return next((g for g in self.groups if g.group_id == group_id), None)


def build_case(seed: int) -> Case:
    """Each project: a database group, a web pool, a few singletons, the rest unconstrained."""
    rng = random.Random(seed)
    case = Case()
    for p in range(1, PROJECTS + 1):
        project = f"project-{p}"
        names = [f"{project}-vm-{k}" for k in range(1, PER_PROJECT + 1)]
        db, rest = names[: rng.choice([3, 4, 5])], names[5:]
        web, rest = rest[: rng.choice([6, 8, 10])], rest[10:]
        singles, _free = rest[: rng.choice([2, 3, 4])], rest[4:]
        groups = [
            Group(f"{project}-db", project, db, True, 0, 1, rng.choice([10, 20, 30])),
            Group(f"{project}-web", project, web, False, 2, rng.choice([2, 3]), 5),
        ]
        case.groups += groups
        lead = rng.choice([0, 10, 20])
        for name in db:
            case.instances[name] = _instance(
                project, groups[0].group_id, "LIVE_MIGRATE", max_interruption=0, lead_time=lead
            )
        for name in web:
            case.instances[name] = _instance(
                project, groups[1].group_id, "MIGRATE", max_interruption=20, lead_time=5
            )
        for name in singles:
            case.instances[name] = _instance(
                project, None, "MIGRATE", max_interruption=15, lead_time=rng.choice([15, 30])
            )
    return case


def _instance(project, group, migration, *, max_interruption, lead_time) -> dict:
    return {
        "project_id": project,
        "group_id": group,
        "migration_type": migration,
        "max_interruption_time": max_interruption,
        "lead_time": lead_time,
        "resource_mitigation": False,
    }


# -- the lower bound -----------------------------------------------------------------------
def move_seconds(action: str) -> float:
    return {"LIVE_MIGRATE": LIVE, "MIGRATE": MIGRATE}[action]


def lower_bound(case: Case, capacity: int) -> dict:
    spare = HOSTS * capacity - PROJECTS * PER_PROJECT
    k = spare // capacity
    rounds = math.ceil(HOSTS / k)
    by_capacity = min(LIVE, MIGRATE) + rounds * MAINTAIN
    worst, by_group = None, 0.0
    for group in case.groups:
        if group.max_impacted is None:
            continue
        first = case.instances[group.members[0]]
        move = move_seconds(first["migration_type"])
        lead = min(case.instances[m]["lead_time"] for m in group.members)
        waves = math.ceil(len(group.members) / group.max_impacted)
        bound = lead + (waves - 1) * (move + group.recovery) + move + MAINTAIN
        if bound > by_group:
            worst, by_group = group.group_id, bound
    return {
        "spare_units": spare,
        "hosts_at_once": k,
        "rounds": rounds,
        "by_capacity": by_capacity,
        "by_group": by_group,
        "tightest_group": worst,
        "bound": max(by_capacity, by_group),
    }


# -- one run ---------------------------------------------------------------------------------
def start_cloud(scale: float) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "fenix.simulators.cloud",
        "--hosts",
        str(HOSTS),
        "--projects",
        str(PROJECTS),
        "--instances",
        str(PER_PROJECT),
        "--maintain-seconds",
        str(MAINTAIN / scale),
        "--live-migrate-seconds",
        str(LIVE / scale),
        "--migrate-seconds",
        str(MIGRATE / scale),
        "--evict-seconds",
        str(1.0 / scale),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    url = json.loads(process.stdout.readline())["url"]
    return process, url


def put_constraints(runtime: Runtime, case: Case) -> None:
    with runtime.db.transaction() as repo:
        for group in case.groups:
            repo.put_group_constraint(
                group.group_id,
                {
                    "project_id": group.project_id,
                    "group_name": group.group_id,
                    "anti_affinity_group": group.anti_affinity,
                    "max_instances_per_host": group.max_per_host,
                    "max_impacted_members": group.max_impacted,
                    "recovery_time": group.recovery,
                    "resource_mitigation": False,
                },
            )
        for instance_id, fields in case.instances.items():
            repo.put_instance_constraint(instance_id, {**fields, "instance_name": instance_id})


def run(workflow: str, case: Case, scale: float, workdir: Path) -> dict:
    cloud, url = start_cloud(scale)
    try:
        settings = Settings(
            database_url=f"sqlite:///{workdir / f'{workflow}.db'}",
            artifacts_dir=str(workdir / "artifacts"),
            sim_url=url,
            poll_interval=0.01,
            reply_window=1.0,
            long_reply_window=1.0,
            lease_seconds=60.0,
        )
        runtime = Runtime(settings)
        put_constraints(runtime, case)
        driver = SimulatedDriver(url)
        hosts = [(h.name, str(h.kind)) for h in driver.list_hosts()]
        capacity = driver.list_hosts()[0].capacity
        runtime.start()
        cpu = time.process_time()
        with runtime.db.transaction() as repo:
            session = repo.add_session(
                workflow=workflow,
                maintenance_at=utcnow(),
                meta={"bench": "vnf_makespan"},
                download=[],
                hosts=hosts,
                actions=[],
            )
            session_id = session.id
        runtime.wake()
        while True:
            with runtime.db.transaction() as repo:
                state = repo.get_session(session_id).state
            if state in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED"):
                break
            time.sleep(0.05)
        cpu = time.process_time() - cpu
        with runtime.db.transaction() as repo:
            row = repo.get_session(session_id)
            error = row.error
            events = [
                (e.at, e.kind, e.subject, e.new, dict(e.data or {}))
                for e in repo.events(session_id)
            ]
            asks = [(a.instance_id, epoch(a.notified_at)) for a in repo.asks(session_id)]
        report = driver.report()
        runtime.stop()
    finally:
        cloud.terminate()
        cloud.wait(10)
    created = next(at for at, kind, *_ in events if kind == "session.created")
    ended = next(at for at, kind, _s, new, _d in events if kind == "session.state" and new == state)

    def since_start(at) -> float:
        return (at - created).total_seconds() * scale

    out = [since_start(at) for at, kind, _s, new, _d in events if kind == "host.state"]
    return {
        "workflow": workflow,
        "scale": scale,
        "state": state,
        "error": error,
        "makespan": since_start(ended),
        "first_out": min(out, default=0.0),
        "last_back": max(out, default=0.0),
        "cpu": cpu,
        "capacity": capacity,
        "engine_breaches": sum(1 for _a, kind, *_ in events if kind == "constraint.breach"),
        "judge": judge(case, report, asks, scale),
        "parallel": most_in_maintenance(events),
    }


# -- the judge ---------------------------------------------------------------------------------
def judge(case: Case, report: dict, asks: list[tuple[str, float]], scale: float) -> dict:
    """Breaches as the simulated cloud measured them (seconds scaled back to simulated)."""
    instances = report["instances"]
    moves = sum(1 for i in instances.values() for m in i["moves"] if m["status"] == "DONE")
    breaches: Counter[str] = Counter()
    for instance_id, measured in instances.items():
        limit = case.instances.get(instance_id, {}).get("max_interruption_time")
        if limit is None:
            continue
        for start, end in measured["downtime_intervals"]:
            if ((end or start) - start) * scale > limit + 1e-6:
                breaches["max_interruption_time"] += 1
    notified = defaultdict(list)
    for instance_id, at in asks:
        notified[instance_id].append(at)
    for instance_id, fields in case.instances.items():
        lead = fields["lead_time"] / scale
        for move in instances[instance_id]["moves"]:
            told = [t for t in notified.get(instance_id, []) if t <= move["start"]]
            if lead and (not told or move["start"] < max(told) + lead - 1e-3):
                breaches["lead_time"] += 1
    for group in case.groups:
        breaches["max_impacted_members"] += _impact_breaches(group, instances, scale)
        breaches["placement"] += _placement_breaches(group, instances)
    return {
        "moves": moves,
        "moves_per_instance": moves / len(instances),
        "breaches": dict(breaches),
        "total_breaches": sum(breaches.values()),
    }


def _impact_breaches(group: Group, instances: dict, scale: float) -> int:
    if group.max_impacted is None:
        return 0
    windows = [
        (m["start"], m["end"] + group.recovery / scale)
        for name in group.members
        for m in instances[name]["moves"]
        if m["end"] is not None
    ]
    points = sorted([(s, 1) for s, _e in windows] + [(e, -1) for _s, e in windows])
    depth, breaches = 0, 0
    for _at, step in points:
        depth += step
        breaches += depth > group.max_impacted
    return breaches


def _placement_breaches(group: Group, instances: dict) -> int:
    limit = 1 if group.anti_affinity else (group.max_per_host or None)
    if limit is None:
        return 0
    where = {name: instances[name]["hosts"][0] for name in group.members}
    arrivals = sorted(
        (m["end"], name, m["to"])
        for name in group.members
        for m in instances[name]["moves"]
        if m["status"] == "DONE" and m["to"]
    )
    breaches = 0
    for _end, name, to in arrivals:
        where[name] = to
        breaches += Counter(where.values())[to] > limit
    return breaches


def most_in_maintenance(events: list) -> int:
    out, most = 0, 0
    for _at, kind, _subject, new, _data in events:
        if kind == "host.state" and new == "IN_MAINTENANCE":
            out += 1
        elif kind == "host.state" and new == "MAINTENANCE_COMPLETE":
            out -= 1
        most = max(most, out)
    return most


# -- the report ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=10.0, help="simulated s per wall s")
    parser.add_argument(
        "--default-scale",
        type=float,
        default=20.0,
        help="time scale of the default workflow's run: it takes one host at a time, so at "
        "the vnf run's scale it would take about four times longer",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--skip-vnf", action="store_true")
    args = parser.parse_args(argv)

    class ScaledVnf(VnfWorkflow):
        TIME_SCALE = args.scale

    register_workflow("vnf", ScaledVnf)
    case = build_case(args.seed)
    constrained = sum(1 for g in case.groups for _m in g.members)
    print(
        f"case: {HOSTS} hosts, {PROJECTS} projects, {PROJECTS * PER_PROJECT} instances; "
        f"{len(case.groups)} groups holding {constrained} instances, "
        f"{len(case.instances)} with instance constraints; seed {args.seed}; "
        f"maintenance {MAINTAIN:.0f} s/host, live migration {LIVE:.0f} s, "
        f"migration {MIGRATE:.0f} s"
    )
    bound = lower_bound(case, host_capacity(HOSTS, PROJECTS * PER_PROJECT))
    print(
        f"lower bound: {bound['bound']:.0f} s = max(capacity {bound['by_capacity']:.0f} s: "
        f"{bound['spare_units']} free units, {bound['hosts_at_once']} hosts at once, "
        f"{bound['rounds']} rounds of {MAINTAIN:.0f} s after the first {min(LIVE, MIGRATE):.0f} s "
        f"move; groups {bound['by_group']:.0f} s: {bound['tightest_group']})",
        flush=True,
    )
    plan = [] if args.skip_vnf else [("vnf", args.scale)]
    if not args.skip_default:
        plan.append(("default", args.default_scale or args.scale))
    runs = []
    with tempfile.TemporaryDirectory(prefix="fenix-bench-") as tmp:
        for workflow, scale in plan:
            started = time.monotonic()
            result = run(workflow, case, scale, Path(tmp))
            result["wall"] = time.monotonic() - started
            runs.append(result)
    print(
        f"{'workflow':<9} {'scale':>5} {'state':<17} {'makespan':>9} {'/bound':>7} "
        f"{'first out':>9} {'last back':>9} {'moves/inst':>10} {'breaches':>8} {'engine':>6} "
        f"{'at once':>7} {'cpu':>7} {'wall':>6}"
    )
    for r in runs:
        j = r["judge"]
        print(
            f"{r['workflow']:<9} {r['scale']:>4g}x {r['state']:<17} {r['makespan']:>8.0f}s "
            f"{r['makespan'] / bound['bound']:>7.3f} {r['first_out']:>8.0f}s "
            f"{r['last_back']:>8.0f}s {j['moves_per_instance']:>10.2f} "
            f"{j['total_breaches']:>8} {r['engine_breaches']:>6} {r['parallel']:>7} "
            f"{r['cpu']:>6.1f}s {r['wall']:>5.0f}s"
        )
        if r["error"]:
            print(f"  error: {r['error']}")
        if j["total_breaches"]:
            print(f"  breaches by constraint (judged from the cloud's report): {j['breaches']}")
    print(
        "seconds are simulated (wall x scale), from the session's creation: the engine's own "
        "delays are scaled up with the cloud's, so they count against it; first out / last "
        "back: the first host taken out of service, the last one back. breaches: judged from "
        "the simulated cloud's measurements (engine: constraint.breach events it recorded "
        "itself). at once: most hosts in maintenance together. cpu: the controller process "
        "(engine, database); the cloud runs in its own process"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
