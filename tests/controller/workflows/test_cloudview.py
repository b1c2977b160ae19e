"""The default workflow's view of the cloud: read once per step, then kept by difference, so
choosing targets for each host costs no new listing and no read of the session's every host."""

from __future__ import annotations

import pytest

from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.states import HostState
from fenix.workflows.cloudview import CloudView


@pytest.fixture
def driver():
    sim, handle = start_sim_cloud(SimulatedCloudConfig(hosts=4, projects=1, instances=4))
    yield SimulatedDriver(handle.url)
    handle.stop()
    sim.close()


class SessionReads:
    """The session's host states as the database would give them, counting the reads."""

    def __init__(self, places: dict[str, tuple[str, int]]) -> None:
        self.places = places
        self.reads = 0

    def __call__(self) -> dict[str, tuple[str, int]]:
        self.reads += 1
        return dict(self.places)


def _states(view: CloudView, read: SessionReads) -> dict[str, str | None]:
    hosts, _reserved = view.places(read)
    return {h.name: h.state for h in hosts}


def test_the_session_is_read_once_per_step_and_its_changes_kept(driver):
    names = sorted(h.name for h in driver.list_hosts())
    first, second, *_ = names
    read = SessionReads({first: (HostState.PENDING, 0), second: (HostState.PENDING, 1)})
    view = CloudView(driver)

    assert _states(view, read)[first] == HostState.PENDING
    view.session_state(first, HostState.MAINTENANCE_COMPLETE)
    view.in_service(second, False)
    hosts, _ = view.places(read)

    assert read.reads == 1
    by_name = {h.name: h for h in hosts}
    assert by_name[first].state == HostState.MAINTENANCE_COMPLETE
    assert not by_name[second].enabled
    assert all(by_name[n].state is None for n in names[2:])  # outside the session


def test_a_forgotten_view_reads_the_session_and_the_cloud_again(driver):
    names = sorted(h.name for h in driver.list_hosts())
    read = SessionReads({names[0]: (HostState.PENDING, 0)})
    view = CloudView(driver)
    _states(view, read)

    read.places[names[0]] = (HostState.IN_MAINTENANCE, 0)  # changed by other hands
    view.forget()

    assert _states(view, read)[names[0]] == HostState.IN_MAINTENANCE
    assert read.reads == 2
