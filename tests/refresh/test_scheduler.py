"""The real APScheduler with short intervals against the fake Scholar on loopback.

Time is the test's: the engine reads a fake clock that moves only when the test moves it, and
the test awaits the scheduler's next ticks (``TickingScheduler.await_ticks``) instead of sleeping,
so slots, pauses and pacing are checked to the millisecond whatever the machine's load."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.fake_scholar import FakeScholar
from support.scheduling import FakeClock, TickingScheduler
from support.store_helpers import sqlite_url, success
from support.waiting import wait_until

from scholar_stats.core.plan import nearest_slot, stable_offset, utcnow
from scholar_stats.errors import AuthorBusy
from scholar_stats.refresh.attempt import attempt_fetch
from scholar_stats.refresh.engine import RefreshEngine
from scholar_stats.refresh.record import DEFAULT_POLICY, record_outcome
from scholar_stats.settings import FetchSettings
from scholar_stats.store.database import Store


def synthetic_ids(fake: FakeScholar, count: int, prefix: str = "SCHED") -> list[str]:
    ids = [f"{prefix}{i:05d}AJ"[:12].ljust(12, "A") for i in range(count)]
    for scholar_id in ids:
        fake.add_profile(scholar_id, pubs=20)
    return ids


@pytest.fixture
def settings(fake_scholar: FakeScholar) -> FetchSettings:
    return FetchSettings(scholar_url=fake_scholar.url, delay=0.0, deadline=10.0, timeout=2.0,
                         backoff=0.05)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(sqlite_url(tmp_path)) as opened:
        yield opened


@pytest.fixture
def running() -> Iterator[list[TickingScheduler]]:
    """Schedulers a test started; all shut down at the end, even on failure."""
    started: list[TickingScheduler] = []
    yield started
    for scheduler in started:
        scheduler.shutdown()


def scheduler_for(store: Store, settings: FetchSettings, *, tick_seconds: float = 0.02,
                  on_result: Callable[[Any], None] | None = None,
                  **kwargs: Any) -> TickingScheduler:
    """A scheduler driving an engine of its own (the engine takes the pacing and budget)."""
    kwargs = {"spacing": 0.0, "requests_per_hour": 1000, **kwargs}
    engine = RefreshEngine(store, settings, **kwargs)
    if on_result is not None:
        engine.add_listener(on_result)
    return TickingScheduler(engine, tick_seconds=tick_seconds)


def start(running: list[TickingScheduler], store: Store, settings: FetchSettings,
          **kwargs: Any) -> TickingScheduler:
    scheduler = scheduler_for(store, settings, **kwargs)
    scheduler.start()
    running.append(scheduler)
    return scheduler


def spread_ids(fake: FakeScholar, interval: float, count: int, gap: float) -> list[str]:
    """Ids whose slots are at least ``gap`` apart (circularly) in an ``interval``."""
    chosen: list[str] = []
    for i in range(1000):
        candidate = f"SPREAD{i:04d}AJ"
        offset = stable_offset(candidate, interval)
        if all(min(abs(offset - stable_offset(c, interval)),
                   interval - abs(offset - stable_offset(c, interval))) >= gap for c in chosen):
            chosen.append(candidate)
        if len(chosen) == count:
            break
    for scholar_id in chosen:
        fake.add_profile(scholar_id, pubs=20)
    return chosen


def test_authors_are_refreshed_at_their_own_offsets(
    fake_scholar: FakeScholar, settings: FetchSettings, store: Store,
    running: list[TickingScheduler],
) -> None:
    interval, gap, step = 4.0, 0.8, 0.05  # the clock moves 50 ms at a time
    ids = spread_ids(fake_scholar, interval, 4, gap=gap)
    clock = FakeClock()
    store.add_authors(ids, interval, clock())
    results: list[str] = []
    scheduler = scheduler_for(store, settings, clock=clock,
                              on_result=lambda o: results.append(o.scholar_id))
    assert scheduler.state == "stopped"
    scheduler.start()
    running.append(scheduler)
    assert scheduler.state == "running"
    wait_until(lambda: all(store.attempts(i) for i in ids), "the new authors were fetched",
               timeout=10)  # at once: new authors are due, and nothing paces them
    end = clock() + timedelta(seconds=2 * interval)
    while not all(len(store.attempts(i)) >= 2 for i in ids):
        assert clock() < end, "not every author came round again within two intervals"
        clock.advance(step)
        scheduler.await_ticks()  # at most one author is due per step: one tick fetches it
    scheduler.shutdown()
    second_round = []
    for scholar_id in ids:
        first, second = sorted(a.at for a in store.attempts(scholar_id))[:2]
        # fired at its own slot: the first step of the clock at or after it
        late = second - nearest_slot(scholar_id, interval, second)
        assert timedelta(0) <= late < timedelta(seconds=step), (scholar_id, late)
        # the slot nearest +4 s
        assert timedelta(seconds=interval / 2) <= second - first \
            < timedelta(seconds=1.5 * interval + step), (scholar_id, second - first)
        second_round.append((second, scholar_id))
    # the second round happens in the order of the slots, not all at once
    times = sorted(t for t, _ in second_round)
    assert all(b - a > timedelta(seconds=gap - step) for a, b in itertools.pairwise(times)), times
    assert set(results) == set(ids)
    assert scheduler.last_success() is not None
    assert all(store.latest(i) is not None for i in ids)


def test_the_hourly_budget_holds(
    fake_scholar: FakeScholar, settings: FetchSettings, store: Store,
    running: list[TickingScheduler],
) -> None:
    ids = synthetic_ids(fake_scholar, 5)
    store.add_authors(ids, 3600, utcnow())
    scheduler = start(running, store, settings, requests_per_hour=3, budget_window=3600)
    wait_until(lambda: len(fake_scholar.requests) >= 3, "three requests", timeout=5)
    scheduler.await_ticks(25)  # plenty of ticks in which nothing else may happen
    assert len(fake_scholar.requests) == 3
    states = sorted(a.state for a in store.list_authors())
    assert states == ["new", "new", "ok", "ok", "ok"]


def test_the_budget_refuses_the_page_that_would_exceed_it(
    fake_scholar: FakeScholar, settings: FetchSettings, store: Store,
    running: list[TickingScheduler],
) -> None:
    big = "BIGAUTHORAAJ"
    fake_scholar.add_profile(big, pubs=250)  # three pages
    store.add_authors([big], 3600, utcnow())
    scheduler = start(running, store, settings, requests_per_hour=2)
    wait_until(lambda: len(fake_scholar.requests) >= 2, "two requests", timeout=5)
    scheduler.await_ticks(20)
    assert len(fake_scholar.requests) == 2  # the third page was never requested
    author = store.get_author(big)
    assert author is not None and author.state == "new"  # deferred, not failed
    assert store.latest(big) is None and store.attempts(big) == []
    assert store.claim(big, utcnow(), 1)  # and its lease was released


def test_a_block_pauses_everything_then_fetching_resumes(
    fake_scholar: FakeScholar, settings: FetchSettings, tmp_path: Path,
    running: list[TickingScheduler],
) -> None:
    clock = FakeClock()
    with Store(sqlite_url(tmp_path)) as store:
        ids = synthetic_ids(fake_scholar, 3)
        store.add_authors(ids, 3600, clock())
        fake_scholar.mode = "403"
        scheduler = start(running, store, settings, clock=clock)  # the default policy
        wait_until(lambda: len(store.attempts()) == 1, "the blocked attempt", timeout=5)
        blocked = store.attempts()[0]
        assert blocked.exit_code == 3
        resume = blocked.at + timedelta(seconds=DEFAULT_POLICY.backoff_initial)  # 30 min
        assert scheduler.state == f"paused until {resume.isoformat(timespec='seconds')}"
        clock.set(resume - timedelta(milliseconds=1))  # the last moment of the pause
        scheduler.await_ticks(20)
        assert len(fake_scholar.requests) == 1  # nobody else was tried during the pause
        assert scheduler.state.startswith("paused until ")
        fake_scholar.mode = "ok"
        clock.set(resume)
        wait_until(lambda: all(store.latest(i) is not None for i in ids),
                   "every author fetched after the pause", timeout=5)
        first_after = min(a.at for a in store.attempts() if a.exit_code == 0)
        assert first_after == resume  # not a moment sooner (nor later: the clock stood still)
        assert store.pause() is None and scheduler.state == "running"


def test_a_restart_continues_the_plan(
    fake_scholar: FakeScholar, settings: FetchSettings, tmp_path: Path,
    running: list[TickingScheduler],
) -> None:
    url = sqlite_url(tmp_path)
    ids = synthetic_ids(fake_scholar, 3)
    clock = FakeClock()
    with Store(url) as store:
        store.add_authors(ids, 3600, clock())
        first = start(running, store, settings, clock=clock)
        wait_until(lambda: len(fake_scholar.requests) == 3, "the first process fetched all three",
                   timeout=5)
        first.shutdown()
    last_attempt = clock()
    # overdue authors: last fetched two intervals ago
    overdue = synthetic_ids(fake_scholar, 3, prefix="LATE")
    with Store(url) as store:
        long_ago = clock() - timedelta(hours=2)
        store.add_authors(overdue, 3600, long_ago)
        for scholar_id in overdue:
            record_outcome(store, success(scholar_id, {"p1": 1}), long_ago)
    fake_scholar.requests.clear()
    spacing = 120.0  # the default pacing: an hour's window over its 30 requests
    landed: list[str] = []  # told after each fetch is recorded and the next one paced
    with Store(url) as store:  # "the next process"
        scheduler = start(running, store, settings, clock=clock, spacing=spacing,
                          on_result=lambda outcome: landed.append(outcome.scholar_id))
        # the pacing counts from the last attempt, the other process's: each fetch starts
        # ``spacing`` after the one before, and not a millisecond sooner
        for n in range(1, 4):
            clock.set(last_attempt + timedelta(seconds=n * spacing) - timedelta(milliseconds=1))
            scheduler.await_ticks()
            assert len(fake_scholar.requests) == n - 1, n
            clock.advance(0.001)
            wait_until(lambda n=n: len(landed) == n, f"fetch {n} of the overdue", timeout=5)
        clock.advance(spacing)
        scheduler.await_ticks()
        requested = [r.split("user=")[1][:12] for r in fake_scholar.requests]
        assert sorted(requested) == sorted(overdue)  # fresh ones were not fetched again
        times = sorted(a.at for i in overdue for a in store.attempts(i) if a.at > long_ago)
        # no burst
        assert [b - a for a, b in itertools.pairwise(times)] == [
            timedelta(seconds=spacing)] * 2, times


def test_two_refreshes_of_one_author_never_overlap(
    fake_scholar: FakeScholar, settings: FetchSettings, tmp_path: Path,
    running: list[TickingScheduler],
) -> None:
    url = sqlite_url(tmp_path)
    ids = synthetic_ids(fake_scholar, 2)
    fetches: list[tuple[str, str]] = []
    in_flight: Counter[str] = Counter()  # fetches under way, by author and by process
    most: Counter[str] = Counter()  # the most ever under way at once
    lock = threading.Lock()

    def watched(tag: str) -> Callable[..., Any]:
        def fetch(scholar_id: str, *args: Any, **kwargs: Any) -> Any:
            with lock:
                for key in (scholar_id, tag):
                    in_flight[key] += 1
                    most[key] = max(most[key], in_flight[key])
            try:
                time.sleep(0.05)  # a window wide enough for an overlap to show
                return attempt_fetch(scholar_id, *args, **kwargs)
            finally:
                with lock:
                    in_flight.subtract((scholar_id, tag))
                    fetches.append((tag, scholar_id))
        return fetch

    with Store(url) as store_a, Store(url) as store_b:  # two processes' worth of stores
        store_a.add_authors(ids, 0.2, utcnow())
        a = start(running, store_a, settings, fetch=watched("a"))
        start(running, store_b, settings, fetch=watched("b"))
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                with contextlib.suppress(AuthorBusy):  # the other process has it
                    a.refresh_now(ids[0])

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(fetches) >= 20 and {t for t, _ in fetches} == {"a", "b"},
                       "twenty fetches, by both processes")
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert len(fetches) >= 10
    for scholar_id in ids:
        assert most[scholar_id] == 1, scholar_id  # never two fetches of one author at once
    for tag in "ab":
        assert most[tag] == 1, tag  # one fetch at a time per process
    assert {tag for tag, _ in fetches} == {"a", "b"}
