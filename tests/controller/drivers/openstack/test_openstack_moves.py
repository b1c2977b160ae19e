"""Live and cold migrations, evictions and their failures, through the driver over real HTTP."""

from __future__ import annotations

import pytest

from fenix.drivers.base import ActionStatus, DriverError, UnknownInstanceError
from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS

pytestmark = OPENSTACKSDK_MARKS


def _server(cloud, name):
    return cloud.connection.compute.get_server(cloud.servers[name])


def _migrations(cloud, name):
    return list(cloud.connection.compute.migrations(server_id=cloud.servers[name]))


def test_live_migration_moves_the_server_to_another_host(cloud):
    action_id = cloud.driver.live_migrate(cloud.servers["app-0"])
    result = cloud.driver.wait_action(action_id, timeout=5)

    assert result.status == ActionStatus.DONE
    assert result.instance_id == cloud.servers["app-0"]
    assert result.host in ("compute-1", "compute-2")
    assert result.error is None
    server = _server(cloud, "app-0")
    assert (server.status, server.compute_host) == ("ACTIVE", result.host)
    (migration,) = _migrations(cloud, "app-0")
    assert (migration.migration_type, migration.status) == ("live-migration", "completed")


def test_live_migration_to_a_named_host_lands_there(cloud):
    action_id = cloud.driver.live_migrate(cloud.servers["db-0"], "compute-1")

    assert cloud.driver.wait_action(action_id, timeout=5).host == "compute-1"
    assert [i.name for i in cloud.driver.list_instances(host="compute-0")].count("db-0") == 0


def test_scheduler_keeps_anti_affinity_members_apart(cloud):
    # web-1 is on compute-1, so web-0 may only go to compute-2.
    action_id = cloud.driver.live_migrate(cloud.servers["web-0"])

    assert cloud.driver.wait_action(action_id, timeout=5).host == "compute-2"


def test_server_is_migrating_while_the_move_runs(make_cloud):
    cloud = make_cloud(live_migrate_seconds=5)

    action_id = cloud.driver.live_migrate(cloud.servers["app-0"])

    (instance,) = cloud.driver.list_instances(project_id="project-b")
    assert (instance.state, instance.details["task_state"]) == ("MIGRATING", "migrating")
    with pytest.raises(DriverError, match="while it is in task_state migrating"):
        cloud.driver.live_migrate(cloud.servers["app-0"])
    assert cloud.driver.wait_action(action_id, timeout=0).status == ActionStatus.RUNNING


def test_wait_action_returns_running_when_the_timeout_passes(make_cloud):
    cloud = make_cloud(live_migrate_seconds=5)
    action_id = cloud.driver.live_migrate(cloud.servers["app-0"])

    result = cloud.driver.wait_action(action_id, timeout=0.2)

    assert result.status == ActionStatus.RUNNING
    assert result.host == "compute-0"
    assert result.error is None


def test_cold_migration_is_confirmed_and_ends_active_elsewhere(cloud):
    action_id = cloud.driver.migrate(cloud.servers["db-0"], "compute-2")
    result = cloud.driver.wait_action(action_id, timeout=5)

    assert (result.status, result.host) == (ActionStatus.DONE, "compute-2")
    server = _server(cloud, "db-0")
    assert (server.status, server.compute_host) == ("ACTIVE", "compute-2")
    (migration,) = _migrations(cloud, "db-0")
    assert (migration.migration_type, migration.status) == ("migration", "confirmed")
    # The source's claim went with the confirmation: compute-0 has db-0's 2 vCPUs back.
    hosts = {h.name: h for h in cloud.driver.list_hosts()}
    assert hosts["compute-0"].details["vcpus_used"] == 2


def test_cold_migration_waits_in_verify_resize_until_confirmed(make_cloud):
    cloud = make_cloud(migrate_seconds=0.05, confirm_seconds=5)
    action_id = cloud.driver.migrate(cloud.servers["app-0"])

    result = cloud.driver.wait_action(action_id, timeout=0.5)

    assert result.status == ActionStatus.RUNNING
    assert _server(cloud, "app-0").status == "VERIFY_RESIZE"  # confirmed, source cleaning up
    assert _migrations(cloud, "app-0")[0].status == "confirming"


def test_live_migration_to_a_disabled_host_fails_with_novas_message(cloud):
    cloud.driver.disable_host("compute-2", "maintenance")

    with pytest.raises(DriverError, match="Compute service of compute-2 is unavailable"):
        cloud.driver.live_migrate(cloud.servers["app-0"], "compute-2")
    assert _server(cloud, "app-0").compute_host == "compute-0"


def test_cold_migration_without_room_fails_with_no_valid_host(cloud):
    cloud.driver.disable_host("compute-1", "maintenance")
    cloud.driver.disable_host("compute-2", "maintenance")

    with pytest.raises(DriverError, match="No valid host was found"):
        cloud.driver.migrate(cloud.servers["app-0"])


