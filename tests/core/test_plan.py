"""The refresh engine's decisions, as pure functions: no database, no network."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from scholar_stats.core.plan import (
    DAY,
    Pause,
    Policy,
    expected_requests,
    is_stale,
    nearest_slot,
    next_due_after,
    pause_after,
    stale_at,
)

T = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
POLICY = Policy(not_found_retry=7 * DAY, network_retry=600, backoff_initial=1800,
                backoff_max=DAY)


@pytest.mark.parametrize("code,expected", [
    (0, nearest_slot("AUTHORAAAAAJ", DAY, T + timedelta(days=1))),  # ok: next slot
    (5, nearest_slot("AUTHORAAAAAJ", DAY, T + timedelta(days=1))),  # not understood: same
    (4, T + timedelta(days=7)),  # not found: weekly
    (6, T + timedelta(seconds=600)),  # network failure: sooner
    (7, nearest_slot("AUTHORAAAAAJ", DAY, T + timedelta(days=1))),  # implausible: next slot
    (3, None),  # blocked: unchanged, the pause decides
])
def test_next_due_after_each_outcome(code: int, expected: datetime | None) -> None:
    assert next_due_after("AUTHORAAAAAJ", DAY, code, T, POLICY) == expected


def test_the_pause_doubles_per_block_is_capped_and_a_success_ends_it() -> None:
    first = pause_after(None, [3], T, POLICY)
    assert first == Pause(T + timedelta(minutes=30), 0)
    second = pause_after(first, [3], T, POLICY)
    assert second == Pause(T + timedelta(minutes=60), 1)
    many = pause_after(second, [3] * 20, T, POLICY)
    assert many is not None and many.until == T + timedelta(days=1) and many.level == 21
    assert pause_after(many, [4, 5, 6, 7, 1], T, POLICY) == many  # other failures leave it
    assert pause_after(many, [0], T, POLICY) is None
    assert pause_after(None, [0, 3], T, POLICY) == Pause(T + timedelta(minutes=30), 0)  # in order
    assert pause_after(None, [3, 0], T, POLICY) is None


@pytest.mark.parametrize("publications,pages", [(None, 1), (0, 1), (1, 1), (100, 1), (101, 2),
                                                 (250, 3), (50_000, 500)])
def test_expected_requests_are_pages_of_one_hundred(publications: int | None, pages: int) -> None:
    assert expected_requests(publications) == pages


def test_staleness_is_judged_once() -> None:
    week = 7 * DAY
    assert is_stale(None, T, week) and stale_at(None, week) is None
    assert stale_at(T, week) == T + timedelta(days=7)
    assert not is_stale(T, T + timedelta(days=7), week)  # exactly the max age: still fresh
    assert is_stale(T, T + timedelta(days=7, seconds=1), week)
    assert not is_stale(T, T + timedelta(days=3650), 1e300)  # an absurd max age: never stale
