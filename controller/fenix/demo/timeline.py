"""A session's timeline as a picture: one row per host, coloured by its state over time.

Drawn from what the API gives (a session's detail and its event log), as SVG in plain Python,
with instance moves as lines from the host they left to the one they went to, action plug-in
runs as a dark stripe under their host, and the session's states along the top. The web page
(fenix.api.static) draws the same picture live, with the same colours. PNG is the SVG rendered
by cairosvg, which needs the cairo library (Debian: libcairo2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

HOST_COLOURS = {
    "PENDING": "#ced4da",
    "PREPARING": "#f59f00",
    "IN_MAINTENANCE": "#e8590c",
    "MAINTENANCE_COMPLETE": "#2f9e44",
    "FAILED": "#c92a2a",
}
MOVE_COLOURS = {
    "LIVE_MIGRATE": "#1c7ed6",
    "MIGRATE": "#7048e8",
    "EVICTION": "#212529",
    "OWN_ACTION": "#0c8599",
}
UNKNOWN = "#868e96"
FONT = "DejaVu Sans, Verdana, sans-serif"

LABEL_WIDTH = 170
ROW = 24
TOP = 58
"""Title and the band of session states above the first host row."""


class TimelineError(Exception):
    """The timeline cannot be written; the message says what to install or change."""


@dataclass(frozen=True)
class Segment:
    state: str
    start: float
    end: float


@dataclass(frozen=True)
class Move:
    instance: str
    action: str
    source: str
    target: str | None
    start: float
    end: float
    outcome: str


def _seconds(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text).timestamp()


def time_span(detail: dict[str, Any], events: list[dict[str, Any]]) -> tuple[float, float]:
    """From the session's creation to its last event."""
    start = _seconds(detail["created_at"]) or 0.0
    times = [_seconds(event["at"]) or start for event in events]
    end = max([start, *times, _seconds(detail.get("updated_at")) or start])
    return start, max(end, start + 1.0)


def host_segments(
    detail: dict[str, Any], events: list[dict[str, Any]], start: float, end: float
) -> dict[str, list[Segment]]:
    """Each host's states as (state, from, to), from PENDING at the start to the end."""
    segments: dict[str, list[Segment]] = {host["name"]: [] for host in detail["hosts"]}
    current = {name: ("PENDING", start) for name in segments}
    for event in events:
        if event["kind"] != "host.state" or event["subject"] not in current:
            continue
        at = _seconds(event["at"]) or start
        state, since = current[event["subject"]]
        segments[event["subject"]].append(Segment(state, since, at))
        current[event["subject"]] = (event["new"], at)
    for name, (state, since) in current.items():
        segments[name].append(Segment(state, since, end))
    return segments


def session_segments(events: list[dict[str, Any]], start: float, end: float) -> list[Segment]:
    segments = []
    state, since = "MAINTENANCE", start
    for event in events:
        if event["kind"] == "session.state":
            at = _seconds(event["at"]) or start
            segments.append(Segment(state, since, at))
            state, since = event["new"], at
    segments.append(Segment(state, since, end))
    return segments


def instance_moves(events: list[dict[str, Any]], end: float) -> list[Move]:
    """Every move an instance.action event started, with where it went and how it ended."""
    started: dict[str, dict[str, Any]] = {}
    moves: list[Move] = []
    for event in events:
        if event["kind"] != "instance.action":
            continue
        data = event.get("data") or {}
        at = _seconds(event["at"]) or end
        if event["new"] == "STARTING":
            started[event["subject"]] = {
                "instance": event["subject"],
                "action": data.get("action") or "?",
                "source": data.get("action_from") or "?",
                "target": (data.get("details") or {}).get("target"),
                "start": at,
            }
        elif event["new"] in ("DONE", "FAILED") and event["subject"] in started:
            move = started.pop(event["subject"])
            target = data.get("host") or move["target"]
            moves.append(Move(**{**move, "target": target}, end=at, outcome=event["new"]))
    moves += [Move(**move, end=end, outcome="RUNNING") for move in started.values()]
    return sorted(moves, key=lambda move: move.start)


