"""A refresh under failure and concurrency (issue 9, class 5), with real ``scholar-stats``
processes on one store (a SQLite file and a PostgreSQL schema) against the fake Scholar:

- every attempt is recorded, an internal error too, and its lease is released;
- ``refresh ID`` on an author another live process is fetching says who, until when (exit 12);
- the lease of a process that died is taken over at once on the same host;
- two ``refresh`` passes never fetch one author twice within its interval.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.fake_scholar import FakeScholar
from support.store_helpers import T0, database_url
from support.waiting import wait_until

from scholar_stats.core.plan import utcnow
from scholar_stats.refresh.engine import RefreshEngine
from scholar_stats.settings import FetchSettings
from scholar_stats.store.database import Store

REAL = "LZ5D_p4AAAAJ"  # a real saved page: 56 citations
FIRST, SECOND = "PASSAAAAAAAJ", "PASSBBBBBBBJ"  # due passes take them in this order


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scholar_stats", *args]


def environment() -> dict[str, str]:
    """The fake's environment (conftest), with a request timeout longer than any hold, so a
    held request is one request, not a timeout and a retry."""
    return {**os.environ, "SCHOLAR_STATS_TIMEOUT": "90"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``scholar-stats ARGS`` as its own process (the environment points at the fake)."""
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=120,
                          env=environment())


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=environment())


def asked(fake: FakeScholar, scholar_id: str) -> int:
    """Profile requests the fake has received for ``scholar_id`` (first pages and further)."""
    return sum(f"user={scholar_id}" in path for path in fake.profile_requests())


@pytest.fixture
def held(fake_scholar: FakeScholar) -> Iterator[Callable[[str], threading.Event]]:
    """``held(id)``: the fake keeps profile requests for ``id`` waiting until the event is set
    (all are set at the end, so no request of a test outlives it)."""
    events: list[threading.Event] = []

    def hold(scholar_id: str) -> threading.Event:
        event = fake_scholar.hold[scholar_id] = threading.Event()
        events.append(event)
        return event

    yield hold
    for event in events:
        event.set()


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- every attempt is recorded and releases its lease ----------------------------------------


