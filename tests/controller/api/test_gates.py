"""Health gates at creation: stored and shown; a bad gate or a forbidden address is a 400."""

from __future__ import annotations

import pytest

from .helpers import error_message

CRITICAL = 'ALERTS{alertstate="firing",severity="critical"}'


def _gate(**fields):
    return {"name": "critical-alerts", "url": "http://8.8.8.8:9090", "query": CRITICAL, **fields}


def test_a_session_carries_its_gates_and_shows_them(client, create_session):
    session_id = create_session(
        gates=[_gate(stages=["after"])],
        gate_timeout=120,
        gate_interval=5,
        actions=[{"plugin": "dummy", "type": "gate"}],
    )

    detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()

    assert detail["gates"] == {
        "prometheus": [
            {
                "name": "critical-alerts",
                "url": "http://8.8.8.8:9090",
                "query": CRITICAL,
                "healthy": "empty",
                "threshold": None,
                "stages": ["after"],
            }
        ],
        "timeout": 120,
        "interval": 5,
    }
    assert detail["action_plugins"] == [{"plugin": "dummy", "type": "gate", "metadata": {}}]


def test_a_session_without_gates_shows_none(client, create_session):
    session_id = create_session()

    assert client.get(f"/v1/maintenance/{session_id}/detail").get_json()["gates"] is None


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        ([_gate(url="http://169.254.169.254/")], "gates.0.url"),
        ([_gate(url="http://127.0.0.1:9090")], "loopback"),
        ([_gate(url="ftp://prometheus:9090")], "not an http:// or https:// URL"),
        ([_gate(url="http://user:pw@8.8.8.8:9090")], "user or password"),
        ([_gate(url="http://8.8.8.8:9090/?query=up")], "without a query"),
        ([_gate(healthy="below")], 'healthy "below" needs a threshold'),
        ([_gate(threshold=1)], "threshold goes with"),
        ([_gate(), _gate()], "gate names used more than once: critical-alerts"),
        ([_gate(name="two words")], "name"),
        ([_gate(query="")], "query"),
        ([_gate(stages=[])], "stages"),
    ],
)
def test_bad_gates_are_400_and_create_nothing(client, count_rows, gates, message):
    before = count_rows()

    response = client.post(
        "/v1/maintenance", json={"state": "MAINTENANCE", "hosts": ["compute-1"], "gates": gates}
    )

    assert response.status_code == 400
    assert message in error_message(response)
    assert count_rows() == before


def test_a_forbidden_address_names_the_setting_that_allows_it(client):
    response = client.post(
        "/v1/maintenance",
        json={
            "state": "MAINTENANCE",
            "hosts": ["compute-1"],
            "gates": [_gate(url="http://10.1.2.3")],
        },
    )

    assert response.status_code == 400
    message = error_message(response)
    assert "10.1.2.3" in message and "FENIX_GATE_ALLOW_NETWORKS" in message


def test_gate_timing_must_be_whole_positive_seconds(client):
    for fields in ({"gate_timeout": 0}, {"gate_interval": "5"}, {"gate_interval": 3601}):
        response = client.post(
            "/v1/maintenance", json={"state": "MAINTENANCE", "hosts": ["compute-1"], **fields}
        )
        assert response.status_code == 400, fields
