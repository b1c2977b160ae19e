"""The query parameters of the session reads: the detail in parts and pages, the event log in pages.

A 1,000-host session's detail is thousands of rows; a watcher that wants the hosts' states or
the events since its last poll asks for only that:

- `detail?parts=hosts,projects` answers the summary fields, `metadata` and `download`, and only
  the parts named (DETAIL_PARTS, the detail's own keys); each part costs only its own query.
- `detail?host_offset=200&host_limit=100` (and `instance_offset` / `instance_limit`) pages the
  hosts (in their order) or the instances (by id); a paged list comes with its total,
  `hosts_total` or `instances_total`.
- `events?since=<id>&limit=<n>` answers at most `limit` events (EVENTS_DEFAULT_LIMIT, at most
  EVENTS_MAX_LIMIT) after the id `since` (`after` is the same, its older name), with `more`
  (events are left after these) and `next` (the `since` to ask with next). An event's id is
  its position in the session's log, given in commit order (fenix.db.changes).

Without parameters the detail is the whole of it, as it always was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fenix.api.errors import bad_request

DETAIL_PARTS = (
    "hosts",
    "projects",
    "instances",
    "action_plugins",
    "action_runs",
    "deliveries",
    "dead_notifications",
    "constraint_breaches",
    "paused",
    "pauses",
    "windows",
    "held",
    "gates",
)
"""The detail's parts, in the order the detail gives them."""

MAX_ROW_INDEX = 2**31 - 1
"""Offsets and event ids are compared with INTEGER columns (32 bits on PostgreSQL)."""
PAGE_MAX_LIMIT = 5000
EVENTS_DEFAULT_LIMIT = 500
EVENTS_MAX_LIMIT = 5000


@dataclass(frozen=True)
class Page:
    offset: int = 0
    limit: int | None = None

    @property
    def asked(self) -> bool:
        return self.offset != 0 or self.limit is not None


@dataclass(frozen=True)
class DetailQuery:
    parts: tuple[str, ...] = DETAIL_PARTS
    hosts: Page = Page()
    instances: Page = Page()

    def key(self) -> tuple[object, ...]:
        """What shapes the body, for its ETag."""
        return (self.parts, self.hosts, self.instances)


WHOLE_DETAIL = DetailQuery()


@dataclass(frozen=True)
class EventsQuery:
    since: int = 0
    limit: int = EVENTS_DEFAULT_LIMIT


def detail_query(args: Mapping[str, str]) -> DetailQuery:
    parts = DETAIL_PARTS
    if "parts" in args:
        names = [name.strip() for name in args["parts"].split(",") if name.strip()]
        unknown = [name for name in names if name not in DETAIL_PARTS]
        if unknown or not names:
            raise bad_request(
                f"parts: {', '.join(repr(n) for n in unknown) or 'no part named'}; "
                f"name one or more of {', '.join(DETAIL_PARTS)}, separated by commas"
            )
        parts = tuple(part for part in DETAIL_PARTS if part in names)
    hosts = _page(args, "host")
    instances = _page(args, "instance")
    for page, part, prefix in ((hosts, "hosts", "host"), (instances, "instances", "instance")):
        if page.asked and part not in parts:
            raise bad_request(
                f"{prefix}_offset and {prefix}_limit page the {part}, which `parts` leaves out; "
                f"add {part} to parts"
            )
    return DetailQuery(parts, hosts, instances)


def events_query(args: Mapping[str, str]) -> EventsQuery:
    if "since" in args and "after" in args:
        raise bad_request(
            "since and after are the same parameter (after is its older name); give one of them"
        )
    name = "since" if "since" in args else "after"
    since = _whole_number(args, name, 0, MAX_ROW_INDEX, default=0, what="an event id")
    limit = _whole_number(
        args, "limit", 1, EVENTS_MAX_LIMIT, default=EVENTS_DEFAULT_LIMIT, what="a count"
    )
    return EventsQuery(since, limit)


def _page(args: Mapping[str, str], prefix: str) -> Page:
    offset = _whole_number(args, f"{prefix}_offset", 0, MAX_ROW_INDEX, default=0, what="a position")
    limit = _whole_number(args, f"{prefix}_limit", 0, PAGE_MAX_LIMIT, default=None, what="a count")
    return Page(offset, limit)


def _whole_number(
    args: Mapping[str, str], name: str, low: int, high: int, *, default: int | None, what: str
) -> int | None:
    if name not in args:
        return default
    text = args[name]
    try:
        value: int | None = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        # Past the columns' range the database fails the query itself (it was a 500).
        raise bad_request(
            f"{name}: expected {what} (a whole number from {low} to {high}), got {text!r}"
        )
    return value
