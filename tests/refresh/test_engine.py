"""The refresh engine and its drivers: one fetch in flight per process whoever asks, listeners,
the admin refresh's 409, a scheduler that outlives a database outage, and ``schedule``'s
SIGTERM handler. Real fake Scholar on loopback, real SQLite stores, the app's own lifespan."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from support.cli_helpers import cli_env
from support.fake_scholar import FakeScholar
from support.scheduling import TickingScheduler
from support.service_helpers import TOKEN, LogRecords, client_for
from support.store_helpers import sqlite_url, success
from support.waiting import wait_until

from scholar_stats.core.plan import utcnow
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.refresh.engine import RefreshEngine
from scholar_stats.refresh.record import record_outcome
from scholar_stats.refresh.scheduler import RefreshScheduler
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.settings import FetchSettings
from scholar_stats.store.database import Store

A, B, C = "ENGINEAAAAAJ", "ENGINEBBBBAJ", "ENGINECCCCAJ"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def fetch_settings(fake: FakeScholar) -> FetchSettings:
    return FetchSettings(scholar_url=fake.url, delay=0.0, deadline=20.0, timeout=5.0,
                         backoff=0.05)


@pytest.fixture
def db_url(tmp_path: Path, fake_scholar: FakeScholar) -> str:
    """A is due now; B and C were fetched an hour ago (due tomorrow): only an admin refresh
    fetches them. (An hour ago: the pacing after their fetch is over.)"""
    url = sqlite_url(tmp_path)
    for scholar_id in (A, B, C):
        fake_scholar.add_profile(scholar_id, pubs=20)
    with Store(url) as store:
        store.add_authors([A, B, C], 86400, utcnow())
        hour_ago = utcnow() - timedelta(hours=1)
        for scholar_id in (B, C):
            record_outcome(store, success(scholar_id, {"p1": 1}, hour_ago), hour_ago)
    return url


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_admin_refreshes_during_a_tick_never_overlap_it(
    db_url: str, fake_scholar: FakeScholar
) -> None:
    """The scheduler's tick is fetching A from a slow Scholar when two authors are refreshed
    over HTTP: both are queued onto the same engine, and the fake Scholar never sees two
    requests at once. A refresh of the author being fetched is 409 with a JSON body."""
    fake_scholar.latency = 0.6
    settings = ServiceSettings(db_url=db_url, scheduler=True, poll_seconds=0,
                               admin_token=TOKEN, fetch=fetch_settings(fake_scholar))
    app = create_app(settings)
    async with client_for(app) as client:
        with anyio.fail_after(20):
            while fake_scholar.in_flight == 0:  # the tick's fetch of A is under way
                await anyio.sleep(0.01)
        assert fake_scholar.requests and A in fake_scholar.requests[0]
        busy = await client.post(f"/authors/{A}/refresh", headers=AUTH)
        assert busy.status_code == 409, busy.text
        assert busy.headers["content-type"] == "application/json"
        assert A in busy.json()["detail"] and "being fetched" in busy.json()["detail"]
        service = app.state.service
        assert service.scheduler.engine is service.engine  # one engine in the process
        for scholar_id, force in ((B, False), (C, True)):  # forced: past the gate, same engine
            r = await client.post(f"/authors/{scholar_id}/refresh", headers=AUTH,
                                  json={"force": force})
            assert r.status_code == 202 and r.json() == {"queued": scholar_id}
        again = await client.post(f"/authors/{C}/refresh", headers=AUTH)
        assert again.status_code == 409 and "being fetched" in again.json()["detail"]
        store = app.state.service.store
        with anyio.fail_after(30):
            while not all(len(store.attempts(i)) == (1 if i == A else 2) for i in (A, B, C)):
                await anyio.sleep(0.05)
            # the listener (the snapshot) heard of each landing
            while (await client.get(f"/authors/{C}/status.json")).json().get("requests") != 1:
                await anyio.sleep(0.05)
    assert len(fake_scholar.requests) == 3
    assert fake_scholar.max_in_flight == 1  # measured on the server: one request at a time


def test_a_failing_listener_is_logged_and_never_breaks_the_refresh(
    db_url: str, fake_scholar: FakeScholar, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[str] = []

    def broken(_outcome: FetchOutcome) -> None:
        raise RuntimeError("listener bug")

    with Store(db_url) as store:
        engine = RefreshEngine(store, fetch_settings(fake_scholar))
        engine.add_listener(broken)
        engine.add_listener(lambda outcome: heard.append(outcome.scholar_id))
        with caplog.at_level(logging.ERROR):
            outcome = engine.refresh_now(A)
        assert outcome is not None and outcome.ok
        assert heard == [A]  # the next listener is still told
        assert store.latest(A) is not None and store.lease(A, utcnow()) is None
    failures = [r for r in caplog.records if "listener failed" in r.getMessage()]
    assert len(failures) == 1 and A in failures[0].getMessage()


def test_a_tick_with_the_database_down_logs_one_line_and_keeps_going(
    db_url: str, fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    with Store(db_url) as store:
        engine = RefreshEngine(store, fetch_settings(fake_scholar), spacing=0.0)
        scheduler = TickingScheduler(engine, tick_seconds=0.02)
        hour_ago = utcnow() - timedelta(hours=1)
        record_outcome(store, success(A, {"p1": 1}, hour_ago), hour_ago)  # nothing is due
        real = store.engine
        with LogRecords() as logs:
            scheduler.start()
            try:
                scheduler.await_ticks(10)
                store.engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
                scheduler.await_ticks(50)  # fifty ticks against a database that is not there
                store.engine = real
                store.mark_due(C, utcnow())
                wait_until(lambda: len(store.attempts(C)) == 2,  # it kept going
                           "the scheduler fetched C once the database was back", timeout=10)
            finally:
                scheduler.shutdown()
        assert fake_scholar.requests and all(C in r for r in fake_scholar.requests)
    # APScheduler's own "skipped: maximum number of running instances" (ticks of 20 ms) aside
    lines = [line for line in logs.lines() if not line.startswith("apscheduler")]
    down = [line for line in lines if "cannot reach the database" in line]
    assert len(down) == 1, lines
    assert "unable to open database file" in down[0] and "\n" not in down[0]
    assert sum("can reach the database again" in line for line in lines) == 1, lines
    assert not any(r.exc_info for r in logs.records), lines  # no traceback per tick
    assert len(lines) == 2, lines


def test_schedule_handles_sigterm_as_soon_as_it_says_it_started(
    db_url: str, fake_scholar: FakeScholar
) -> None:
    """SIGTERM sent the moment "scheduler started" is read stops it cleanly (exit 0, no
    traceback): the handler is installed before the line is printed."""
    fake_scholar.latency = 0.3
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholar_stats", "schedule", "--db", db_url, "--delay", "0"],
        env=cli_env({"SCHOLAR_STATS_SCHOLAR_URL": fake_scholar.url}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first.startswith("scheduler started: 3 tracked authors"), (first, err)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert os.path.exists(db_url.removeprefix("sqlite:///"))


def test_run_until_signal_installs_the_handler_before_announcing(
    db_url: str, fake_scholar: FakeScholar
) -> None:
    """A SIGTERM sent by the announcement itself (the earliest anyone can react to it) ends
    the run cleanly, before any fetch: the handler is already in place."""
    previous = signal.getsignal(signal.SIGTERM)
    announced: list[bool] = []

    def announce() -> None:
        announced.append(True)
        os.kill(os.getpid(), signal.SIGTERM)

    with Store(db_url) as store:
        scheduler = RefreshScheduler(RefreshEngine(store, fetch_settings(fake_scholar)),
                                     tick_seconds=0.02)
        started = time.monotonic()
        scheduler.run_until_signal(announce)
        assert time.monotonic() - started < 5  # docs, "Stopping": within a few seconds
        assert announced == [True] and not scheduler.running
    assert fake_scholar.requests == []  # stopped before the first tick
    assert signal.getsignal(signal.SIGTERM) == previous  # and the old handler is back
