"""A session's plan read from a simulated cloud and a real database: which planner each
workflow gets, and which durations it assumes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fenix import workflows
from fenix.config import PlanSeconds, Settings
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.states import InstanceAction
from fenix.workflows.preview import NoPreview, assumed_durations, preview_session

HOSTS = ["compute-1", "compute-2", "compute-3"]


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    cloud, handle = start_sim_cloud(SimulatedCloudConfig(hosts=3, projects=2, instances=2))
    rt = Runtime(
        Settings(database_url=database_url, run_engine=False),
        driver=SimulatedDriver(handle.url, timeout=5.0),
    )
    yield rt
    rt.stop()
    handle.stop()
    cloud.close()


def _preview(runtime: Runtime, workflow: str):
    settings = runtime.settings
    return preview_session(
        runtime.driver,
        runtime.db,
        settings,
        hosts=HOSTS,
        workflow=workflow,
        durations=assumed_durations(settings),
    )


def test_each_workflow_gets_its_planner_and_its_default_action(runtime):
    vnf, default, k8s = (_preview(runtime, name) for name in ("vnf", "default", "k8s"))

    assert vnf.planner == "parallel" and default.planner == k8s.planner == "one_at_a_time"
    assert {m.action for m in default.moves} == {InstanceAction.LIVE_MIGRATE}
    assert {m.action for m in k8s.moves} == {InstanceAction.EVICTION}
    assert all(m.target is None for m in k8s.moves), "the scheduler places a pod's replacement"
    for plan in (vnf, default, k8s):
        assert plan.blocked is None
        assert sorted(h.host for h in plan.hosts) == HOSTS


def test_a_workflow_of_its_own_has_no_plan(runtime, monkeypatch):
    class Custom:
        pass

    monkeypatch.setitem(workflows._WORKFLOWS, "custom-preview-test", Custom)

    with pytest.raises(NoPreview, match="custom-preview-test"):
        _preview(runtime, "custom-preview-test")


def test_durations_come_from_the_request_then_the_settings_then_the_simulated_cloud():
    settings = Settings(
        sim_maintain_seconds=7.0,
        sim_live_migrate_seconds=0.25,
        plan_seconds=PlanSeconds(live_migrate=2.0, answer=3.0),
    )

    durations = assumed_durations(settings, PlanSeconds(answer=9.0))

    assert (durations.maintain, durations.live_migrate, durations.answer) == (7.0, 2.0, 9.0)
    real = assumed_durations(Settings(cloud="openstack"))
    assert real.maintain == 600.0 and real.live_migrate == 30.0
