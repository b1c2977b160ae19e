"""ReadLoad: when an API process counts as busy, and how recent an answer must then be."""

from __future__ import annotations

import pytest

from fenix.api.read_load import ReadLoad


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _reads(load: ReadLoad, count: int) -> None:
    for _ in range(count):
        load.counted()


def test_a_quiet_process_reads_every_answer_from_the_database(clock):
    load = ReadLoad(busy_from=50, max_age=1.0, clock=clock)
    _reads(load, 50)
    assert load.window("s1") is None


def test_past_busy_from_reads_a_second_an_answer_may_be_up_to_max_age_old(clock):
    load = ReadLoad(busy_from=50, max_age=1.0, clock=clock)
    _reads(load, 51)
    window = load.window("s1")
    assert window is not None
    assert window.not_before == pytest.approx(clock.now - 1.0)
    assert window.refresh_before == pytest.approx(clock.now - 0.5)


def test_the_last_whole_second_counts_until_the_next_one_ends(clock):
    load = ReadLoad(busy_from=50, max_age=1.0, clock=clock)
    _reads(load, 51)
    clock.now += 1.0
    load.counted()
    assert load.window("s1") is not None, "a busy second just ended: still busy"
    clock.now += 1.0
    load.counted()
    assert load.window("s1") is None, "one read in the last second: quiet again"


def test_reads_that_stop_leave_the_process_quiet(clock):
    load = ReadLoad(busy_from=50, max_age=1.0, clock=clock)
    _reads(load, 100)
    clock.now += 2.5
    assert load.window("s1") is None


def test_an_admins_change_makes_older_answers_of_that_session_too_old(clock):
    load = ReadLoad(busy_from=0, max_age=1.0, clock=clock)
    load.counted()
    clock.now += 0.2
    load.written("s1")
    changed, other = load.window("s1"), load.window("s2")
    assert changed is not None and other is not None
    assert changed.not_before == changed.refresh_before == clock.now
    assert other.not_before == pytest.approx(clock.now - 1.0)


def test_max_age_zero_reads_every_answer_from_the_database(clock):
    load = ReadLoad(busy_from=0, max_age=0.0, clock=clock)
    _reads(load, 1000)
    assert load.window("s1") is None


def test_the_sessions_remembered_are_bounded(clock, monkeypatch):
    monkeypatch.setattr("fenix.api.read_load.WRITES_KEPT", 3)
    load = ReadLoad(busy_from=0, max_age=1.0, clock=clock)
    for name in ("a", "b", "c", "d"):
        load.written(name)
    assert list(load._written) == ["b", "c", "d"]
