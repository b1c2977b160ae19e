"""Maintenance windows: when a session may start a new host, as plain arithmetic on UTC times.

A session may carry dated windows (UTC start and end) and a weekly schedule (days of the week
with a start and end time of day, UTC; an end at or before the start runs past midnight). With
neither it may start hosts at any time. Outside every window no new host starts; a host in
work finishes, and the next window carries on where the last stopped.

No I/O and no clock of its own: the caller hands `now` in, so the engine, the API and the
metrics agree and the arithmetic is tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from fenix.timeutil import parse_timestamp, to_iso

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names as the schedule takes them, Monday first (datetime.weekday's order)."""


@dataclass(frozen=True)
class Weekly:
    """Every week on `days`, from `start` to `end` (UTC); past midnight when end <= start."""

    days: frozenset[int]
    """0 is Monday."""
    start: time
    end: time

    def spans_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Schedule:
    dated: tuple[tuple[datetime, datetime], ...] = ()
    weekly: tuple[Weekly, ...] = ()

    @property
    def always_open(self) -> bool:
        return not self.dated and not self.weekly


def _openings(schedule: Schedule, around: datetime) -> Iterable[tuple[datetime, datetime]]:
    """Every window that may hold `around` or come after it within eight days (weekly ones
    from the day before, for those past midnight), and every dated one."""
    yield from schedule.dated
    first_day = datetime.combine(around.date(), time()) - timedelta(days=1)
    for offset in range(9):
        day = first_day + timedelta(days=offset)
        for weekly in schedule.weekly:
            if day.weekday() not in weekly.days:
                continue
            start = datetime.combine(day.date(), weekly.start)
            end = datetime.combine(day.date(), weekly.end)
            if weekly.spans_midnight():
                end += timedelta(days=1)
            yield start, end


def _merged(windows: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Windows sorted, those that touch or overlap made one."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def is_open(schedule: Schedule, now: datetime) -> bool:
    """May a new host start at `now`?"""
    if schedule.always_open:
        return True
    return any(start <= now < end for start, end in _openings(schedule, now))


def next_opening(schedule: Schedule, now: datetime) -> datetime | None:
    """When the next window opens after `now` (`now` itself when one is open); None when no
    window is left (dated windows all past, no weekly schedule)."""
    if is_open(schedule, now):
        return now
    starts = [start for start, end in _openings(schedule, now) if start > now]
    return min(starts, default=None)


def closes_at(schedule: Schedule, now: datetime) -> datetime | None:
    """When the window open at `now` closes (windows that touch count as one); None when
    always open or closed now. A weekly schedule open round the clock is looked at five
    weeks ahead at most: the answer is then "not before" that."""
    if schedule.always_open or not is_open(schedule, now):
        return None
    at = now
    for _hop in range(5):
        block = next(
            (end for start, end in _merged(_openings(schedule, at)) if start <= at < end), None
        )
        if block is None:
            return at
        at = block
        if not is_open(schedule, at):
            return at
    return at


# -- the wire form ---------------------------------------------------------------------------
def parse_time_of_day(text: str) -> time:
    """ "HH:MM" or "HH:MM:SS", UTC."""
    try:
        parts = [int(part) for part in text.split(":")]
        if len(parts) not in (2, 3) or any(len(p) != 2 for p in text.split(":")):
            raise ValueError
        return time(*parts)
    except (ValueError, TypeError):
        raise ValueError(f"{text!r} is not a time of day: use 'HH:MM' (UTC)") from None


def weekly_from(days: Iterable[str], start: str, end: str) -> Weekly:
    """One weekly window from its wire form, or ValueError saying what is wrong."""
    numbers = set()
    for day in days:
        name = str(day).strip().lower()
        if name[:3] not in DAYS or name not in (name[:3], _full_name(name[:3])):
            raise ValueError(f"{day!r} is not a day of the week: use {', '.join(DAYS)}")
        numbers.add(DAYS.index(name[:3]))
    if not numbers:
        raise ValueError("days: name at least one day of the week")
    opens, closes = parse_time_of_day(start), parse_time_of_day(end)
    if opens == closes:
        raise ValueError(f"start and end are both {start}: a window must last")
    return Weekly(frozenset(numbers), opens, closes)


def _full_name(short: str) -> str:
    return {
        "mon": "monday",
        "tue": "tuesday",
        "wed": "wednesday",
        "thu": "thursday",
        "fri": "friday",
        "sat": "saturday",
        "sun": "sunday",
    }[short]


def schedule_from(stored: Mapping[str, Any] | None) -> Schedule:
    """The schedule a session stores (`to_stored`'s output, already validated)."""
    if not stored:
        return Schedule()
    dated = tuple(
        (parse_timestamp(w["start"]), parse_timestamp(w["end"])) for w in stored.get("windows", [])
    )
    weekly = tuple(weekly_from(w["days"], w["start"], w["end"]) for w in stored.get("weekly", []))
    return Schedule(dated, weekly)


def to_stored(schedule: Schedule) -> dict[str, Any] | None:
    """The JSON a session stores and the detail shows (None: no windows)."""
    if schedule.always_open:
        return None
    return {
        "windows": [{"start": to_iso(start), "end": to_iso(end)} for start, end in schedule.dated],
        "weekly": [
            {
                "days": [DAYS[n] for n in sorted(w.days)],
                "start": w.start.strftime("%H:%M:%S"),
                "end": w.end.strftime("%H:%M:%S"),
            }
            for w in schedule.weekly
        ],
    }
