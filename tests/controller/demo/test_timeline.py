"""The timeline picture: hosts' states over time, moves, plug-in runs; SVG and PNG files."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fenix.cli import main
from fenix.demo.runner import DemoOptions, run_demo
from fenix.demo.timeline import (
    HOST_COLOURS,
    MOVE_COLOURS,
    TimelineError,
    host_segments,
    instance_moves,
    render_svg,
    time_span,
    write_timeline,
)

SVG = "{http://www.w3.org/2000/svg}"
T0 = "2026-01-01T10:00:00+00:00"


def _at(seconds: int) -> str:
    return f"2026-01-01T10:{seconds // 60:02d}:{seconds % 60:02d}+00:00"


def _event(id_: int, seconds: int, kind: str, subject: str, old=None, new=None, **data):
    return {
        "id": id_,
        "at": _at(seconds),
        "kind": kind,
        "subject": subject,
        "old": old,
        "new": new,
        "data": data,
    }


DETAIL = {
    "session_id": "s-1",
    "state": "MAINTENANCE_DONE",
    "percent_done": 100,
    "created_at": T0,
    "updated_at": _at(60),
    "hosts": [{"name": "compute-1"}, {"name": "compute-2"}],
    "action_runs": [
        {
            "plugin": "os_upgrade",
            "type": "host",
            "hosts": ["compute-1"],
            "state": "DONE",
            "started_at": _at(20),
            "finished_at": _at(30),
        },
    ],
}
EVENTS = [
    _event(1, 5, "session.state", "s-1", "MAINTENANCE", "PLANNED_MAINTENANCE"),
    _event(2, 10, "host.state", "compute-1", "PENDING", "PREPARING"),
    _event(
        3,
        12,
        "instance.action",
        "vm-1",
        None,
        "STARTING",
        action="LIVE_MIGRATE",
        action_from="compute-1",
        details={"target": "compute-2"},
    ),
    _event(4, 15, "instance.action", "vm-1", "RUNNING", "DONE", host="compute-2"),
    _event(5, 16, "host.state", "compute-1", "PREPARING", "IN_MAINTENANCE"),
    _event(6, 31, "host.state", "compute-1", "IN_MAINTENANCE", "MAINTENANCE_COMPLETE"),
    _event(7, 40, "host.state", "compute-2", "PENDING", "PREPARING"),
    _event(
        8,
        41,
        "instance.action",
        "vm-2",
        None,
        "STARTING",
        action="MIGRATE",
        action_from="compute-2",
        details={"target": None},
    ),
    _event(9, 44, "instance.action", "vm-2", "RUNNING", "FAILED"),
    _event(10, 60, "session.state", "s-1", "PLANNED_MAINTENANCE", "MAINTENANCE_DONE"),
]


def test_each_host_is_a_row_of_its_states_in_order():
    start, end = time_span(DETAIL, EVENTS)
    segments = host_segments(DETAIL, EVENTS, start, end)

    assert end - start == 60
    assert [(s.state, s.end - s.start) for s in segments["compute-1"]] == [
        ("PENDING", 10),
        ("PREPARING", 6),
        ("IN_MAINTENANCE", 15),
        ("MAINTENANCE_COMPLETE", 29),
    ]
    assert [s.state for s in segments["compute-2"]] == ["PENDING", "PREPARING"]


def test_moves_go_from_the_host_left_to_the_host_reached():
    moves = instance_moves(EVENTS, end=1e12)

    assert [(m.instance, m.action, m.source, m.target, m.outcome) for m in moves] == [
        ("vm-1", "LIVE_MIGRATE", "compute-1", "compute-2", "DONE"),
        ("vm-2", "MIGRATE", "compute-2", None, "FAILED"),
    ]
    assert moves[0].end - moves[0].start == 3


def test_svg_draws_rows_states_moves_and_runs():
    root = ET.fromstring(render_svg(DETAIL, EVENTS, width=1000))

    assert root.tag == f"{SVG}svg" and root.get("width") == "1000"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "compute-1" in texts and "compute-2" in texts
    assert texts[0].startswith("Session s-1: MAINTENANCE_DONE, 100% done, 1 min 0 s")
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    for state in ("PENDING", "PREPARING", "IN_MAINTENANCE", "MAINTENANCE_COMPLETE"):
        assert HOST_COLOURS[state] in fills, state
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "vm-1: LIVE_MIGRATE compute-1 to compute-2 (DONE)" in titles
    assert "vm-2: MIGRATE compute-2 to ? (FAILED)" in titles
    assert "os_upgrade (host) on compute-1: DONE" in titles
    lines = [
        line for line in root.iter(f"{SVG}line") if line.get("stroke") in MOVE_COLOURS.values()
    ]
    live = next(line for line in lines if line.get("stroke") == MOVE_COLOURS["LIVE_MIGRATE"])
    assert float(live.get("y2")) > float(live.get("y1"))  # down, to compute-2's row


def test_names_are_escaped_in_the_svg():
    detail = {**DETAIL, "hosts": [{"name": "<host & co>"}]}

    root = ET.fromstring(render_svg(detail, []))

    assert "<host & co>" in [t.text for t in root.iter(f"{SVG}text")]


def test_png_and_svg_files(tmp_path):
    svg = render_svg(DETAIL, EVENTS)

    written = write_timeline(tmp_path / "timeline.svg", svg)
    png = write_timeline(tmp_path / "timeline.png", svg)

    assert ET.parse(written).getroot().tag == f"{SVG}svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(TimelineError, match=r"\.svg or \.png"):
        write_timeline(tmp_path / "timeline.gif", svg)


def test_demo_refuses_a_timeline_it_could_not_write_before_running(tmp_path, capsys):
    options = DemoOptions(report_path=None, timeline_path=str(tmp_path / "t.jpeg"), quiet=True)

    assert run_demo(options) == 2
    assert "name a .svg or .png file" in capsys.readouterr().err


@pytest.mark.slow
def test_fenix_demo_writes_the_timeline(tmp_path, capsys):
    report, timeline = tmp_path / "report.json", tmp_path / "timeline.svg"

    code = main(
        [
            "demo",
            "--hosts",
            "2",
            "--projects",
            "1",
            "--instances",
            "1",
            "--no-actions",
            "--quiet",
            "--report",
            str(report),
            "--timeline",
            str(timeline),
        ]
    )

    assert code == 0
    assert f"timeline: {timeline}" in capsys.readouterr().out
    root = ET.parse(timeline).getroot()
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "compute-1" in texts and "compute-2" in texts
    assert any(t.startswith("Session ") and "MAINTENANCE_DONE" in t for t in texts)
    assert HOST_COLOURS["MAINTENANCE_COMPLETE"] in [r.get("fill") for r in root.iter(f"{SVG}rect")]
