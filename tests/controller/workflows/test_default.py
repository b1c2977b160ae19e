"""The default workflow end to end: real managers, real HTTP, the simulated cloud as the judge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fenix.drivers.simulated import SimulatedDriver
from tests.controller.live import wait_until


def _steps_received(vnfm) -> list[str]:
    return [m["state"] for m in vnfm.messages if m["direction"] == "received"]


def _kinds(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["kind"] == kind]


@pytest.mark.slow
def test_acking_managers_get_every_host_maintained_with_live_migrations_serving(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 2, "instances": 3})
    live_manager = live.add_manager("project-1", instance_action="LIVE_MIGRATE")
    cold_manager = live.add_manager("project-2", instance_action="MIGRATE")
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert detail["percent_done"] == 100
    assert {h["name"]: h["state"] for h in detail["hosts"]} == {
        f"compute-{n}": "MAINTENANCE_COMPLETE" for n in (1, 2, 3)
    }
    assert not any(h["disabled"] for h in detail["hosts"])
    report = live.cloud_report()
    assert all(len(h["maintenance"]) == 1 for h in report["hosts"].values())
    assert all(h["enabled"] for h in report["hosts"].values())
    instances = report["instances"]
    assert len(instances) == 6 and all(i["fate"] == "active" for i in instances.values())
    for instance_id, measured in instances.items():
        if instance_id.startswith("project-1"):
            assert measured["downtime_seconds"] == 0, instance_id
        else:
            assert measured["downtime_seconds"] > 0, instance_id  # cold migration was measured
    for manager in (live_manager, cold_manager):
        wait_until(lambda m=manager: "MAINTENANCE_DONE" in _steps_received(m), what="DONE sent")
        steps = _steps_received(manager)
        assert steps[0] == "MAINTENANCE"
        assert "PLANNED_MAINTENANCE" in steps and "ADMIN_ACTION_DONE" in steps
        assert steps[-2:] == ["MAINTENANCE_COMPLETE", "MAINTENANCE_DONE"]


def test_host_is_out_of_service_only_while_it_is_maintained(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 3})
    session_id = live.create_session()
    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    timelines: dict[str, list[str]] = {}
    for event in live.events(session_id):
        if event["kind"] == "host.state":
            timelines.setdefault(event["subject"], []).append(event["new"])
    assert sorted(timelines) == ["compute-1", "compute-2", "compute-3"]
    # Each host goes through its states once, and no two hosts are out of service together.
    for states in timelines.values():
        assert states == ["PREPARING", "IN_MAINTENANCE", "MAINTENANCE_COMPLETE"]
    out = 0
    for event in live.events(session_id):
        if event["kind"] == "host.state" and event["new"] == "PREPARING":
            out += 1
        if event["kind"] == "host.state" and event["new"] == "MAINTENANCE_COMPLETE":
            out -= 1
        assert out <= 1


def test_projects_without_a_manager_get_live_migration_by_default(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 2, "instances": 2})
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = live.events(session_id)
    assert {e["subject"] for e in _kinds(events, "project.no_manager")} == {
        "project-1",
        "project-2",
    }
    report = live.cloud_report()
    assert all(i["downtime_seconds"] == 0 for i in report["instances"].values())


def test_moves_made_without_an_answer_follow_the_projects_standing_constraints(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 2, "instances": 2})
    driver = SimulatedDriver(live.sim_url)
    cold = [i.instance_id for i in driver.list_instances(project_id="project-1")]
    for instance_id in cold:  # project-1 has no manager, but a standing constraint
        response = live.http.put(
            f"{live.url}/v1/instance/{instance_id}",
            json={"project_id": "project-1", "migration_type": "MIGRATE"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    kinds = {
        project: {
            move["kind"]
            for instance_id, report in live.cloud_report()["instances"].items()
            if instance_id.startswith(f"{project}-")
            for move in report["moves"]
        }
        for project in ("project-1", "project-2")
    }
    assert kinds == {"project-1": {"migrate"}, "project-2": {"live_migrate"}}


def test_nack_of_maintenance_fails_the_session_before_any_host_is_touched(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 2, "instances": 2})
    live.add_manager("project-1")
    live.add_manager("project-2", nack_states=frozenset({"MAINTENANCE"}))
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_FAILED"
    assert "project-2" in detail["error"] and "NACK_MAINTENANCE" in detail["error"]
    assert all(h["state"] == "PENDING" and not h["disabled"] for h in detail["hosts"])
    assert all(h["enabled"] for h in live.cloud_report()["hosts"].values())


@pytest.mark.slow
def test_silent_manager_is_given_the_default_after_its_reply_window(live_stack):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 2}, reply_window=0.5, long_reply_window=0.5
    )
    live.add_manager("project-1", silent=True)
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    timeouts = _kinds(live.events(session_id), "project.reply.timeout")
    assert {e["new"] for e in timeouts} >= {"MAINTENANCE", "PLANNED_MAINTENANCE"}
    assert all(e["subject"] == "project-1" for e in timeouts)


@pytest.mark.slow
def test_no_room_to_empty_a_host_asks_managers_to_scale_in_and_back_out(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 2, "instances": 2})
    driver = SimulatedDriver(live.sim_url)
    capacity = driver.list_hosts()[0].capacity
    while len(driver.list_instances()) < 3 * capacity:  # fill every host to the brim
        driver.create_instance("project-1")
    before = len(driver.list_instances())
    managers = [
        live.add_manager("project-1", scale_in=capacity),
        live.add_manager("project-2", scale_in=0),
    ]
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    states = [e["new"] for e in _kinds(live.events(session_id), "session.state")]
    assert states[:2] == ["SCALE_IN", "PREPARE_MAINTENANCE"]
    assert "SCALE_IN" in _steps_received(managers[0])
    assert len(driver.list_instances()) == before  # scaled back out on MAINTENANCE_COMPLETE


def test_failed_migration_fails_the_session_and_put_resumes_it(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 3})
    live.add_manager("project-1", instance_action="LIVE_MIGRATE")
    driver = SimulatedDriver(live.sim_url)
    driver.inject_fault("live_migrate", count=1, message="libvirt: migration stream broken")
    session_id = live.create_session()

    failed = live.wait_for(session_id)

    assert failed["state"] == "MAINTENANCE_FAILED"
    assert "libvirt: migration stream broken" in failed["error"]
    held = [h["name"] for h in failed["hosts"] if h["disabled"]]
    assert len(held) == 1  # the host being emptied stays out of service, on record
    assert not next(h for h in driver.list_hosts() if h.name == held[0]).enabled
    events = live.events(session_id)
    assert _kinds(events, "hosts.left_disabled")[-1]["data"]["hosts"] == held

    resumed = live.http.put(
        f"{live.url}/v1/maintenance/{session_id}", json={"state": "PREPARE_MAINTENANCE"}
    )
    assert resumed.status_code == 200, resumed.text
    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert all(h.enabled for h in driver.list_hosts())
    assert len(live.cloud_report()["instances"]) == 3


@pytest.mark.slow
def test_deleting_a_running_session_gives_its_hosts_back(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 3})
    live.add_manager("project-1", reply_delay=3.0)
    driver = SimulatedDriver(live.sim_url)
    session_id = live.create_session()
    # The first host is out of service, its manager asked and not yet answered.
    wait_until(
        lambda: not all(h.enabled for h in driver.list_hosts()), what="a host out of service"
    )

    deleted = live.http.delete(f"{live.url}/v1/maintenance/{session_id}")

    assert deleted.status_code == 200, deleted.text
    wait_until(
        lambda: not live.runtime.engine.running_sessions, timeout=30, what="the session stopped"
    )
    assert all(h.enabled for h in driver.list_hosts())
    assert live.http.get(f"{live.url}/v1/maintenance/{session_id}").status_code == 404
    # The hosts are free for a new session.
    assert live.create_session()


def test_deleting_a_failed_session_puts_the_host_it_held_back_in_service(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 3})
    driver = SimulatedDriver(live.sim_url)
    driver.inject_fault("live_migrate", count=1, message="migration stream broken")
    session_id = live.create_session()
    failed = live.wait_for(session_id)
    assert failed["state"] == "MAINTENANCE_FAILED"
    assert not all(h.enabled for h in driver.list_hosts())

    assert live.http.delete(f"{live.url}/v1/maintenance/{session_id}").status_code == 200

    # The cloud is told first, the record follows: wait for the record.
    released = wait_until(
        lambda: [e for e in live.events(session_id) if e["kind"] == "host.enabled"],
        what="host.enabled recorded",
    )
    assert all(h.enabled for h in driver.list_hosts())
    assert len(released) == 1 and released[0]["data"] == {"why": "session ended"}


def test_session_naming_no_action_plugins_gets_its_workflows_defaults(live_stack):
    live = live_stack.start(
        cloud={"hosts": 2, "projects": 1, "instances": 1},
        default_actions={"default": [{"plugin": "dummy", "type": "post"}]},
    )
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert [(p["plugin"], p["type"]) for p in detail["action_plugins"]] == [("dummy", "post")]
    assert [r["type"] for r in detail["action_runs"]] == ["post"]


def test_deleting_a_session_planned_for_later_frees_its_hosts_at_once(live_stack):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    session_id = live.create_session(maintenance_at="2099-01-01 00:00:00")

    assert live.http.delete(f"{live.url}/v1/maintenance/{session_id}").status_code == 200

    second = wait_until(
        lambda: (
            live.http.post(
                f"{live.url}/v1/maintenance", json={"state": "MAINTENANCE", "hosts": []}
            ).status_code
            == 200
        ),
        what="hosts free for a new session",
    )
    assert second


@pytest.mark.slow
def test_managers_are_told_at_creation_and_no_host_is_touched_before_maintenance_at(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 2}, reply_window=4.0)
    manager = live.add_manager("project-1")
    created = datetime.now(UTC)
    maintenance_at = (created + timedelta(seconds=6)).replace(microsecond=0)
    session_id = live.create_session(maintenance_at=maintenance_at.strftime("%Y-%m-%d %H:%M:%S"))

    told = wait_until(
        lambda: next(
            (
                m
                for m in manager.messages
                if m["direction"] == "received" and m["state"] == "MAINTENANCE"
            ),
            None,
        ),
        what="MAINTENANCE told",
    )
    detail = live.wait_for(session_id, timeout=60)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    told_at = datetime.fromisoformat(told["at"])
    assert told_at < maintenance_at  # as Fenix: at creation, not at maintenance_at
    body = told["body"]
    assert datetime.fromisoformat(body["actions_at"]) == maintenance_at
    reply_at = datetime.fromisoformat(body["reply_at"])
    assert created + timedelta(seconds=4) <= reply_at <= told_at + timedelta(seconds=4)
    events = live.events(session_id)
    (waiting,) = _kinds(events, "session.waiting")
    assert datetime.fromisoformat(waiting["data"]["until"]) == maintenance_at
    touched = [e for e in events if e["kind"] in ("host.state", "instance.action")]
    assert touched and min(datetime.fromisoformat(e["at"]) for e in touched) >= maintenance_at


@pytest.mark.slow
def test_the_default_workflow_tells_each_move_it_carried_out(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 3})
    manager = live.add_manager("project-1", instance_action="MIGRATE")
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    wait_until(lambda: "MAINTENANCE_DONE" in _steps_received(manager), what="told it is done")
    received = [m["body"] for m in manager.messages if m["direction"] == "received"]
    done = [b["instance_ids"] for b in received if b["state"] == "INSTANCE_ACTION_DONE"]
    moves = [
        e for e in live.events(session_id) if e["kind"] == "instance.action" and e["new"] == "DONE"
    ]
    # One INSTANCE_ACTION_DONE per move, naming its one instance in a list, as Fenix's code did;
    # then ADMIN_ACTION_DONE for the host.
    assert sorted(done) == sorted([e["subject"]] for e in moves)
    states = [b["state"] for b in received]
    first_done = states.index("INSTANCE_ACTION_DONE")
    assert "ADMIN_ACTION_DONE" in states[first_done:]


def test_once_a_host_is_maintained_moves_go_to_maintained_hosts(live_stack):
    """A host given back to service is the best place for the next host's instances: they
    will not have to move again. The engine's view of the cloud, read once per step, must see
    each host it gives back (it saw it out of service when it was read). Eight instances on
    four hosts of room three: the first host maintained fills up with the second's, so the
    third's must go to the second, at the first try (a view that still had the second out of
    service sent one to the full first host, and the cloud refused it)."""
    live = live_stack.start(cloud={"hosts": 4, "projects": 1, "instances": 8})
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    maintained: set[str] = set()
    later_moves = 0
    for event in live.events(session_id):
        if event["kind"] == "host.state" and event["new"] == "MAINTENANCE_COMPLETE":
            maintained.add(event["subject"])
        starting = event["kind"] == "instance.action" and event["new"] == "STARTING"
        if starting and maintained:
            target = event["data"]["details"]["target"]
            assert target in maintained, (event["subject"], target, sorted(maintained))
            later_moves += 1
    assert later_moves >= 4  # the instances of the second and third hosts, at least
    refused = [
        e["subject"]
        for e in live.events(session_id)
        if e["kind"] == "instance.action" and e["new"] == "FAILED"
    ]
    assert refused == []
