"""The /ui/ page: static files, and in headless Chromium, a session watched live.

The browser tests load the page while a session runs on a live controller (with slow cloud
moves, so it lasts some seconds), read the page's DOM twice to see hosts change state, and save
a screenshot under the test's tmp_path.
"""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from flask import request

from fenix.app import create_app
from fenix.config import Settings
from fenix.drivers.simulated import SimulatedDriver
from fenix.runtime import Runtime
from fenix.wsgi import serve_in_thread
from tests.controller.live import wait_until

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium is not installed (apt-get install -y chromium; .ci/run does)",
)

HOST_ORDER = ["PENDING", "PREPARING", "IN_MAINTENANCE", "MAINTENANCE_COMPLETE"]
SLOW_CLOUD = {
    "hosts": 4,
    "projects": 2,
    "instances": 2,
    "migrate_seconds": 1.0,
    "live_migrate_seconds": 0.8,
    "maintain_seconds": 1.5,
}


# -- served as plain files ------------------------------------------------------------------
def test_page_and_its_script_are_served_without_a_token(client_as):
    anonymous = client_as(None)

    page = anonymous.get("/ui/")
    script = anonymous.get("/ui/static/app.js")
    style = anonymous.get("/ui/static/app.css")

    assert page.status_code == 200 and page.content_type.startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert 'src="static/app.js"' in html and 'href="static/app.css"' in html
    assert script.status_code == 200 and "javascript" in script.content_type
    assert "X-Auth-Token" in script.get_data(as_text=True)
    assert style.status_code == 200 and style.content_type.startswith("text/css")
    # The data behind it is not public.
    assert anonymous.get("/v1/maintenance").status_code == 401


def test_ui_without_the_slash_redirects_to_the_page(client_as):
    response = client_as(None).get("/ui")

    assert response.status_code in (301, 308)
    assert response.headers["Location"].endswith("/ui/")


# -- in a browser ------------------------------------------------------------------------------
class _Elements(HTMLParser):
    """The attributes of every element, and the text of elements with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict[str, str | None]] = []
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        self.elements.append({"tag": tag, **found})
        if tag not in self.VOID:
            self._open.append(found.get("id"))

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for element_id in self._open:
            if element_id:
                self.text[element_id] = self.text.get(element_id, "") + data


class Page:
    """What a --dump-dom of the page shows."""

    def __init__(self, html: str) -> None:
        self.html = html
        parsed = _Elements()
        parsed.feed(html)
        self.elements = parsed.elements
        self.text = parsed.text

    def host_states(self) -> dict[str, str]:
        return {
            e["data-host"]: e["data-state"]
            for e in self.elements
            if e.get("data-host") and e.get("data-state") and e["tag"] == "g"
        }

    def attribute(self, name: str) -> list[str]:
        return [str(e[name]) for e in self.elements if e.get(name) is not None]


def chromium(tmp_path: Path, url: str, *, screenshot: Path | None = None, budget: int = 2500):
    """Run headless Chromium once on `url`: the DOM after `budget` ms, or a screenshot."""
    profile = tmp_path / f"chromium-{len(list(tmp_path.glob('chromium-*')))}"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
        f"--virtual-time-budget={budget}",
    ]
    command += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    result = subprocess.run([*command, url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def dump(tmp_path: Path, url: str, ready) -> Page:
    """The page's DOM once `ready(page)` holds (Chromium is run again if the data was late)."""
    for budget in (2500, 4000, 6000):
        page = Page(chromium(tmp_path, url, budget=budget))
        if ready(page):
            return page
    raise AssertionError(f"the page never showed what was expected:\n{page.html[-3000:]}")


