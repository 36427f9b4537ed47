"""Several service machines on one PostgreSQL (docs/deploy.md, "Several machines on one
PostgreSQL"): two real ``serve`` processes, each running its own scheduler, share one database;
a fake Scholar on loopback counts the requests for each author. Every author is fetched once per
due time, by one of them, and both take part.

The fake holds every profile request until two are under way, so both machines are fetching at
once whenever they tick: with a store that let both take the first due author, that author
would be asked twice and the other not at all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from support.fake_scholar import FakeScholar
from support.service_helpers import free_port
from support.store_helpers import database_url
from support.waiting import wait_until

from scholar_stats.core.plan import utcnow
from scholar_stats.store.database import Store

# Both due at once and taken in this order by every pass: without the store's conditional claim,
# the two schedulers would both start with the first.
AUTHORS = ("MACHAAAAAAAJ", "MACHBBBBBBBJ")
TICK = 30  # seconds: the scheduler's tick (refresh/scheduler.py), one author per tick at most


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with database_url("postgresql", tmp_path) as url:
        yield url


@contextmanager
def machine(db_url: str, folder: Path) -> Iterator[str]:
    """``scholar-stats serve`` with its scheduler, as one machine of the pool would run it (a
    budget high enough that pacing does not hide a second fetch); yields its base URL."""
    folder.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(folder / "serve.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scholar_stats", "serve", "--db", db_url, "--port", str(port),
             "--requests-per-hour", "3600", "--delay", "0"],
            env=dict(os.environ), stdout=log, stderr=log, cwd=folder)
        try:
            def up() -> bool:
                assert proc.poll() is None, (folder / "serve.log").read_text()
                try:
                    return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(up, "serve came up", timeout=30)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(20)


def fetches_of(base: str) -> int:
    """Fetch attempts this process made, from its own /metrics."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(int(float(n)) for n in re.findall(
        r"^scholar_stats_fetch_outcomes_total\{[^}]*\} (\S+)$", text, re.M))


def asked(fake: FakeScholar) -> Counter[str]:
    return Counter(re.search(r"user=([^&]+)", path).group(1)  # type: ignore[union-attr]
                   for path in fake.profile_requests())


def successes(db_url: str) -> dict[str, object]:
    with Store(db_url) as store:
        authors = store.get_authors(AUTHORS)
    return {sid: a.last_success for sid, a in authors.items()}


def held_until_two_asked(fake: FakeScholar) -> Callable[[], None]:
    """Hold every author's profile requests; returns what lets them go."""
    events = {sid: threading.Event() for sid in AUTHORS}
    fake.hold.update(events)

    def release() -> None:
        for sid, event in events.items():
            event.set()
            fake.hold.pop(sid, None)

    return release


def test_two_serve_processes_on_one_postgresql_fetch_each_author_once_per_due_time(
    pg_url: str, fake_scholar: FakeScholar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for sid in AUTHORS:
        fake_scholar.add_profile(sid, pubs=20)  # one page each
    monkeypatch.setenv("SCHOLAR_STATS_TIMEOUT", "90")  # a held request is one request
    added = subprocess.run([sys.executable, "-m", "scholar_stats", "authors", "add", *AUTHORS,
                            "--db", pg_url], capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr

    # first due time: both schedulers tick on start; the requests wait until both are asked
    release = held_until_two_asked(fake_scholar)
    with ExitStack() as stack:
        stack.callback(release)  # no request outlives the test
        bases = [stack.enter_context(machine(pg_url, tmp_path / name)) for name in ("a", "b")]
        wait_until(lambda: fake_scholar.in_flight == 2, "both machines fetching", timeout=60)
        release()
        wait_until(lambda: all(successes(pg_url).values()), "both authors fetched",
                   timeout=TICK + 60)
        wait_until(lambda: fake_scholar.in_flight == 0, "no request under way")
        assert asked(fake_scholar) == dict.fromkeys(AUTHORS, 1)
        first = successes(pg_url)

        # second due time: both authors due again now; each machine's next tick is within TICK
        release = held_until_two_asked(fake_scholar)
        stack.callback(release)
        engine = sa.create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE authors SET next_due_at = :at"),  # ms since 1970
                         {"at": int((utcnow() - timedelta(seconds=1)).timestamp() * 1000)})
        engine.dispose()
        wait_until(lambda: fake_scholar.in_flight == 2, "both machines fetching again",
                   timeout=TICK + 60)
        release()
        wait_until(lambda: all(successes(pg_url)[sid] != first[sid] for sid in AUTHORS),
                   "both authors fetched again", timeout=TICK + 60)
        wait_until(lambda: fake_scholar.in_flight == 0, "no request under way")
        assert asked(fake_scholar) == dict.fromkeys(AUTHORS, 2)

        made = [fetches_of(base) for base in bases]
        assert sum(made) == 4 and all(made), f"fetches by each machine: {made}"
