"""Maintenance windows on a live controller: outside a window no host starts, a host in work
finishes, and the next window carries on where the last stopped. /metrics says a session waits
for a window and until when."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from fenix.timeutil import parse_timestamp, to_iso, utcnow
from tests.controller.api.test_metrics import _scrape, _value
from tests.controller.live import LiveController, wait_until
from tests.controller.workflows.test_pause import _held, _ids_of, _put, _started_between
from tests.controller.workflows.vnf_helpers import at

pytestmark = pytest.mark.slow


def _window(start_in: timedelta, length: timedelta = timedelta(hours=1)) -> dict[str, str]:
    start = utcnow().replace(microsecond=0) + start_in
    return {"start": to_iso(start), "end": to_iso(start + length)}


def _in_work(live: LiveController, session_id: str) -> bool:
    return any(
        h["state"] in ("PREPARING", "IN_MAINTENANCE") for h in live.detail(session_id)["hosts"]
    )


def test_default_workflow_waits_for_its_window_and_carries_on_in_the_next(live_stack):
    live = live_stack.start(
        cloud={"hosts": 5, "projects": 1, "instances": 3, "maintain_seconds": 0.5}
    )
    later = _window(timedelta(hours=1))
    session_id = live.create_session(windows=[later])

    first = wait_until(lambda: _held(live, session_id), what="held outside its window")

    assert first["data"]["why"] == "window"
    assert parse_timestamp(first["data"]["until"]) == parse_timestamp(later["start"])
    detail = live.detail(session_id)
    assert {h["state"] for h in detail["hosts"]} == {"PENDING"}
    assert detail["held"]["why"] == "window" and detail["held"]["until"] == first["data"]["until"]
    samples = _scrape(live.http, live.url)
    assert _value(samples, "fenix_sessions_waiting_for_window") == 1
    opens = _value(samples, "fenix_session_window_opens_timestamp_seconds", session_id=session_id)
    assert opens == parse_timestamp(later["start"]).replace(tzinfo=UTC).timestamp()

    # A window open now: the session goes on; closed again once a host is in work.
    _put(live, session_id, {"windows": [_window(-timedelta(minutes=1))]})
    wait_until(lambda: _in_work(live, session_id), what="a host in work")
    _put(live, session_id, {"windows": [_window(timedelta(hours=1))]})
    second = wait_until(lambda: _held(live, session_id, after=first["id"]), what="held again")
    wait_until(lambda: not _in_work(live, session_id), what="the host in work finished")
    states = [h["state"] for h in live.detail(session_id)["hosts"]]
    assert "MAINTENANCE_COMPLETE" in states and "PENDING" in states
    assert _value(_scrape(live.http, live.url), "fenix_sessions_waiting_for_window") == 1

    _put(live, session_id, {"windows": [_window(-timedelta(minutes=1))]})
    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = live.events(session_id)
    updates = _ids_of(events, "session.updated")
    assert _started_between(events, first["id"], updates[0]) == []
    assert _started_between(events, second["id"], updates[2]) == []
    # Carried on, not started over: each host maintained once.
    report = live.cloud_report()
    assert all(len(h["maintenance"]) == 1 for h in report["hosts"].values())
    assert _value(_scrape(live.http, live.url), "fenix_sessions_waiting_for_window") == 0


def test_vnf_workflow_starts_its_first_host_when_its_window_opens(live_stack):
    live = live_stack.start(cloud={"hosts": 4, "projects": 1, "instances": 4})
    window = _window(timedelta(seconds=3))
    session_id = live.create_session(workflow="vnf", windows=[window])

    detail = live.wait_for(session_id, timeout=90)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    events = live.events(session_id)
    opened = parse_timestamp(window["start"]).replace(tzinfo=UTC).timestamp()
    starts = [at(e) for e in events if e["kind"] == "host.state" and e["old"] == "PENDING"]
    assert len(starts) == 4 and min(starts) >= opened
    held = [e for e in events if e["kind"] == "session.held"]
    assert held and held[0]["data"]["why"] == "window"
    assert [e for e in events if e["kind"] == "session.hold_ended"]