def render_svg(detail: dict[str, Any], events: list[dict[str, Any]], width: int = 1200) -> str:
    """The timeline as a standalone SVG document."""
    start, end = time_span(detail, events)
    hosts = [host["name"] for host in detail["hosts"]]
    plot = width - LABEL_WIDTH - 16
    legend_y = TOP + ROW * len(hosts) + 30
    height = legend_y + 26

    def x(at: float) -> float:
        return round(LABEL_WIDTH + (at - start) / (end - start) * plot, 2)

    row_y = {name: TOP + index * ROW for index, name in enumerate(hosts)}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        _text(
            8,
            18,
            f"Session {detail['session_id']}: {detail['state']}, "
            f"{detail['percent_done']}% done, {_duration(end - start)}",
            size=14,
            weight="bold",
        ),
    ]
    for segment in session_segments(events, start, end):
        x0, x1 = x(segment.start), x(segment.end)
        fill = {"MAINTENANCE_DONE": "#d3f9d8", "MAINTENANCE_FAILED": "#ffe3e3"}.get(
            segment.state, "#d0ebff"
        )
        out.append(
            _rect(
                x0,
                28,
                x1 - x0,
                18,
                fill,
                f"{segment.state} {_duration(segment.end - segment.start)}",
                stroke="#ffffff",
            )
        )
        if x1 - x0 > 6 * len(segment.state) + 8:
            out.append(_text(x0 + 4, 41, segment.state.replace("_", " "), size=10, fill="#1864ab"))
    for index, (name, segments) in enumerate(host_segments(detail, events, start, end).items()):
        y = row_y[name]
        if index % 2:
            out.append(_rect(0, y, width, ROW, "#f8f9fa"))
        out.append(_text(8, y + ROW * 0.68, name, family="DejaVu Sans Mono, monospace"))
        for segment in segments:
            x0, x1 = x(segment.start), x(segment.end)
            tip = f"{name} {segment.state} {_duration(segment.end - segment.start)}"
            colour = HOST_COLOURS.get(segment.state, UNKNOWN)
            out.append(_rect(x0, y + 3, max(x1 - x0, 1), ROW - 6, colour, tip, stroke="#ffffff"))
    for run in detail.get("action_runs", []):
        run_start = _seconds(run["started_at"]) or start
        run_end = _seconds(run.get("finished_at")) or end
        fill = "#c92a2a" if run["state"] == "FAILED" else "#212529"
        for name in run["hosts"]:
            if name in row_y:
                tip = f"{run['plugin']} ({run['type']}) on {name}: {run['state']}"
                width_ = max(x(run_end) - x(run_start), 2)
                out.append(_rect(x(run_start), row_y[name] + ROW - 5, width_, 3, fill, tip))
    for move in instance_moves(events, end):
        if move.source not in row_y:
            continue
        colour = MOVE_COLOURS.get(move.action, UNKNOWN)
        y1 = row_y[move.source] + ROW / 2
        y2 = row_y[move.target] + ROW / 2 if move.target in row_y else y1
        x1, x2 = x(move.start), max(x(move.end), x(move.start) + 2)
        tip = (
            f"{move.instance}: {move.action} {move.source} to {move.target or '?'} ({move.outcome})"
        )
        dash = ' stroke-dasharray="3 2"' if move.outcome == "FAILED" else ""
        out.append(
            f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}" '
            f'stroke-width="1.6" stroke-linecap="round"{dash}><title>{escape(tip)}</title></line>'
        )
        out.append(f'<circle cx="{x1}" cy="{y1}" r="2.5" fill="{colour}"/>')
    axis_y = TOP + ROW * len(hosts)
    for tick in _ticks(end - start):
        tx = x(start + tick)
        out.append(f'<line x1="{tx}" y1="{TOP}" x2="{tx}" y2="{axis_y + 4}" stroke="#dee2e6"/>')
        out.append(_text(tx, axis_y + 16, _clock(tick), anchor="middle", fill="#6c757d"))
    out += _legend(legend_y)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def check_target(path: str | Path) -> None:
    """Raise TimelineError now if a timeline could not be written as `path` later."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        _cairosvg()
    elif suffix != ".svg":
        raise TimelineError(f"{path}: name a .svg or .png file for the timeline")


def write_timeline(path: str | Path, svg: str) -> Path:
    """Write `svg` to `path`: as is for .svg, rendered for .png."""
    check_target(path)
    target = Path(path)
    if target.suffix.lower() == ".png":
        target.write_bytes(svg_to_png(svg))
    else:
        target.write_text(svg, encoding="utf-8")
    return target


def svg_to_png(svg: str) -> bytes:
    return _cairosvg().svg2png(bytestring=svg.encode("utf-8"))


def _cairosvg() -> Any:
    try:
        import cairosvg
    except (ImportError, OSError) as exc:
        # OSError: the package is there but the cairo library it loads is not.
        raise TimelineError(
            f"a PNG timeline needs cairosvg and the cairo library ({exc}): "
            "pip install cairosvg and apt-get install libcairo2, or write a .svg"
        ) from None
    return cairosvg


# -- drawing helpers -------------------------------------------------------------------------
def _rect(
    x: float,
    y: float,
    width: float,
    height: float,
    fill: str,
    tip: str | None = None,
    stroke: str | None = None,
) -> str:
    edge = f' stroke="{stroke}" stroke-width="0.5"' if stroke else ""
    attrs = f'x="{x}" y="{y}" width="{round(width, 2)}" height="{height}" fill="{fill}"{edge}'
    if tip is None:
        return f"<rect {attrs}/>"
    return f"<rect {attrs}><title>{escape(tip)}</title></rect>"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 11,
    weight: str = "normal",
    fill: str = "#212529",
    anchor: str = "start",
    family: str | None = None,
) -> str:
    font = f" font-family={quoteattr(family)}" if family else ""
    return (
        f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="{fill}" '
        f'text-anchor="{anchor}"{font}>{escape(text)}</text>'
    )


def _legend(y: float) -> list[str]:
    items = [(state, colour, "box") for state, colour in HOST_COLOURS.items()]
    items += [(action, colour, "line") for action, colour in MOVE_COLOURS.items()]
    items.append(("action plug-in run", "#212529", "stripe"))
    out, x = [], 8.0
    for label, colour, shape in items:
        if shape == "box":
            out.append(_rect(x, y - 9, 14, 10, colour))
        elif shape == "line":
            out.append(
                f'<line x1="{x}" y1="{y}" x2="{x + 14}" y2="{y - 9}" stroke="{colour}" '
                'stroke-width="2"/>'
            )
        else:
            out.append(_rect(x, y - 3, 14, 3, colour))
        text = label.replace("_", " ")
        out.append(_text(x + 18, y, text, size=10, fill="#495057"))
        x += 30 + 6.2 * len(text)
    return out


def _ticks(span: float) -> list[float]:
    steps = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800)
    step = next((s for s in steps if span / s <= 10), 86400)
    return [float(tick) for tick in range(0, int(span) + 1, step)]


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"
