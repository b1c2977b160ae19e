"""Maintenance windows at creation and in PUT: stored, shown, and refused with a clear 400."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fenix.timeutil import utcnow

from .helpers import error_message


def _at(hours: float) -> str:
    return (utcnow() + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")


def test_a_session_carries_its_windows_and_shows_them(client, create_session):
    start, end = _at(1), _at(3)
    session_id = create_session(
        windows=[{"start": start, "end": end}],
        weekly_windows=[{"days": ["sat", "Sunday"], "start": "22:00", "end": "04:00"}],
    )

    detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()

    assert detail["windows"] == {
        "windows": [
            {"start": start.replace(" ", "T") + "+00:00", "end": end.replace(" ", "T") + "+00:00"}
        ],
        "weekly": [{"days": ["sat", "sun"], "start": "22:00:00", "end": "04:00:00"}],
    }
    assert detail["held"] is None  # the engine has not looked yet


def test_a_session_without_windows_shows_none(client, create_session):
    session_id = create_session()

    assert client.get(f"/v1/maintenance/{session_id}/detail").get_json()["windows"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"windows": [{"start": _at(2), "end": _at(1)}]}, "is not after start"),
        ({"windows": [{"start": _at(-3), "end": _at(-2)}]}, "windows.0: ends at"),
        ({"windows": [{"start": "tomorrow", "end": _at(1)}]}, "is not a time"),
        ({"windows": [{"start": _at(1)}]}, "end"),
        ({"windows": [{"start": _at(1), "end": _at(2), "tz": "CET"}]}, "tz"),
        (
            {"weekly_windows": [{"days": ["funday"], "start": "22:00", "end": "04:00"}]},
            "'funday' is not a day of the week",
        ),
        (
            {"weekly_windows": [{"days": ["sat"], "start": "24:00", "end": "04:00"}]},
            "'24:00' is not a time of day",
        ),
        (
            {"weekly_windows": [{"days": ["sat"], "start": "22:00", "end": "22:00"}]},
            "a window must last",
        ),
        ({"weekly_windows": [{"days": [], "start": "22:00", "end": "04:00"}]}, "days"),
        ({"windows": [{"start": _at(1), "end": _at(2)}] * 101}, "windows"),
    ],
)
def test_bad_windows_are_400_and_create_nothing(client, count_rows, fields, message):
    before = count_rows()

    response = client.post(
        "/v1/maintenance", json={"state": "MAINTENANCE", "hosts": ["compute-1"], **fields}
    )

    assert response.status_code == 400
    assert message in error_message(response)
    assert count_rows() == before


def test_put_replaces_each_kind_of_window_given_and_records_it(client, create_session):
    session_id = create_session(
        weekly_windows=[{"days": ["sat"], "start": "22:00", "end": "04:00"}]
    )
    url = f"/v1/maintenance/{session_id}"
    start, end = _at(1), _at(2)

    response = client.put(url, json={"windows": [{"start": start, "end": end}]})

    assert response.status_code == 200, response.get_json()
    windows = client.get(f"{url}/detail").get_json()["windows"]
    assert len(windows["windows"]) == 1
    assert windows["weekly"] == [{"days": ["sat"], "start": "22:00:00", "end": "04:00:00"}]
    cleared = client.put(url, json={"windows": [], "weekly_windows": []})
    assert cleared.status_code == 200
    assert client.get(f"{url}/detail").get_json()["windows"] is None
    events = client.get(f"{url}/events").get_json()["events"]
    updates = [e["data"] for e in events if e["kind"] == "session.updated"]
    assert [("windows" in u) for u in updates] == [True, True]
    assert updates[-1]["windows"] is None


def test_a_bad_put_of_windows_changes_nothing(client, create_session):
    session_id = create_session()
    url = f"/v1/maintenance/{session_id}"

    response = client.put(
        url,
        json={"metadata": {"a": 1}, "windows": [{"start": _at(-2), "end": _at(-1)}]},
    )

    assert response.status_code == 400
    assert "already past" in error_message(response)
    detail = client.get(f"{url}/detail").get_json()
    assert detail["metadata"] == {} and detail["windows"] is None
