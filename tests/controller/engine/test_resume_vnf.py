"""The vnf workflow killed at its busiest: several hosts in maintenance at once, moves in flight,
per-instance questions open. A restart (or, on PostgreSQL, the other controller) finishes the
session with every constraint kept, each decided move made once, none lost or half-started, and
every manager's conversation whole."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from sqlalchemy import select

from fenix.db.database import Database
from fenix.db.models import SessionAsk, SessionHost, SessionInstance
from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.vnfm import SampleVnfm, VnfmConfig
from tests.controller.live import wait_until
from tests.controller.processes import Balancer, ControllerProcess, free_port

pytestmark = pytest.mark.slow  # whole sessions through live controllers

PROJECTS = {"project-1": "LIVE_MIGRATE", "project-2": "MIGRATE"}


@pytest.fixture
def cloud():
    config = SimulatedCloudConfig(
        hosts=8,
        projects=2,
        instances=4,
        migrate_seconds=1.5,
        live_migrate_seconds=1.2,
        maintain_seconds=2.0,
    )
    sim, handle = start_sim_cloud(config)
    yield handle.url
    handle.stop()
    sim.close()


class Stack:
    """Controllers on one database behind a balancer, and a manager per project."""

    def __init__(self, tmp_path, cloud: str, db_url: str, names: list[str]) -> None:
        ports = {name: free_port() for name in names}
        self.balancer = Balancer([f"http://127.0.0.1:{port}" for port in ports.values()])
        env = {"FENIX_PUBLIC_URL": self.balancer.url, "FENIX_REPLY_WINDOW": "20"}
        self.controllers = [
            ControllerProcess(tmp_path, cloud, db_url=db_url, name=name, env=env, port=port)
            for name, port in ports.items()
        ]
        self.db_url = db_url
        self.cloud = cloud
        self.managers: list[SampleVnfm] = []

    def start(self) -> None:
        self.balancer.start()
        for controller in self.controllers:
            controller.start()
        for project, action in PROJECTS.items():
            config = VnfmConfig(
                controller_url=self.balancer.url,
                project_id=project,
                instance_action=action,
                reply_delay=0.5,  # questions stay open a while: the kill finds some
                cloud=SimulatedDriver(self.cloud),
            )
            self.managers.append(SampleVnfm(config).start())

    def close(self) -> None:
        for manager in self.managers:
            manager.stop()
        for controller in self.controllers:
            controller.stop()
        self.balancer.stop()

    def put(self, path: str, body: dict) -> None:
        response = requests.put(f"{self.balancer.url}{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text

    def get(self, path: str) -> dict:
        return requests.get(f"{self.balancer.url}{path}", timeout=10).json()


@pytest.fixture
def make_stack(tmp_path, cloud):
    stacks: list[Stack] = []

    def make(db_url: str, names: list[str]) -> Stack:
        stack = Stack(tmp_path, cloud, db_url, names)
        stacks.append(stack)
        stack.start()
        return stack

    yield make
    for stack in stacks:
        stack.close()


def _constrain(stack: Stack) -> dict[str, list[str]]:
    """A group per project: at most 2 members impacted at once, at most 2 on a host, 1 s to
    recover. Returns each group's members."""
    groups = {}
    instances = SimulatedDriver(stack.cloud).list_instances()
    for project in PROJECTS:
        group_id = f"{project}-group"
        members = sorted(i.instance_id for i in instances if i.project_id == project)
        stack.put(
            f"/v1/instance_group/{group_id}",
            {
                "project_id": project,
                "group_name": group_id,
                "max_impacted_members": 2,
                "max_instances_per_host": 2,
                "recovery_time": 1,
            },
        )
        for member in members:
            stack.put(f"/v1/instance/{member}", {"project_id": project, "group_id": group_id})
        groups[group_id] = members
    return groups


def _busiest_moment(db: Database, session_id: str) -> dict | None:
    """The session with two hosts or more out at once, a move running and a question open."""
    with db.transaction() as repo:
        out = repo.orm.scalars(
            select(SessionHost.name).where(
                SessionHost.session_id == session_id,
                SessionHost.state.in_(("PREPARING", "IN_MAINTENANCE")),
            )
        ).all()
        moving = repo.orm.scalars(
            select(SessionInstance.instance_id).where(
                SessionInstance.session_id == session_id,
                SessionInstance.action_state == "RUNNING",
            )
        ).all()
        open_asks = repo.orm.scalars(
            select(SessionAsk.key).where(
                SessionAsk.session_id == session_id, SessionAsk.reply.is_(None)
            )
        ).all()
    if len(out) >= 2 and moving and open_asks:
        return {"out": list(out), "moving": list(moving), "open": list(open_asks)}
    return None


def _maintaining_while_preparing(db: Database, session_id: str) -> dict | None:
    """Still in PREPARE_MAINTENANCE, one host of the first wave already emptied and in
    maintenance while another is still being emptied."""
    with db.transaction() as repo:
        session = repo.get_session(session_id)
        states = {h.name: h.state for h in session.hosts}
        if session.state != "PREPARE_MAINTENANCE":
            return None
    maintaining = [h for h, state in states.items() if state == "IN_MAINTENANCE"]
    preparing = [h for h, state in states.items() if state == "PREPARING"]
    if maintaining and preparing:
        return {"maintaining": maintaining, "preparing": preparing}
    return None