def _refuse_profiles(url: str, refuse: bool) -> None:
    """A database-level fault: a trigger that makes storing a profile fail (or drops it)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_profiles BEFORE INSERT ON profiles "
                "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END" if refuse
                else "DROP TRIGGER refuse_profiles")
        elif refuse:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_profiles() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$")
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_profiles BEFORE INSERT ON profiles FOR EACH ROW "
                "EXECUTE FUNCTION refuse_profiles()")
        else:
            conn.exec_driver_sql("DROP TRIGGER refuse_profiles ON profiles")
    engine.dispose()


def test_a_failure_to_record_is_recorded_as_internal_and_frees_the_author(
    db_url: str, fake_scholar: FakeScholar
) -> None:
    assert cli("authors", "add", REAL, "--db", db_url).returncode == 0
    _refuse_profiles(db_url, True)
    failed = cli("refresh", REAL, "--db", db_url)
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    assert len(lines) == 1 and "internal error" in lines[0] and REAL in lines[0], failed.stderr
    with Store(db_url) as store:
        assert [a.outcome for a in store.attempts(REAL)] == ["internal"]
        author = store.get_author(REAL)
        assert author is not None and author.state == "internal" and author.last_exit_code == 1
        assert store.latest(REAL) is None
        assert store.lease(REAL, utcnow()) is None

    _refuse_profiles(db_url, False)
    again = cli("refresh", REAL, "--db", db_url)  # not locked out: it fetches at once
    assert again.returncode == 0 and "56 citations" in again.stdout, again.stderr
    assert asked(fake_scholar, REAL) == 2


def test_an_exception_inside_the_fetch_is_recorded_as_internal(db_url: str) -> None:
    def broken_fetch(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug in the fetch path\nsecond line")

    with Store(db_url) as store:
        store.add_authors([REAL], 86400, T0)
        engine = RefreshEngine(store, FetchSettings(), clock=lambda: T0, fetch=broken_fetch)
        outcome = engine.refresh_now(REAL)
        assert outcome is not None and outcome.exit_code == 1
        assert outcome.status.outcome == "internal"
        assert "RuntimeError: a bug in the fetch path" in outcome.status.message
        assert "\n" not in outcome.status.message
        assert [(a.outcome, a.exit_code) for a in store.attempts(REAL)] == [("internal", 1)]
        assert store.lease(REAL, utcnow()) is None


# --- a live holder is named; a dead one is replaced ------------------------------------------


def test_refresh_of_an_author_another_live_process_is_fetching_says_who(
    db_url: str, fake_scholar: FakeScholar, held: Callable[[str], threading.Event]
) -> None:
    assert cli("authors", "add", REAL, "--db", db_url).returncode == 0
    release = held(REAL)
    first = start("refresh", REAL, "--db", db_url)
    try:
        wait_until(lambda: asked(fake_scholar, REAL) == 1, "the first process asked Scholar",
                   timeout=60)
        second = cli("refresh", REAL, "--db", db_url)
        assert second.returncode == 12 and second.stdout == ""
        lines = second.stderr.splitlines()
        assert len(lines) == 1, second.stderr
        assert f"pid {first.pid} on host {socket.gethostname()}" in lines[0]
        assert re.search(r"until \d\d:\d\d UTC", lines[0])
    finally:
        release.set()
        out, err = finish(first)
    assert first.returncode == 0 and "56 citations" in out, err
    assert asked(fake_scholar, REAL) == 1  # the second process never fetched


def test_the_lease_of_a_process_that_died_is_taken_over(
    db_url: str, fake_scholar: FakeScholar, held: Callable[[str], threading.Event]
) -> None:
    assert cli("authors", "add", REAL, "--db", db_url).returncode == 0
    release = held(REAL)
    first = start("refresh", REAL, "--db", db_url)
    try:
        wait_until(lambda: asked(fake_scholar, REAL) == 1, "the first process asked Scholar",
                   timeout=60)
    finally:
        first.kill()  # SIGKILL: no finally, no release; its lease stays in the store
        first.communicate()  # reaped, and its pipes closed
    release.set()
    second = cli("refresh", REAL, "--db", db_url)
    assert second.returncode == 0 and "56 citations" in second.stdout, second.stderr
    assert asked(fake_scholar, REAL) == 2


# --- two passes over one store ------------------------------------------------------------


def test_a_pass_never_fetches_an_author_another_pass_has_just_fetched(
    db_url: str, fake_scholar: FakeScholar, held: Callable[[str], threading.Event]
) -> None:
    """Pass A lists both authors and is held on the first; pass B fetches the second and ends;
    then A goes on: the second is no longer due, so A must not fetch it again."""
    for scholar_id in (FIRST, SECOND):
        fake_scholar.add_profile(scholar_id, pubs=5)
    assert cli("authors", "add", FIRST, SECOND, "--db", db_url).returncode == 0
    release = held(FIRST)
    pass_a = start("refresh", "--db", db_url)
    try:
        wait_until(lambda: asked(fake_scholar, FIRST) == 1, "pass A asked for the first author",
                   timeout=60)
        pass_b = cli("refresh", "--db", db_url)
        assert pass_b.returncode == 0, pass_b.stderr
        assert asked(fake_scholar, SECOND) == 1 and asked(fake_scholar, FIRST) == 1
    finally:
        release.set()
        _out, err = finish(pass_a)
    assert pass_a.returncode == 0, err
    assert asked(fake_scholar, FIRST) == 1 and asked(fake_scholar, SECOND) == 1
    with Store(db_url) as store:
        assert len(store.attempts(SECOND)) == 1


def test_two_passes_started_together_fetch_each_author_once(
    db_url: str, fake_scholar: FakeScholar
) -> None:
    ids = [f"TOGETHER{i:02d}AJ" for i in range(6)]
    for scholar_id in ids:
        fake_scholar.add_profile(scholar_id, pubs=5)
    assert cli("authors", "add", *ids, "--db", db_url).returncode == 0
    passes = [start("refresh", "--db", db_url) for _ in range(2)]
    for proc in passes:
        _out, err = finish(proc)
        assert proc.returncode == 0, err
    assert {scholar_id: asked(fake_scholar, scholar_id) for scholar_id in ids} == {
        scholar_id: 1 for scholar_id in ids}


def test_refresh_of_an_author_the_budget_cannot_cover_says_so(
    db_url: str, fake_scholar: FakeScholar
) -> None:
    """Two pages needed, one request left in the hour: not silence and exit 0, but one line."""
    fake_scholar.add_profile(FIRST, pubs=150)
    assert cli("authors", "add", FIRST, "--db", db_url).returncode == 0
    assert cli("refresh", FIRST, "--db", db_url).returncode == 0  # 2 pages: the store knows
    result = cli("refresh", FIRST, "--db", db_url, "--requests-per-hour", "3")
    assert result.returncode == 6 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and FIRST in lines[0] and "budget of 3" in lines[0], result.stderr
    assert asked(fake_scholar, FIRST) == 2
