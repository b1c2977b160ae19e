"""GET /metrics: Prometheus' text format, gauges from the database, counters from the engine."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.controller.live import wait_until


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    """The sample's value; a sample missing from the scrape fails the test (a zero is shown)."""
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"{name}{labels} is missing from /metrics"
    return samples[key]


def _scrape(http, url: str):
    response = http.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    return _samples(response.text)


def test_metrics_are_prometheus_text_with_sessions_and_hosts_by_state(client, create_session):
    create_session(hosts=["compute-1", "compute-2"])
    create_session(hosts=["compute-3"], maintenance_at="2099-01-01 00:00:00")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples = _samples(response.get_data(as_text=True))
    assert _value(samples, "fenix_sessions", state="MAINTENANCE") == 2
    assert _value(samples, "fenix_sessions", state="MAINTENANCE_DONE") == 0
    assert _value(samples, "fenix_session_hosts", state="PENDING") == 3
    assert _value(samples, "fenix_hosts_in_maintenance") == 0
    assert _value(samples, "fenix_replies_awaited") == 0


def test_a_scraper_asking_for_openmetrics_gets_it(client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})

    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


@pytest.mark.slow
def test_a_whole_session_is_counted_steps_hosts_replies_and_deliveries(live_stack):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 2, "instances": 2, "maintain_seconds": 1.5}
    )
    live.add_manager("project-1", reply_delay=0.2)
    live.add_manager("project-2", instance_action="MIGRATE")
    session_id = live.create_session()

    # While a host is in maintenance, it is counted out of service.
    wait_until(
        lambda: any(h["state"] == "IN_MAINTENANCE" for h in live.detail(session_id)["hosts"]),
        timeout=30,
        what="a host in maintenance",
    )
    during = _scrape(live.http, live.url)
    assert _value(during, "fenix_hosts_in_maintenance") == 1
    assert _value(during, "fenix_session_hosts", state="IN_MAINTENANCE") == 1
    assert (
        sum(
            _value(during, "fenix_sessions", state=s)
            for s in ("PREPARE_MAINTENANCE", "START_MAINTENANCE", "PLANNED_MAINTENANCE")
        )
        == 1
    )

    detail = live.wait_for(session_id)
    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    # The engine counts a state's time once its handler returns, after the handler committed
    # the next state: the last state's count may come a moment after DONE shows.
    last = ("fenix_session_state_seconds_count", (("state", "MAINTENANCE_COMPLETE"),))

    def counted_to_the_end():
        samples = _scrape(live.http, live.url)
        return samples if last in samples else None

    after = wait_until(counted_to_the_end, what="the last state's time counted")

    assert _value(after, "fenix_sessions", state="MAINTENANCE_DONE") == 1
    assert _value(after, "fenix_hosts_in_maintenance") == 0
    assert _value(after, "fenix_host_maintenance_seconds_count") == 3
    assert _value(after, "fenix_host_maintenance_seconds_sum") >= 3 * 1.5
    for state in ("MAINTENANCE", "PLANNED_MAINTENANCE", "MAINTENANCE_COMPLETE"):
        assert _value(after, "fenix_session_state_seconds_count", state=state) == 1, state
    # Both managers acknowledged MAINTENANCE; project-1 after its 0.2 s delay.
    assert _value(after, "fenix_project_replies_total", step="MAINTENANCE", outcome="ACK") == 2
    latency_count = _value(after, "fenix_project_reply_latency_seconds_count", step="MAINTENANCE")
    latency_sum = _value(after, "fenix_project_reply_latency_seconds_sum", step="MAINTENANCE")
    assert latency_count == 2 and latency_sum >= 0.2
    planned = "maintenance.planned"
    assert (
        _value(
            after, "fenix_notification_deliveries_total", event_type=planned, outcome="delivered"
        )
        > 0
    )
    assert (
        _value(after, "fenix_notification_deliveries_total", event_type=planned, outcome="dead")
        == 0
    )
    assert _value(after, "fenix_outbox_messages", event_type=planned, state="DELIVERED") > 0


@pytest.mark.slow
def test_silent_and_missing_managers_are_counted_as_such(live_stack):
    live = live_stack.start(
        cloud={"hosts": 2, "projects": 2, "instances": 1}, reply_window=0.3, long_reply_window=0.3
    )
    live.add_manager("project-1", silent=True)
    session_id = live.create_session()

    assert live.wait_for(session_id)["state"] == "MAINTENANCE_DONE"
    text = live.http.get(f"{live.url}/metrics", timeout=10).text
    samples = _samples(text)

    assert (
        _value(samples, "fenix_project_replies_total", step="MAINTENANCE", outcome="NO_REPLY") == 1
    )
    assert (
        _value(samples, "fenix_project_replies_total", step="MAINTENANCE", outcome="NO_MANAGER")
        == 1
    )
    # Nobody answered, so there is no latency to measure: the histogram is exposed, with no
    # series for the step.
    assert "# TYPE fenix_project_reply_latency_seconds histogram" in text
    latency = ("fenix_project_reply_latency_seconds_count", (("step", "MAINTENANCE"),))
    assert latency not in samples
