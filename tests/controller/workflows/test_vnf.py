"""The vnf workflow end to end: hosts in parallel, per-instance conversation, scale in and out."""

from __future__ import annotations

import json

import pytest

from fenix.demo.runner import DemoOptions, run_demo
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.vnfm import SampleVnfm, VnfmConfig
from tests.controller.live import FINAL, wait_until
from tests.controller.workflows.vnf_helpers import (
    at,
    host_windows,
    most_at_once,
    session_states,
)

pytestmark = pytest.mark.slow

P1, P2 = "project-1", "project-2"


def _received(vnfm) -> list[dict]:
    return [m["body"] for m in vnfm.messages if m["direction"] == "received"]


class SingleActionVnfm(SampleVnfm):
    """A manager that answers a per-instance step with a lone `instance_action`."""

    def _on_instance_step(self, payload):
        return {"state": f"ACK_{payload['state']}", "instance_action": "MIGRATE"}


class MuteOnInstancesVnfm(SampleVnfm):
    """A manager that answers the project-wide steps but never the per-instance ones."""

    def _reply(self, payload, reply):
        if payload["state"] not in ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE"):
            super()._reply(payload, reply)


def test_hosts_are_maintained_in_parallel_when_capacity_allows(live_stack):
    # Four hosts of capacity 2, one instance each: two hosts can be empty at once.
    live = live_stack.start(
        cloud={"hosts": 4, "projects": 1, "instances": 4, "maintain_seconds": 0.4}
    )
    session_id = live.create_session(workflow="vnf")

    detail = live.wait_for(session_id, timeout=60)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert detail["constraint_breaches"] == []
    events = live.events(session_id)
    assert most_at_once(host_windows(events)) >= 2  # two hosts IN_MAINTENANCE together
    assert "SCALE_IN" not in session_states(events)  # capacity was not short: nobody asked
    report = live.cloud_report()
    assert all(len(h["maintenance"]) == 1 for h in report["hosts"].values())
    assert all(h["enabled"] for h in report["hosts"].values())


def test_sample_managers_are_asked_per_instance_and_told_when_each_action_is_done(live_stack):
    live = live_stack.start(cloud={"hosts": 4, "projects": 2, "instances": 2})
    managers = [
        live.add_manager(P1, instance_action="LIVE_MIGRATE"),
        live.add_manager(P2, instance_action="MIGRATE"),
    ]
    session_id = live.create_session(workflow="vnf")

    detail = live.wait_for(session_id, timeout=60)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    report = live.cloud_report()
    for manager, kind in zip(managers, ("live_migrate", "migrate"), strict=True):
        project = manager.config.project_id
        wait_until(
            lambda m=manager: any(b["state"] == "MAINTENANCE_DONE" for b in _received(m)),
            what="MAINTENANCE_DONE sent",
        )
        bodies = _received(manager)
        asked = [b for b in bodies if b["state"] in ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE")]
        done = [b for b in bodies if b["state"] == "INSTANCE_ACTION_DONE"]
        assert asked and all(len(b["instance_ids"]) == 1 for b in asked)
        assert all(b["reply_url"].endswith(f"/{project}/{b['instance_ids'][0]}") for b in asked)
        # INSTANCE_ACTION_DONE names its one instance in a list, as Fenix's code sent it.
        assert sorted(b["instance_ids"] for b in done) == sorted(
            [b["instance_ids"][0]] for b in asked
        )
        ours = [i for i in report["instances"] if i.startswith(project)]
        assert {m["kind"] for i in ours for m in report["instances"][i]["moves"]} == {kind}
        replies = [m for m in manager.messages if m["direction"] == "sent"]
        assert all(m["http_status"] == 200 for m in replies), replies


def test_a_lone_instance_action_answers_the_instance_it_is_asked_about(live_stack):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 3})
    config = VnfmConfig(
        controller_url=live.url,
        project_id=P1,
        cloud=SimulatedDriver(live.sim_url),
        token=live.token_for(P1),
    )
    manager = SingleActionVnfm(config).start()
    live.managers.append(manager)
    session_id = live.create_session(workflow="vnf")

    detail = live.wait_for(session_id, timeout=60)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    sent = [m for m in manager.messages if m["direction"] == "sent"]
    lone = [m for m in sent if "instance_action" in m["body"]]
    assert lone and all(m["http_status"] == 200 for m in lone)
    report = live.cloud_report()
    kinds = {m["kind"] for i in report["instances"].values() for m in i["moves"]}
    assert kinds == {"migrate"}  # the answer, not the default live migration