def test_migration_beyond_the_named_hosts_capacity_fails_with_no_valid_host(cloud):
    # compute-1 holds web-1 (1 vCPU) of 4; db-0 (2) fits, then app-0 (1) fits, web-0 may not.
    for name in ("db-0", "app-0"):
        result = cloud.driver.wait_action(cloud.driver.migrate(cloud.servers[name], "compute-1"), 5)
        assert result.host == "compute-1"

    with pytest.raises(DriverError, match="No valid host was found"):
        cloud.driver.live_migrate(cloud.servers["web-0"], "compute-1")


def test_failed_migration_reports_novas_fault_message(cloud):
    message = "Unexpected error while running command: virsh migrate (exit 1)"
    cloud.sim.fail_next_migration(cloud.servers["app-0"], message)

    result = cloud.driver.wait_action(cloud.driver.live_migrate(cloud.servers["app-0"]), 5)

    assert result.status == ActionStatus.FAILED
    assert result.host == "compute-0"
    assert message in result.error
    assert not result.target_refused  # a broken migration, not a target without room
    assert _server(cloud, "app-0").fault["message"] == message


def test_a_migration_the_scheduler_found_no_room_for_is_a_refused_target(cloud):
    message = "No valid host was found. There are not enough hosts available."
    cloud.sim.fail_next_migration(cloud.servers["app-0"], message)

    result = cloud.driver.wait_action(cloud.driver.live_migrate(cloud.servers["app-0"]), 5)

    assert (result.status, result.host) == (ActionStatus.FAILED, "compute-0")
    assert result.target_refused  # the workflow plans it elsewhere


def test_failed_cold_migration_reports_the_fault_without_confirming(cloud):
    cloud.sim.fail_next_migration(cloud.servers["db-0"], "Disk of instance is too small")

    result = cloud.driver.wait_action(cloud.driver.migrate(cloud.servers["db-0"]), 5)

    assert result.status == ActionStatus.FAILED
    assert "Disk of instance is too small" in result.error
    assert _migrations(cloud, "db-0")[0].status == "error"


def test_rolled_back_live_migration_reports_the_reason_from_the_action_events(cloud):
    message = "Migration pre-check error: CPU doesn't have compatibility."
    cloud.sim.fail_next_migration(cloud.servers["app-0"], message, rollback=True)

    result = cloud.driver.wait_action(cloud.driver.live_migrate(cloud.servers["app-0"]), 5)

    assert result.status == ActionStatus.FAILED
    assert result.host == "compute-0"
    assert message in result.error
    assert _server(cloud, "app-0").status == "ACTIVE"


def test_rolled_back_migration_before_2_84_points_to_the_event_list(make_cloud):
    cloud = make_cloud(max_microversion="2.83")
    cloud.sim.fail_next_migration(cloud.servers["app-0"], "hidden before 2.84", rollback=True)

    result = cloud.driver.wait_action(cloud.driver.live_migrate(cloud.servers["app-0"]), 5)

    assert result.status == ActionStatus.FAILED
    assert "in status error" in result.error
    assert f"openstack server event list {cloud.servers['app-0']}" in result.error


def test_a_later_migration_is_not_failed_by_an_earlier_failure(cloud):
    server_id = cloud.servers["app-0"]
    cloud.sim.fail_next_migration(server_id, "first try fails", rollback=True)
    assert cloud.driver.wait_action(cloud.driver.live_migrate(server_id), 5).status == (
        ActionStatus.FAILED
    )

    result = cloud.driver.wait_action(cloud.driver.live_migrate(server_id), 5)

    assert result.status == ActionStatus.DONE


@pytest.mark.parametrize("microversion", ["2.52", "2.29", "2.24"])
def test_moves_work_on_older_nova(make_cloud, microversion):
    cloud = make_cloud(max_microversion=microversion)

    live = cloud.driver.wait_action(
        cloud.driver.live_migrate(cloud.servers["db-0"], "compute-2"), 5
    )
    cold = cloud.driver.wait_action(cloud.driver.migrate(cloud.servers["app-0"]), 5)

    assert (live.status, live.host) == (ActionStatus.DONE, "compute-2")
    assert cold.status == ActionStatus.DONE
    assert cold.host != "compute-0"


def test_evict_deletes_the_server(cloud):
    action_id = cloud.driver.evict(cloud.servers["app-0"])
    result = cloud.driver.wait_action(action_id, timeout=5)

    assert result.status == ActionStatus.DONE
    assert [i.name for i in cloud.driver.list_instances(project_id="project-b")] == []


def test_moves_of_an_unknown_server_raise_unknown_instance(cloud):
    for move in (cloud.driver.live_migrate, cloud.driver.migrate, cloud.driver.evict):
        with pytest.raises(UnknownInstanceError, match="could not be found"):
            move("00000000-0000-0000-0000-000000000000")


def test_a_server_deleted_during_its_move_fails_the_move(make_cloud):
    cloud = make_cloud(live_migrate_seconds=1)
    action_id = cloud.driver.live_migrate(cloud.servers["app-0"])
    cloud.connection.compute.delete_server(cloud.servers["app-0"])

    result = cloud.driver.wait_action(action_id, timeout=5)

    assert result.status == ActionStatus.FAILED
    assert "deleted" in result.error


def test_wait_action_refuses_an_action_id_it_did_not_make(cloud):
    with pytest.raises(DriverError, match="not an action id of the openstack driver"):
        cloud.driver.wait_action("migrate:abc", timeout=0)
