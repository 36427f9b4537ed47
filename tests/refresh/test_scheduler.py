"""The real APScheduler with short intervals against the fake Scholar on loopback."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.fake_scholar import FakeScholar
from support.store_helpers import sqlite_url, success
from support.waiting import wait_until

from scholar_stats.core.plan import EPOCH, Policy, stable_offset, utcnow
from scholar_stats.errors import AuthorBusy
from scholar_stats.refresh.attempt import attempt_fetch
from scholar_stats.refresh.engine import RefreshEngine
from scholar_stats.refresh.record import record_outcome
from scholar_stats.refresh.scheduler import RefreshScheduler
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
def running() -> Iterator[list[RefreshScheduler]]:
    """Schedulers a test started; all shut down at the end, even on failure."""
    started: list[RefreshScheduler] = []
    yield started
    for scheduler in started:
        scheduler.shutdown()


def scheduler_for(store: Store, settings: FetchSettings, *, tick_seconds: float = 0.02,
                  on_result: Callable[[Any], None] | None = None,
                  **kwargs: Any) -> RefreshScheduler:
    """A scheduler driving an engine of its own (the engine takes the pacing and budget)."""
    kwargs = {"spacing": 0.0, "requests_per_hour": 1000, **kwargs}
    engine = RefreshEngine(store, settings, **kwargs)
    if on_result is not None:
        engine.add_listener(on_result)
    return RefreshScheduler(engine, tick_seconds=tick_seconds)


def start(running: list[RefreshScheduler], store: Store, settings: FetchSettings,
          **kwargs: Any) -> RefreshScheduler:
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
    running: list[RefreshScheduler],
) -> None:
    interval = 4.0  # slots a second apart: lateness on a loaded machine stays well inside one
    ids = spread_ids(fake_scholar, interval, 4, gap=0.8)
    store.add_authors(ids, interval, utcnow())
    results: list[str] = []
    scheduler = scheduler_for(store, settings, on_result=lambda o: results.append(o.scholar_id))
    assert scheduler.state == "stopped"
    scheduler.start()
    running.append(scheduler)
    assert scheduler.state == "running"
    wait_until(lambda: all(len(store.attempts(i)) >= 2 for i in ids),
               "every author was fetched twice", timeout=16)
    scheduler.shutdown()
    second_round = []
    for scholar_id in ids:
        first, second = sorted(a.at for a in store.attempts(scholar_id))[:2]
        phase = ((second - EPOCH).total_seconds()) % interval
        distance = abs(phase - stable_offset(scholar_id, interval))
        assert min(distance, interval - distance) < 0.6, scholar_id  # fired at its own slot
        # the slot nearest +4 s
        assert timedelta(seconds=1.8) <= second - first <= timedelta(seconds=6.6)
        second_round.append((second, scholar_id))
    # the second round happens in the order of the slots, not all at once
    times = sorted(t for t, _ in second_round)
    assert all(b - a >= timedelta(seconds=0.4) for a, b in itertools.pairwise(times))
    assert set(results) == set(ids)
    assert scheduler.last_success() is not None
    assert all(store.latest(i) is not None for i in ids)


def test_the_hourly_budget_holds(
    fake_scholar: FakeScholar, settings: FetchSettings, store: Store,
    running: list[RefreshScheduler],
) -> None:
    ids = synthetic_ids(fake_scholar, 5)
    store.add_authors(ids, 3600, utcnow())
    start(running, store, settings, requests_per_hour=3, budget_window=3600)
    wait_until(lambda: len(fake_scholar.requests) >= 3, "three requests", timeout=5)
    time.sleep(0.5)  # plenty of ticks in which nothing else may happen
    assert len(fake_scholar.requests) == 3
    states = sorted(a.state for a in store.list_authors())
    assert states == ["new", "new", "ok", "ok", "ok"]


def test_the_budget_refuses_the_page_that_would_exceed_it(
    fake_scholar: FakeScholar, settings: FetchSettings, store: Store,
    running: list[RefreshScheduler],
) -> None:
    big = "BIGAUTHORAAJ"
    fake_scholar.add_profile(big, pubs=250)  # three pages
    store.add_authors([big], 3600, utcnow())
    start(running, store, settings, requests_per_hour=2)
    wait_until(lambda: len(fake_scholar.requests) >= 2, "two requests", timeout=5)
    time.sleep(0.4)
    assert len(fake_scholar.requests) == 2  # the third page was never requested
    author = store.get_author(big)
    assert author is not None and author.state == "new"  # deferred, not failed
    assert store.latest(big) is None and store.attempts(big) == []
    assert store.claim(big, utcnow(), 1)  # and its lease was released


def test_a_block_pauses_everything_then_fetching_resumes(
    fake_scholar: FakeScholar, settings: FetchSettings, tmp_path: Path,
    running: list[RefreshScheduler],
) -> None:
    policy = Policy(backoff_initial=0.8, backoff_max=5.0)
    with Store(sqlite_url(tmp_path)) as store:
        ids = synthetic_ids(fake_scholar, 3)
        store.add_authors(ids, 3600, utcnow())
        fake_scholar.mode = "403"
        scheduler = start(running, store, settings, policy=policy)
        wait_until(lambda: len(store.attempts()) == 1, "the blocked attempt", timeout=5)
        assert scheduler.state.startswith("paused until ")
        time.sleep(0.4)
        assert len(fake_scholar.requests) == 1  # nobody else was tried during the pause
        blocked = store.attempts()[0]
        assert blocked.exit_code == 3
        fake_scholar.mode = "ok"
        wait_until(lambda: all(store.latest(i) is not None for i in ids),
                   "every author fetched after the pause", timeout=5)
        first_after = min(a.at for a in store.attempts() if a.exit_code == 0)
        assert first_after - blocked.at >= timedelta(seconds=0.8)
        assert store.pause() is None and scheduler.state == "running"


def test_a_restart_continues_the_plan(
    fake_scholar: FakeScholar, settings: FetchSettings, tmp_path: Path,
    running: list[RefreshScheduler],
) -> None:
    url = sqlite_url(tmp_path)
    ids = synthetic_ids(fake_scholar, 3)
    with Store(url) as store:
        store.add_authors(ids, 3600, utcnow())
        first = start(running, store, settings)
        wait_until(lambda: len(fake_scholar.requests) == 3, "the first process fetched all three",
                   timeout=5)
        first.shutdown()
    # overdue authors: last fetched two intervals ago
    overdue = synthetic_ids(fake_scholar, 3, prefix="LATE")
    with Store(url) as store:
        long_ago = utcnow() - timedelta(hours=2)
        store.add_authors(overdue, 3600, long_ago)
        for scholar_id in overdue:
            record_outcome(store, success(scholar_id, {"p1": 1}), long_ago)
    fake_scholar.requests.clear()
    with Store(url) as store:  # "the next process"
        start(running, store, settings, spacing=0.4)
        wait_until(lambda: len(fake_scholar.requests) == 3, "the overdue authors were fetched",
                   timeout=5)
        time.sleep(0.3)
        requested = [r.split("user=")[1][:12] for r in fake_scholar.requests]
        assert sorted(requested) == sorted(overdue)  # fresh ones were not fetched again
        recent = utcnow() - timedelta(minutes=5)
        times = sorted(a.at for i in overdue for a in store.attempts(i) if a.at > recent)
        # no burst
        assert all(b - a >= timedelta(seconds=0.4) for a, b in itertools.pairwise(times)), times


def test_two_refreshes_of_one_author_never_overlap(
    fake_scholar: FakeScholar, settings: FetchSettings, tmp_path: Path,
    running: list[RefreshScheduler],
) -> None:
    url = sqlite_url(tmp_path)
    ids = synthetic_ids(fake_scholar, 2)
    spans: list[tuple[str, str, float, float]] = []
    spans_lock = threading.Lock()

    def watched(tag: str) -> Callable[..., Any]:
        def fetch(scholar_id: str, *args: Any, **kwargs: Any) -> Any:
            began = time.monotonic()
            time.sleep(0.05)
            outcome = attempt_fetch(scholar_id, *args, **kwargs)
            with spans_lock:
                spans.append((tag, scholar_id, began, time.monotonic()))
            return outcome
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
        time.sleep(2.0)
        stop.set()
        for thread in threads:
            thread.join()
    assert len(spans) >= 10
    for scholar_id in ids:
        mine = sorted((s for s in spans if s[1] == scholar_id), key=lambda s: s[2])
        assert all(nxt[2] >= cur[3] for cur, nxt in itertools.pairwise(mine)), scholar_id
    for tag in "ab":  # one fetch at a time per process
        mine = sorted((s for s in spans if s[0] == tag), key=lambda s: s[2])
        assert all(nxt[2] >= cur[3] for cur, nxt in itertools.pairwise(mine)), tag
    assert {s[0] for s in spans} == {"a", "b"}