@needs_chromium
def test_page_shows_hosts_change_state_while_a_session_runs(live_stack, tmp_path):
    # No tokens: the page works without one when the controller has none configured.
    live = live_stack.start(cloud=SLOW_CLOUD, tokens={})
    live.add_manager("project-1")
    live.add_manager("project-2", instance_action="MIGRATE", reply_delay=0.3)
    session_id = live.create_session()
    url = f"{live.url}/ui/#/session/{session_id}"

    def hosts_now() -> dict[str, str]:
        return {h["name"]: h["state"] for h in live.detail(session_id)["hosts"]}

    wait_until(lambda: set(hosts_now().values()) != {"PENDING"}, what="a host busy")
    first = dump(tmp_path, url, lambda page: len(page.host_states()) == 4)
    seen = first.host_states()
    assert set(seen) == {f"compute-{n}" for n in range(1, 5)}
    assert set(seen.values()) != {"PENDING"}, "the page shows no host at work"

    # Wait for the controller to move some host past what the page showed, then look again.
    def moved_on() -> dict[str, str]:
        now = hosts_now()
        return {h: s for h, s in now.items() if HOST_ORDER.index(s) > HOST_ORDER.index(seen[h])}

    advanced = wait_until(moved_on, what="a host changing state")
    screenshot = tmp_path / "ui-session-running.png"
    chromium(tmp_path, url, screenshot=screenshot, budget=3000)
    second = dump(tmp_path, url, lambda page: len(page.host_states()) == 4)
    later = second.host_states()
    for host, state in advanced.items():
        assert HOST_ORDER.index(later[host]) >= HOST_ORDER.index(state), (host, seen, later)
    assert later != seen

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one

    # At the end: done, 100 %, every host maintained, the conversation and the moves drawn.
    live.wait_for(session_id, timeout=90)
    final = dump(tmp_path, url, lambda page: page.text.get("session-state") == "MAINTENANCE_DONE")
    assert set(final.host_states().values()) == {"MAINTENANCE_COMPLETE"}
    assert final.text["progress-text"] == "100%"
    assert final.attribute("data-project") == ["project-1", "project-2"]
    assert "ACK_PLANNED_MAINTENANCE" in final.text["conversation"]
    assert "→ MAINTENANCE" in final.text["conversation"]
    assert int(final.attribute("data-moves")[0]) >= 4
    chromium(tmp_path, url, screenshot=tmp_path / "ui-session-done.png")


@needs_chromium
def test_session_list_links_to_each_session(live_stack, tmp_path):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1}, tokens={})
    session_id = live.create_session()
    live.wait_for(session_id)

    page = dump(tmp_path, f"{live.url}/ui/", lambda page: page.attribute("data-session"))

    assert page.attribute("data-session") == [session_id]
    assert f'href="#/session/{session_id}"' in page.html
    assert "MAINTENANCE_DONE" in page.text["sessions"]


@needs_chromium
def test_page_asks_for_a_token_when_the_controller_wants_one(live_stack, tmp_path):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 1})
    assert live.admin_token

    page = dump(tmp_path, f"{live.url}/ui/", lambda page: page.text.get("status"))

    assert "Paste a token above" in page.text["status"]
    assert "X-Auth-Token" in page.text["status"]


@needs_chromium
def test_page_polls_with_if_none_match_and_shows_the_kept_answer_on_304(
    database_url, sim_url, tmp_path
):
    """The engine is off, so the session never changes: every poll after the first is a 304."""
    runtime = Runtime(
        Settings(database_url=database_url, run_engine=False, tokens={}),
        driver=SimulatedDriver(sim_url, timeout=5.0),
    )
    app = create_app(runtime)
    seen: list[tuple[str, int, bool]] = []

    @app.after_request
    def note(response):
        read = request.path.rsplit("/", 1)[-1]
        seen.append((read, response.status_code, "If-None-Match" in request.headers))
        return response

    handle = serve_in_thread(app, name="fenix-ui-test")
    try:
        created = requests.post(
            f"{handle.url}/v1/maintenance",
            json={"state": "MAINTENANCE", "hosts": ["compute-1", "compute-2"]},
            timeout=10,
        )
        session_id = created.json()["session_id"]
        page = dump(
            tmp_path,
            f"{handle.url}/ui/#/session/{session_id}",
            lambda page: len(page.host_states()) == 2,
        )
    finally:
        handle.stop()
        runtime.stop()

    assert page.host_states() == {"compute-1": "PENDING", "compute-2": "PENDING"}
    assert page.text.get("session-state") == "MAINTENANCE"
    details = [(status, asked) for read, status, asked in seen if read == "detail"]
    assert details[0] == (200, False)
    assert len(details) >= 3, details
    assert set(details[1:]) == {(304, True)}, details
    assert (304, True) in [(status, asked) for read, status, asked in seen if read == "events"]
