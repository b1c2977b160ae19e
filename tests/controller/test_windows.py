"""fenix.windows alone: when a session may start a host, for dated and weekly windows."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fenix.windows import (
    DAYS,
    Schedule,
    Weekly,
    closes_at,
    is_open,
    next_opening,
    schedule_from,
    to_stored,
    weekly_from,
)

# 2026-12-04 is a Friday.
FRI_NOON = datetime(2026, 12, 4, 12, 0)
WEEKEND_NIGHTS = weekly_from(["sat", "sun"], "22:00", "04:00")


def test_no_windows_is_always_open():
    schedule = Schedule()

    assert is_open(schedule, FRI_NOON)
    assert next_opening(schedule, FRI_NOON) == FRI_NOON
    assert closes_at(schedule, FRI_NOON) is None


def test_a_dated_window_is_open_from_its_start_up_to_its_end():
    schedule = Schedule(dated=((datetime(2026, 12, 4, 13), datetime(2026, 12, 4, 14)),))

    assert not is_open(schedule, FRI_NOON)
    assert next_opening(schedule, FRI_NOON) == datetime(2026, 12, 4, 13)
    assert is_open(schedule, datetime(2026, 12, 4, 13))
    assert closes_at(schedule, datetime(2026, 12, 4, 13, 30)) == datetime(2026, 12, 4, 14)
    assert not is_open(schedule, datetime(2026, 12, 4, 14))  # the end is outside
    assert next_opening(schedule, datetime(2026, 12, 4, 14)) is None  # none left


def test_the_next_window_is_the_earliest_of_either_kind():
    schedule = Schedule(
        dated=((datetime(2026, 12, 6, 1), datetime(2026, 12, 6, 2)),), weekly=(WEEKEND_NIGHTS,)
    )

    assert next_opening(schedule, FRI_NOON) == datetime(2026, 12, 5, 22)  # Saturday night


def test_a_weekly_window_past_midnight_belongs_to_the_day_it_starts():
    schedule = Schedule(weekly=(WEEKEND_NIGHTS,))

    assert is_open(schedule, datetime(2026, 12, 5, 23))  # Saturday 23:00
    assert is_open(schedule, datetime(2026, 12, 6, 3, 59))  # Sunday early: Saturday's night
    assert not is_open(schedule, datetime(2026, 12, 6, 4))
    assert is_open(schedule, datetime(2026, 12, 7, 1))  # Monday early: Sunday's night
    assert not is_open(schedule, datetime(2026, 12, 5, 3))  # Saturday early: Friday's, none
    assert closes_at(schedule, datetime(2026, 12, 5, 23)) == datetime(2026, 12, 6, 4)
    assert next_opening(schedule, datetime(2026, 12, 7, 5)) == datetime(2026, 12, 12, 22)


def test_windows_that_touch_close_as_one():
    schedule = Schedule(
        dated=((datetime(2026, 12, 4, 11), datetime(2026, 12, 4, 13)),),
        weekly=(weekly_from(["fri"], "13:00", "15:00"),),
    )

    assert closes_at(schedule, FRI_NOON) == datetime(2026, 12, 4, 15)


def test_a_schedule_open_round_the_clock_closes_no_earlier_than_weeks_ahead():
    schedule = Schedule(
        weekly=(
            weekly_from(list(DAYS), "00:00", "12:00"),
            weekly_from(list(DAYS), "12:00", "00:00"),
        )
    )

    assert is_open(schedule, FRI_NOON)
    assert (closes_at(schedule, FRI_NOON) - FRI_NOON).days >= 28


@pytest.mark.parametrize(
    ("days", "start", "end", "message"),
    [
        (["funday"], "22:00", "04:00", "not a day of the week"),
        ([], "22:00", "04:00", "at least one day"),
        (["sat"], "25:00", "04:00", "not a time of day"),
        (["sat"], "2200", "04:00", "not a time of day"),
        (["sat"], "22:00", "22:00", "must last"),
    ],
)
def test_bad_weekly_windows_say_what_is_wrong(days, start, end, message):
    with pytest.raises(ValueError, match=message):
        weekly_from(days, start, end)


def test_full_day_names_are_taken_too():
    assert weekly_from(["Saturday", "sun"], "22:00", "04:00") == WEEKEND_NIGHTS


def test_the_stored_form_reads_back_the_same():
    schedule = Schedule(
        dated=((datetime(2026, 12, 4, 13), datetime(2026, 12, 4, 14)),), weekly=(WEEKEND_NIGHTS,)
    )

    assert schedule_from(to_stored(schedule)) == schedule
    assert to_stored(Schedule()) is None and schedule_from(None) == Schedule()


moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1))
weeklies = st.builds(
    Weekly,
    st.frozensets(st.integers(0, 6), min_size=1),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
).filter(lambda w: w.start != w.end)


@given(st.lists(weeklies, min_size=1, max_size=3), moments)
def test_the_next_opening_is_open_and_nothing_before_it_is(weekly, now):
    schedule = Schedule(weekly=tuple(weekly))

    opens = next_opening(schedule, now)

    assert opens is not None  # a weekly schedule always comes round again
    assert is_open(schedule, opens)
    assert opens == now or not is_open(schedule, now)
    if opens > now + timedelta(seconds=1):
        assert not is_open(schedule, opens - timedelta(seconds=1))  # it is the first


@given(st.lists(weeklies, min_size=1, max_size=3), moments)
def test_a_window_open_now_closes_later_and_is_closed_then(weekly, now):
    schedule = Schedule(weekly=tuple(weekly))
    if not is_open(schedule, now):
        return
    closes = closes_at(schedule, now)

    assert closes is not None and closes > now
    if (closes - now).days < 28:
        assert not is_open(schedule, closes)


def test_time_of_day_keeps_its_seconds():
    assert weekly_from(["mon"], "22:00:30", "04:00").start == time(22, 0, 30)
