"""The store against real SQLite files and a real PostgreSQL server (skipped when unset)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.store_helpers import (
    PG_ENV,
    T0,
    create_v1,
    failure,
    gs_data,
    pg_schema_url,
    sqlite_url,
    success,
)

from scholar_stats.core.plan import Policy, nearest_slot
from scholar_stats.errors import (
    AuthorNotFound,
    Blocked,
    NetworkFailure,
    PageNotUnderstood,
    UsageError,
)
from scholar_stats.outputs.catalogue import GS_DATA, render_author_files
from scholar_stats.refresh.record import record_outcome, record_outcomes
from scholar_stats.store import schema
from scholar_stats.store.connect import default_db_url
from scholar_stats.store.database import Store
from scholar_stats.store.schema import SCHEMA_VERSION

A = "LZ5D_p4AAAAJ"
B = "amIMrIEAAAAJ"
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set")
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


def test_authors_add_list_remove(store: Store) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert store.add_authors([A, B, A], 3600, T0) == [A, B]
    assert store.add_authors([A], 7200, T0 + DAY) == []  # known: only the interval changes
    listed = store.list_authors()
    assert [a.scholar_id for a in listed] == [A, B]  # by id, in code point order
    a = store.get_author(A)
    assert a is not None and a.interval_seconds == 7200 and a.state == "new"
    assert a.added_at == T0 and a.next_due == T0 and a.last_success is None
    record_outcome(store, success(A, {"p1": 3}), T0)
    assert store.remove_author(A) is True
    assert store.remove_author(A) is False
    assert store.get_author(A) is None and store.latest(A) is None and store.history(A) == []
    assert store.attempts(A) == [] and store.publication_history(A) == {}
    assert [a.scholar_id for a in store.list_authors()] == [B]


def test_success_keeps_the_exact_profile(store: Store) -> None:
    store.add_authors([A], 86400, T0)
    outcome = success(A, {"p1": 3, "p2": 0})
    record_outcome(store, outcome, T0)
    latest = store.latest(A)
    assert latest is not None and outcome.data is not None
    assert latest.since_year == 2021
    # gs_data.json rebuilds byte for byte (non-ASCII, key order, integers beyond 2**53)
    name = GS_DATA.name
    assert render_author_files(latest)[name] == render_author_files(outcome.data)[name]
    status = store.last_status(A)
    assert status is not None and status.outcome == "ok" and status.requests == 1
    assert status.last_success == T0.isoformat(timespec="seconds")
    author = store.get_author(A)
    assert author is not None and author.state == "ok" and author.last_success == T0
    assert author.next_due == nearest_slot(A, 86400, T0 + DAY)
    assert store.latest_metrics(A) == outcome.data.metrics


def test_history_is_stored_only_on_change(store: Store, db_url: str) -> None:
    store.add_authors([A], 86400, T0)
    record_outcome(store, success(A, {"p1": 3, "p2": 0}), T0)
    record_outcome(store, success(A, {"p1": 3, "p2": 0}), T0 + DAY)  # nothing changed
    record_outcome(store, success(A, {"p1": 4, "p2": 0}), T0 + 2 * DAY)  # p1 and citedby changed
    record_outcome(store, success(A, {"p1": 4, "p2": 0, "p3": 1}), T0 + 3 * DAY)  # new pub
    changes = store.metric_changes(A)
    assert [(at, m.citations, m.publications) for at, m in changes] == [
        (T0, 3, 2), (T0 + 2 * DAY, 4, 2), (T0 + 3 * DAY, 5, 3)
    ]
    pubs = store.publication_history(A)
    assert pubs == {
        f"{A}:p1": [(T0, 3), (T0 + 2 * DAY, 4)],
        f"{A}:p2": [(T0, 0)],
        f"{A}:p3": [(T0 + 3 * DAY, 1)],
    }
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pub_citations")).scalar() == 4
        assert conn.execute(sa.text("SELECT count(*) FROM metric_history")).scalar() == 3
        assert conn.execute(sa.text("SELECT count(*) FROM attempts")).scalar() == 4
    engine.dispose()
    author = store.get_author(A)
    assert author is not None and author.last_success == T0 + 3 * DAY  # last checked


def test_history_has_one_row_per_day_with_the_days_last_values(store: Store) -> None:
    store.add_authors([A], 86400, T0)
    record_outcome(store, success(A, {"p1": 3}), T0)
    record_outcome(store, success(A, {"p1": 5}), T0 + timedelta(hours=6))  # same day: last wins
    record_outcome(store, success(A, {"p1": 5}), T0 + 3 * DAY)  # checked, unchanged
    rows = store.history(A)
    assert [r.date for r in rows] == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
    assert [r.values["citations"] for r in rows] == [5, 5, 5, 5]
    assert rows[0].values["publications"] == 1 and rows[0].values["h-index"] == 5


def test_failures_never_replace_data_and_follow_the_plan(db_url: str) -> None:
    policy = Policy(not_found_retry=7 * 86400, network_retry=600, backoff_initial=1800,
                    backoff_max=86400)
    with Store(db_url) as store:
        store.add_authors([A, B], 86400, T0)
        record_outcome(store, success(A, {"p1": 3}), T0, policy)
        before = store.latest(A)
        t1 = T0 + DAY
        record_outcome(store, failure(A, PageNotUnderstood("layout changed")), t1, policy)
        assert store.latest(A) == before
        a = store.get_author(A)
        assert a is not None and a.state == "not_understood" and a.last_exit_code == 5
        assert a.last_success == T0 and a.next_due == nearest_slot(A, 86400, t1 + DAY)
        status = store.last_status(A)
        assert status is not None and status.exit_code == 5 and status.since_year == 2021
        assert status.last_success == T0.isoformat(timespec="seconds")
        assert len(store.metric_changes(A)) == 1

        record_outcome(store, failure(B, AuthorNotFound("gone")), t1, policy)
        b = store.get_author(B)
        assert b is not None and b.next_due == t1 + timedelta(days=7)  # weekly
        record_outcome(store, failure(B, NetworkFailure("reset")), t1, policy)
        b = store.get_author(B)
        assert b is not None and b.next_due == t1 + timedelta(seconds=600)

        assert store.paused_until(t1) is None
        due_before = store.get_author(A).next_due  # type: ignore[union-attr]
        record_outcome(store, failure(A, Blocked("403")), t1, policy)
        assert store.get_author(A).next_due == due_before  # type: ignore[union-attr]
        assert store.paused_until(t1) == t1 + timedelta(minutes=30)
        record_outcome(store, failure(A, Blocked("403")), t1, policy)
        assert store.paused_until(t1) == t1 + timedelta(minutes=60)  # doubles
        for _ in range(10):
            record_outcome(store, failure(A, Blocked("403")), t1, policy)
        assert store.paused_until(t1) == t1 + DAY  # capped at 24 h
        assert store.paused_until(t1 + DAY) is None  # over
        record_outcome(store, success(A, {"p1": 3}), t1 + DAY, policy)
        assert store.pause() is None  # a success resets the backoff


def test_attempts_are_pruned_after_the_retention(db_url: str) -> None:
    with Store(db_url) as store:
        store.add_authors([A], 86400, T0)
        for day in range(30):
            record_outcome(store, success(A, {"p1": 3}, requests=2), T0 + day * DAY,
                           Policy(attempt_retention=10 * 86400))
        kept = store.attempts(A)
        assert len(kept) == 11
        assert kept[0].at == T0 + 29 * DAY and kept[-1].at == T0 + 19 * DAY
        assert kept[0].requests == 2 and kept[0].outcome == "ok"
        assert kept[0].duration_seconds == 1.25
        # before the shared request log exists, the budget counts the recorded attempts
        hour = timedelta(hours=1)
        assert store.recent_requests(T0 + 29 * DAY, hour) == [T0 + 29 * DAY] * 2


def test_the_request_budget_is_shared_by_every_process_on_the_store(db_url: str) -> None:
    """Each thread opens its own Store (its own engine and connections, as another process
    would) and takes requests until refused: together they get exactly the limit."""
    hour = timedelta(hours=1)
    now = T0 + DAY
    with Store(db_url) as first:
        first.add_authors([A], 86400, T0)
        record_outcome(first, success(A, {"p1": 3}, requests=2), now - timedelta(minutes=10))
        assert first.take_request(now, hour, limit=3)  # the 2 recorded ones count: 1 left
        assert not first.take_request(now, hour, limit=3)
        assert len(first.recent_requests(now, hour)) == 3
        assert first.take_request(now + hour, hour, limit=3)  # an hour later they have expired

    later = now + 3 * hour
    taken: list[int] = []

    def spend() -> None:
        with Store(db_url) as own:
            count = 0
            while own.take_request(later, hour, limit=25):
                count += 1
            taken.append(count)

    threads = [threading.Thread(target=spend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(taken) == 25 and len(taken) == 6
    with Store(db_url) as again:
        assert len(again.recent_requests(later, hour)) == 25


def test_due_and_lease(store: Store) -> None:
    store.add_authors([A, B], 86400, T0)
    record_outcome(store, success(B, {"p1": 1}), T0)
    assert [a.scholar_id for a in store.due_authors(T0)] == [A]
    lease = store.claim(A, T0, 60)
    assert lease is not None and lease.until == T0 + timedelta(seconds=60)
    assert store.lease(A, T0) == lease and lease.who.startswith(f"pid {os.getpid()} on host ")
    assert store.claim(A, T0, 60) is None  # someone is fetching it
    assert store.due_authors(T0) == []
    later = T0 + timedelta(seconds=61)
    assert store.lease(A, later) is None
    assert store.claim(A, later, 60) is not None  # a crashed worker's lease ends
    record_outcome(store, success(A, {"p1": 1}), T0)  # recording releases it
    assert store.lease(A, T0) is None
    assert store.claim(A, T0, 60, due_only=True) is None  # fetched: not due any more
    lease = store.claim(A, T0, 60)  # ``refresh ID`` takes it, due or not
    assert lease is not None
    store.release(A, lease)
    assert store.lease(A, T0) is None
    newer = store.claim(A, T0 + timedelta(seconds=1), 60)
    assert newer is not None
    store.release(A, lease)  # an old lease's release leaves the newer one alone
    assert store.lease(A, T0) == newer


def test_record_for_an_untracked_author_is_ignored(store: Store) -> None:
    record_outcome(store, success(A, {"p1": 1}), T0)
    assert store.latest(A) is None and store.attempts() == []


def test_upgrade_from_the_first_schema_keeps_rows(db_url: str) -> None:
    create_v1(db_url, A)
    with Store(db_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        author = store.get_author(A)
        assert author is not None and author.last_success == T0 and author.state == "ok"
        latest = store.latest(A)
        assert latest is not None and latest.gs_data == gs_data(A, {"p1": 7})
        assert [m.citations for _, m in store.metric_changes(A)] == [7]
        assert store.publication_history(A) == {f"{A}:p1": [(T0, 7)]}
        assert store.attempts(A)[0].duration_seconds == 2.5
        # v4: the rows from before provenance was recorded came from Scholar, the only source
        assert store.metric_sources(A) == [(T0, "scholar")]
        assert store.attempts(A)[0].source == "scholar"
        assert store.list_authors()[0].source == "scholar"
        # and the upgraded database works: a new fetch, the lease, the pause
        record_outcome(store, success(A, {"p1": 8}), T0 + DAY)
        assert store.publication_history(A)[f"{A}:p1"] == [(T0, 7), (T0 + DAY, 8)]
        assert store.claim(A, T0, 60) is not None
        record_outcome(store, failure(A, Blocked("403")), T0 + DAY)
        assert store.paused_until(T0 + DAY) is not None
    with Store(db_url) as store:  # reopening is a no-op
        assert store.schema_version() == SCHEMA_VERSION


def test_migrations_build_the_schema_the_code_queries(db_url: str) -> None:
    Store(db_url).close()
    engine = sa.create_engine(db_url)
    inspector = sa.inspect(engine)
    for table in schema.META.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
    engine.dispose()


def test_a_newer_schema_is_refused(db_url: str) -> None:
    Store(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = 99"))
    engine.dispose()
    with pytest.raises(UsageError, match="newer"):
        Store(db_url)


def test_default_location_is_created_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = default_db_url()
    assert url == f"sqlite:///{tmp_path}/data/scholar-stats/scholar-stats.db"
    with Store() as store:
        store.add_authors([A], 86400, T0)
    assert (tmp_path / "data" / "scholar-stats" / "scholar-stats.db").is_file()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_two_successes_at_the_same_instant_keep_their_order(store: Store) -> None:
    store.add_authors([A], 86400, T0)
    record_outcomes(store, [success(A, {"p1": 3}), success(A, {"p1": 4})], T0)
    record_outcome(store, success(A, {"p1": 4}), T0)  # a third, unchanged: no new rows
    ms = timedelta(milliseconds=1)
    assert store.publication_history(A) == {f"{A}:p1": [(T0, 3), (T0 + ms, 4)]}
    assert [(at, m.citations) for at, m in store.metric_changes(A)] == [(T0, 3), (T0 + ms, 4)]
    latest = store.latest(A)
    assert latest is not None and latest.gs_data["citedby"] == 4
    assert len(store.attempts(A)) == 3


def test_change_marker_moves_with_every_addition_removal_and_attempt(store: Store) -> None:
    start = store.change_marker()
    store.add_authors([A], 3600, T0)
    added = store.change_marker()
    assert added != start
    store.remove_author(A)
    store.add_authors([B], 3600, T0)  # same count, same instant: still a different roster
    swapped = store.change_marker()
    assert swapped[0] != added[0]
    assert store.change_marker() == swapped  # nothing happened: same marker
    record_outcome(store, failure(B, Blocked("blocked")), T0 + DAY)
    attempted = store.change_marker()
    assert attempted[0] == swapped[0] and attempted[1] > swapped[1]
    assert [a.scholar_id for a in store.authors_attempted_after(swapped[1])] == [B]
    assert store.authors_attempted_after(attempted[1]) == []