def _run_and_kill(
    stack: Stack, moment=_busiest_moment
) -> tuple[str, ControllerProcess, dict[str, list[str]]]:
    """Start a vnf session over every host; at `moment` (by default its busiest), SIGKILL the
    controller running it. Returns the session, the controller killed, and the groups."""
    groups = _constrain(stack)
    created = requests.post(
        f"{stack.balancer.url}/v1/maintenance",
        json={"state": "MAINTENANCE", "hosts": [], "workflow": "vnf"},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    session_id = created.json()["session_id"]
    db = Database(stack.db_url)
    try:
        wait_until(lambda: moment(db, session_id), timeout=90, what=moment.__doc__.splitlines()[0])
        with db.transaction() as repo:
            owner = repo.get_session(session_id).owner
    finally:
        db.dispose()
    (victim,) = [c for c in stack.controllers if c.engine_id == owner]
    victim.kill()
    return session_id, victim, groups


def _check_finished_whole(stack: Stack, session_id: str, groups: dict[str, list[str]]) -> None:
    detail = wait_until(
        lambda: (
            (d := stack.get(f"/v1/maintenance/{session_id}/detail"))["state"].startswith(
                "MAINTENANCE_D"
            )
            and d
        ),
        timeout=180,
        what="the session ended",
    )
    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert detail["constraint_breaches"] == []
    assert all(h["state"] == "MAINTENANCE_COMPLETE" and not h["disabled"] for h in detail["hosts"])
    events = stack.get(f"/v1/maintenance/{session_id}/events?limit=5000")["events"]
    assert len({e["subject"] for e in events if e["kind"] == "engine.run"}) == 2

    # No move lost or half-started; each decided move made once in the cloud.
    assert {i["action_state"] for i in detail["instances"]} <= {"DONE", None}
    report = SimulatedDriver(stack.cloud).report()
    assert all(i["fate"] == "active" for i in report["instances"].values())
    decided: dict[str, set[str]] = {}
    for event in events:
        if event["kind"] == "instance.action" and event["new"] == "STARTING":
            decided.setdefault(event["subject"], set()).add(event["data"]["from"])
    made = {
        instance_id: [m for m in record["moves"] if m["status"] == "DONE"]
        for instance_id, record in report["instances"].items()
    }
    for instance_id, sources in decided.items():
        assert len(made[instance_id]) == len(sources), (instance_id, sources, made[instance_id])
    assert {i for i, moves in made.items() if moves} == set(decided)

    # The groups' limits held in the cloud itself, replayed move by move.
    for members in groups.values():
        on_host = Counter(report["instances"][m]["hosts"][0] for m in members)
        where = {m: report["instances"][m]["hosts"][0] for m in members}
        for move in sorted(
            (dict(m, instance_id=i) for i in members for m in made[i]), key=lambda m: m["end"]
        ):
            where[move["instance_id"]] = move["to"]
            on_host = Counter(where.values())
            assert max(on_host.values()) <= 2, (move, on_host)

    # Each manager's conversation: every question answered and taken, and each move made
    # told of once.
    db = Database(stack.db_url)
    try:
        with db.transaction() as repo:
            asks = repo.asks(session_id)
            unanswered = [
                (a.project_id, a.instance_id, a.step, a.reply, a.key)
                for a in asks
                if not (a.reply and a.reply.startswith("ACK_"))
            ]
            assert asks and not unanswered, unanswered
    finally:
        db.dispose()
    assert not [e for e in events if e["kind"] == "project.reply.rejected"]
    for manager in stack.managers:
        project = manager.config.project_id
        sent = [m for m in manager.messages if m["direction"] == "sent"]
        assert sent and all(m["http_status"] == 200 for m in sent), sent
        wait_until(
            lambda m=manager: any(x["state"] == "MAINTENANCE_DONE" for x in m.messages),
            what=f"{project} told the session is done",
        )
        told = Counter(
            instance_id
            for m in manager.messages
            if m["direction"] == "received" and m["state"] == "INSTANCE_ACTION_DONE"
            for instance_id in m["body"]["instance_ids"]
        )
        # Once per move made: an instance moved twice (off two hosts) is told twice.
        moved = Counter({i: len(made[i]) for i in decided if i.startswith(f"{project}-")})
        assert told == moved, (project, told, moved)


def test_a_vnf_session_killed_at_its_busiest_is_finished_by_a_restart(make_stack, database_url):
    stack = make_stack(database_url, ["only"])

    session_id, killed, groups = _run_and_kill(stack)
    killed.start()

    _check_finished_whole(stack, session_id, groups)


def test_a_vnf_session_killed_with_a_host_in_maintenance_before_its_wave_is_empty_is_finished(
    make_stack, database_url
):
    """The host already in maintenance when PREPARE_MAINTENANCE resumes is maintained, not left
    IN_MAINTENANCE with nobody at work on it (the session then ended blocked)."""
    stack = make_stack(database_url, ["only"])

    session_id, killed, groups = _run_and_kill(stack, _maintaining_while_preparing)
    killed.start()

    _check_finished_whole(stack, session_id, groups)


def test_a_vnf_session_killed_at_its_busiest_is_finished_by_the_other_controller(
    make_stack, postgres_url
):
    stack = make_stack(postgres_url, ["a", "b"])

    session_id, killed, groups = _run_and_kill(stack)  # the other takes it when the lease ends

    _check_finished_whole(stack, session_id, groups)
    events = stack.get(f"/v1/maintenance/{session_id}/events?limit=5000")["events"]
    runs = [e["subject"] for e in events if e["kind"] == "engine.run"]
    (other,) = [c for c in stack.controllers if c is not killed]
    assert runs == [killed.engine_id, other.engine_id]
