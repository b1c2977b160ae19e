"""The /ui/ page shows a paused session: who paused it and why, the Resume button, and the
paused time over the timeline (headless Chromium, a live controller)."""

from __future__ import annotations

from tests.controller.api.test_ui import dump, needs_chromium
from tests.controller.live import wait_until


@needs_chromium
def test_page_shows_a_pause_and_its_span_on_the_timeline(live_stack, tmp_path):
    live = live_stack.start(cloud={"hosts": 3, "projects": 1, "instances": 2}, tokens={})
    session_id = live.create_session(
        maintenance_at="2099-01-01 00:00:00",
        weekly_windows=[{"days": ["sat", "sun"], "start": "22:00", "end": "04:00"}],
    )
    url = f"{live.url}/ui/#/session/{session_id}"
    response = live.http.put(
        f"{live.url}/v1/maintenance/{session_id}",
        json={"action": "pause", "reason": "storage alarms"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    wait_until(lambda: live.detail(session_id)["paused"], what="paused")

    page = dump(tmp_path, url, lambda page: "session-hold" in page.text)

    assert "by admin: storage alarms" in page.text["session-hold"]
    assert page.attribute("data-hold") == ["paused"]
    assert "sat, sun 22:00:00 to 04:00:00 UTC" in page.text["session-windows"]
    spans = [e for e in page.elements if e.get("class") == "paused-span"]
    assert len(spans) == 1
    buttons = {e["id"]: e for e in page.elements if e["tag"] == "button" and e.get("id")}
    assert "hidden" in buttons["pause-button"] and "hidden" not in buttons["resume-button"]