def test_a_project_asked_about_several_instances_names_the_one_it_answers(live_stack):
    live = live_stack.start(
        cloud={"hosts": 4, "projects": 1, "instances": 4}, reply_window=2.5, long_reply_window=0.5
    )
    config = VnfmConfig(controller_url=live.url, project_id=P1, token=live.token_for(P1))
    live.managers.append(MuteOnInstancesVnfm(config).start())
    session_id = live.create_session(workflow="vnf")
    url = f"{live.url}/v1/maintenance/{session_id}/{P1}"

    def asked_together():
        with live.runtime.db.transaction() as repo:
            asks = [(a.step, a.instance_id) for a in repo.asks(session_id, open_only=True)]
        return asks if len(asks) >= 2 else None

    (step, first), (_step, second) = wait_until(asked_together, what="two instances asked")[:2]
    ack = f"ACK_{step}"
    listed = live.http.get(url, timeout=10).json()["instance_ids"]

    lone = live.http.put(url, json={"state": ack, "instance_action": "MIGRATE"}, timeout=10)
    named = live.http.put(
        url, json={"state": ack, "instance_actions": {first: "MIGRATE"}}, timeout=10
    )
    answer = {"state": ack, "instance_action": "MIGRATE"}
    own_url = live.http.put(f"{url}/{second}", json=answer, timeout=10)
    again = live.http.put(f"{url}/{second}", json=answer, timeout=10)
    other = live.http.put(
        f"{url}/{second}", json={"state": ack, "instance_action": "LIVE_MIGRATE"}, timeout=10
    )

    assert {first, second} <= set(listed)
    assert lone.status_code == 400 and "name the one" in lone.json()["error"]["message"]
    assert named.status_code == 200, named.text
    assert own_url.status_code == 200, own_url.text
    # The same answer again is taken without change; a different one is refused, naming the
    # answer accepted.
    assert again.status_code == 200, again.text
    assert other.status_code == 409
    assert f"answered {ack} (MIGRATE) about {second}" in other.json()["error"]["message"]
    detail = live.wait_for(session_id, timeout=60)
    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    moved = live.cloud_report()["instances"]
    assert {m["kind"] for m in moved[first]["moves"]} >= {"migrate"}
    assert {m["kind"] for m in moved[second]["moves"]} >= {"migrate"}
    unknown = live.http.get(f"{url}/not-an-instance", timeout=10)
    assert unknown.status_code == 404


def test_short_capacity_asks_managers_to_scale_in_then_goes_in_parallel(live_stack):
    # Four hosts of capacity 3 holding two instances each: one host at a time, unless the
    # managers give one instance each back.
    live = live_stack.start(
        cloud={"hosts": 4, "projects": 2, "instances": 4, "maintain_seconds": 0.4}
    )
    driver = SimulatedDriver(live.sim_url)
    before = len(driver.list_instances())
    managers = [live.add_manager(P1, scale_in=1), live.add_manager(P2, scale_in=1)]
    session_id = live.create_session(workflow="vnf")

    detail = live.wait_for(session_id, timeout=60)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = live.events(session_id)
    assert session_states(events)[0] == "SCALE_IN"
    assert all("SCALE_IN" in [b["state"] for b in _received(m)] for m in managers)
    assert most_at_once(host_windows(events)) >= 2
    assert len(driver.list_instances()) == before  # scaled back out on MAINTENANCE_COMPLETE


def test_demo_with_the_vnf_workflow_maintains_hosts_in_parallel_without_breach(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    options = DemoOptions(
        workflow="vnf",
        report_path=str(report_path),
        actions=False,
        migrate_seconds=0.2,
        live_migrate_seconds=0.1,
        maintain_seconds=1.5,
    )

    assert run_demo(options) == 0

    report = json.loads(report_path.read_text())
    assert report["state"] == "MAINTENANCE_DONE"
    assert report["constraint_breaches"] == []
    windows = []
    for timeline in report["host_timelines"].values():
        start = next(s["at"] for s in timeline if s["to"] == "IN_MAINTENANCE")
        end = next(s["at"] for s in timeline if s["to"] == "MAINTENANCE_COMPLETE")
        windows.append((at({"at": start}), at({"at": end})))
    assert most_at_once(windows) >= 2
    assert (
        "hosts in maintenance at once: up to 2; constraint breaches: 0" in capsys.readouterr().out
    )


def test_a_restarted_controller_finishes_the_session_where_it_stopped(live_stack):
    live = live_stack.start(
        cloud={"hosts": 4, "projects": 1, "instances": 4, "maintain_seconds": 0.6}
    )
    session_id = live.create_session(workflow="vnf")
    wait_until(
        lambda: (
            any(h["state"] == "IN_MAINTENANCE" for h in live.detail(session_id)["hosts"])
            and live.detail(session_id)["state"] == "PLANNED_MAINTENANCE"
        ),
        what="hosts in maintenance",
    )

    live.runtime.stop()  # the engine leaves at a safe point; its lease is given back
    again = Runtime(live.runtime.settings.model_copy())
    again.start()
    try:

        def final_state():
            with again.db.transaction() as repo:
                session = repo.get_session(session_id)
                return session.state if session.state in FINAL else None

        assert wait_until(final_state, timeout=60, what="session over") == "MAINTENANCE_DONE"
    finally:
        again.stop()
    report = live.cloud_report()
    assert all(h["enabled"] and h["maintenance"] for h in report["hosts"].values())
    assert all(i["fate"] == "active" for i in report["instances"].values())
    with again.db.transaction() as repo:
        runs = [e for e in repo.events(session_id) if e.kind == "engine.run"]
        breaches = [e for e in repo.events(session_id) if e.kind == "constraint.breach"]
    assert len(runs) == 2 and not breaches
