"""POST /v1/maintenance/plan over a real app, database and simulated cloud: the plan of a
session from the managers' standing constraints, and nothing touched."""

from __future__ import annotations

import pytest

from fenix.api.responses import SessionPlan

from .helpers import PROJECT_TOKENS, SAMPLE_CREATE, error_message

HOSTS = ["compute-1", "compute-2", "compute-3"]
DURATIONS = {"live_migrate": 3, "migrate": 6, "evict": 1, "own_action": 4, "maintain": 60}


def _plan(client, **body):
    return client.post("/v1/maintenance/plan", json={"state": "MAINTENANCE", **body})


def _cloud(runtime):
    hosts = {h.name: h.enabled for h in runtime.driver.list_hosts()}
    instances = {i.instance_id: i.host for i in runtime.driver.list_instances()}
    return hosts, instances


def test_the_vnf_plan_follows_the_standing_constraints_and_touches_nothing(
    client, client_as, runtime, count_rows
):
    client.put(
        "/v1/instance_group/db",
        json={
            "group_id": "db",
            "project_id": "project-1",
            "anti_affinity_group": True,
            "max_impacted_members": 1,
            "recovery_time": 10,
        },
    )
    for name in ("project-1-vm-1", "project-1-vm-2"):
        client.put(
            f"/v1/instance/{name}",
            json={"project_id": "project-1", "group_id": "db", "migration_type": "MIGRATE"},
        )
    client.put(
        "/v1/instance/project-2-vm-1",
        json={"project_id": "project-2", "migration_type": "OWN_ACTION"},
    )
    runtime.settings.callback_allow_networks = ["127.0.0.0/8"]
    subscribed = client_as(PROJECT_TOKENS["project-2"]).post(
        "/v1/subscriptions",
        json={
            "event_types": ["maintenance.planned"],
            "project_id": "project-2",
            "callback_url": "http://127.0.0.1:9/vnfm",
        },
    )
    assert subscribed.status_code == 201, subscribed.get_json()
    before_rows, before_cloud = count_rows(), _cloud(runtime)

    response = _plan(client, hosts=HOSTS, workflow="vnf", durations=DURATIONS)

    assert response.status_code == 200, response.get_json()
    plan = SessionPlan.model_validate(response.get_json())
    assert plan.planner == "parallel" and plan.blocked is None
    assert plan.session_hosts == HOSTS
    assert sorted(h.host for h in plan.hosts) == HOSTS
    assert [h.order for h in plan.hosts] == [1, 2, 3]
    assert sorted(sum(plan.waves, [])) == HOSTS
    how = {m.instance_id: m for m in plan.moves}
    assert how["project-1-vm-1"].action == how["project-1-vm-2"].action == "MIGRATE"
    assert how["project-2-vm-1"].action == "OWN_ACTION", "its manager moves it"
    assert how["project-2-vm-1"].target is None
    assert how["project-2-vm-2"].action == "LIVE_MIGRATE", "no constraints: the default"
    assert how["project-1-vm-1"].how.startswith("cold-migrated")
    for move in plan.moves:
        if move.target is not None:
            assert move.target != move.source
    assert plan.lower_bound.seconds is not None
    assert plan.estimate >= plan.lower_bound.seconds
    assert plan.durations.maintain == 60 and plan.durations.migrate == 6
    # Nothing touched: no row of any kind, every host in service, every instance in place.
    assert count_rows() == before_rows
    assert _cloud(runtime) == before_cloud
    assert all(before_cloud[0].values())


def test_a_plan_that_cannot_go_to_the_end_says_why_and_estimates_nothing(client):
    # Anti-affine members on every compute host: none of them has anywhere to go.
    client.put(
        "/v1/instance_group/spread",
        json={"group_id": "spread", "project_id": "project-1", "anti_affinity_group": True},
    )
    for name in ("project-1-vm-1", "project-1-vm-2", "project-2-vm-1"):
        project = name.rsplit("-vm-", 1)[0]
        client.put(f"/v1/instance/{name}", json={"project_id": project, "group_id": "spread"})

    response = _plan(client, hosts=HOSTS, workflow="vnf", durations=DURATIONS)

    assert response.status_code == 200, response.get_json()
    plan = response.get_json()
    assert plan["blocked"] and plan["estimate"] is None
    assert plan["hosts"] == []
    assert "cannot be placed under their constraints" in plan["blocked"]


def test_the_default_workflow_plans_one_host_at_a_time(client, count_rows):
    before = count_rows()

    response = _plan(client, hosts=HOSTS)

    assert response.status_code == 200, response.get_json()
    plan = response.get_json()
    assert plan["workflow"] == "default" and plan["planner"] == "one_at_a_time"
    assert [len(wave) for wave in plan["waves"]] == [1, 1, 1]
    assert plan["hosts"][0]["step"] == "PREPARE_MAINTENANCE"
    assert plan["estimate"] >= plan["lower_bound"]["seconds"]
    assert plan["assumptions"]
    assert count_rows() == before


def test_a_plan_takes_fenix_s_sample_body_and_every_compute_host_by_default(client):
    body = {k: v for k, v in SAMPLE_CREATE.items() if k != "download"}
    body["actions"] = [{"plugin": "dummy", "type": "host"}]

    sample = client.post("/v1/maintenance/plan", json={**body, "hosts": ["compute-1"]})
    every = _plan(client)

    assert sample.status_code == 200, sample.get_json()
    assert sample.get_json()["maintenance_at"] == "2018-02-28T06:06:03+00:00"
    assert every.get_json()["session_hosts"] == HOSTS


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"hosts": ["compute-9"]}, 404, "no host compute-9"),
        ({"hosts": ["compute-1", "compute-1"]}, 400, "more than once"),
        ({"workflow": "nope"}, 400, "unknown workflow"),
        ({"mainteance_at": "2030-01-01 00:00:00"}, 400, "mainteance_at"),
        ({"durations": {"maintain": -1}}, 400, "durations.maintain"),
        ({"durations": {"reboot": 5}}, 400, "durations.reboot"),
        ({"actions": [{"plugin": "no-such-plugin", "type": "host"}]}, 400, "no-such-plugin"),
    ],
)
def test_bad_input_gets_the_answer_creating_it_would(client, count_rows, body, status, says):
    before = count_rows()

    response = _plan(client, **body)

    assert response.status_code == status
    assert says in error_message(response)
    assert count_rows() == before


def test_a_host_in_another_session_is_a_conflict(client, create_session):
    create_session(hosts=["compute-2"])

    response = _plan(client, hosts=HOSTS)

    assert response.status_code == 409
    assert "compute-2 is in session" in error_message(response)


def test_only_the_admin_may_ask_for_a_plan(client_as):
    response = client_as(PROJECT_TOKENS["project-1"]).post(
        "/v1/maintenance/plan", json={"state": "MAINTENANCE"}
    )

    assert response.status_code == 403
