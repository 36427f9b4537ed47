"""Issue 13 phase B: events computed when the store records a fetch, the notifications of
``refresh`` (an engine listener), recorded deliveries and ``history --papers``; SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.fake_scholar import FakeScholar
from support.store_helpers import T0, database_url, failure, success
from support.waiting import wait_until
from support.webhook_receiver import Receiver, running_receiver

from scholar_stats.cli import main
from scholar_stats.core.changes import METRIC, PAPER_ADDED, PAPER_CITATIONS, PAPER_REMOVED
from scholar_stats.errors import Blocked
from scholar_stats.refresh.record import record_outcome
from scholar_stats.store.database import Store

A = "DhtAFkwAAAAJ"
SYN = "SYNTHAAAAAAJ"
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def stamp(n: int) -> str:
    return (T0 + n * DAY).isoformat(timespec="seconds")


def test_the_store_records_each_fetchs_events(db: str) -> None:
    with Store(db) as store:
        store.add_authors([A], 86400, T0)
        first = record_outcome(store, success(A, {"p1": 3, "p2": 1}, updated=stamp(0)), T0)
        assert first.events == ()  # a first fetch: nothing to compare with
        same = record_outcome(store, success(A, {"p1": 3, "p2": 1}, updated=stamp(1)), T0 + DAY)
        assert same.events == ()
        failed = record_outcome(store, failure(A, Blocked("blocked")), T0 + 2 * DAY)
        assert failed.events == ()
        changed = record_outcome(
            store, success(A, {"p1": 5, "p3": 2}, updated=stamp(3), citations=7), T0 + 3 * DAY)
        got = [(e.kind, e.key, e.old, e.new) for e in changed.events]
        assert got == [
            (METRIC, "citations", 4, 7), (METRIC, "citations-5y", 2, 3),
            (PAPER_CITATIONS, f"{A}:p1", 3, 5),
            (PAPER_ADDED, f"{A}:p3", None, 2),
            (PAPER_REMOVED, f"{A}:p2", 1, None),
        ]
        assert {e.at for e in changed.events} == {stamp(3)}
        assert changed.events[2].title == "Paper p1"
        later = record_outcome(store, success(A, {"p1": 6, "p3": 2}, updated=stamp(4),
                                              citations=8), T0 + 4 * DAY)
        # newest fetch first, each fetch's events in their order
        assert store.change_events(A) == later.events + changed.events
        assert store.change_events(A, limit=2) == later.events[:2]
        assert store.first_success(A) == T0
        store.remove_author(A)
        assert store.change_events(A) == ()


def test_deliveries_are_recorded(db: str) -> None:
    with Store(db) as store:
        store.record_deliveries(A, T0, [("webhook #1 (hooks.example)", True, 1, "204"),
                                        ("webhook #2 (chat.example)", False, 3, "HTTP 500")])
        rows = store.deliveries(A)
        assert [(r.target, r.delivered, r.attempts, r.detail) for r in rows] == [
            ("webhook #2 (chat.example)", False, 3, "HTTP 500"),
            ("webhook #1 (hooks.example)", True, 1, "204")]
        assert rows[0].at == T0 and store.deliveries("AAAAAAAAAAAA") == []


def refresh(db: str, *extra: str) -> int:
    return main(["refresh", SYN, "--db", db, *extra])


def test_refresh_notifies_once_per_fetch_that_changed_something(
    fake_scholar: FakeScholar, db: str, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    url = receiver.url()
    fake_scholar.add_profile(SYN, pubs=20, citations=500)
    assert main(["authors", "add", SYN, "--db", db]) == 0
    assert refresh(db, "--notify", url) == 0  # first fetch: nothing to tell
    assert refresh(db, "--notify", url) == 0  # nothing changed
    assert receiver.posts == []
    fake_scholar.add_profile(SYN, pubs=21, citations=520)
    assert refresh(db, "--notify", url) == 0
    assert len(receiver.posts) == 1
    body = receiver.posts[0].body
    assert body["scholar_id"] == SYN
    kinds = [e["kind"] for e in body["events"]]
    assert kinds.count("paper_added") == 1 and kinds[0] == "metric"
    assert receiver.posts[0].headers.get("Idempotency-Key")
    with Store(db) as store:
        (row,) = store.deliveries(SYN)
        assert row.delivered and row.target.startswith("webhook #1 (127.0.0.1")
    captured = capsys.readouterr()
    assert "secret-token-path" not in captured.out + captured.err


def test_a_failed_delivery_is_logged_and_recorded_and_the_refresh_succeeds(
    fake_scholar: FakeScholar, db: str, receiver: Receiver, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.mode = "400"
    fake_scholar.add_profile(SYN, pubs=20, citations=500)
    assert main(["authors", "add", SYN, "--db", db]) == 0
    assert refresh(db) == 0
    fake_scholar.add_profile(SYN, pubs=20, citations=501)
    assert refresh(db, "--notify", receiver.url()) == 0
    assert len(receiver.posts) == 1  # a 4xx is final
    captured = capsys.readouterr()
    logged = caplog.text  # a warning line on stderr (logging) when run from the shell
    assert "notifying webhook #1 (127.0.0.1) failed: refused: HTTP 400" in logged
    assert "secret-token-path" not in logged + captured.out + captured.err
    with Store(db) as store:
        (row,) = store.deliveries(SYN)
        assert not row.delivered and "400" in row.detail
        assert store.last_status(SYN).exit_code == 0  # type: ignore[union-attr]


def test_a_hanging_webhook_ends_with_the_refresh_deadline(
    fake_scholar: FakeScholar, db: str, receiver: Receiver,
) -> None:
    receiver.mode = "hang"
    fake_scholar.add_profile(SYN, pubs=20, citations=500)
    assert main(["authors", "add", SYN, "--db", db]) == 0
    assert refresh(db) == 0
    fake_scholar.add_profile(SYN, pubs=20, citations=502)
    started = time.monotonic()
    assert refresh(db, "--notify", receiver.url(), "--deadline", "4") == 0
    # docs: each message is bounded by what is left of the run's --deadline, which refresh
    # waits for before it exits; 4 s of room for two process start-ups on a loaded machine
    assert time.monotonic() - started < 4 + 4
    with Store(db) as store:
        assert store.latest_metrics(SYN).citations == 502  # type: ignore[union-attr]


def test_history_papers(
    fake_scholar: FakeScholar, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(db) as store:
        store.add_authors([A], 86400, T0)
        record_outcome(store, success(A, {"p1": 3, "p2": 1}, updated=stamp(0)), T0)
        record_outcome(store, success(A, {"p1": 5, "p2": 1, "p3": 0}, updated=stamp(2)),
                       T0 + 2 * DAY)
    assert main(["history", A, "--papers", "--db", db, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"date": "2026-01-03", "author_pub_id": f"{A}:p1", "title": "Paper p1",
         "citations": 5, "change": 2},
        {"date": "2026-01-03", "author_pub_id": f"{A}:p3", "title": "Paper p3",
         "citations": 0, "change": None},
        {"date": "2026-01-01", "author_pub_id": f"{A}:p1", "title": "Paper p1",
         "citations": 3, "change": None},
        {"date": "2026-01-01", "author_pub_id": f"{A}:p2", "title": "Paper p2",
         "citations": 1, "change": None},
    ]
    assert main(["history", A, "--papers", "--db", db, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "date,author_pub_id,title,citations,change"
    assert lines[1] == f"2026-01-03,{A}:p1,Paper p1,5,+2"
    assert main(["history", A, "--papers", "--db", db]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["date", "author_pub_id", "title", "citations", "change"]
    assert table[1].split()[-1] == "+2" and table[2].split()[-1] == "new"


def test_schedule_notifies_from_its_listener(
    fake_scholar: FakeScholar, db: str, receiver: Receiver
) -> None:
    """``schedule`` with SCHOLAR_STATS_NOTIFY: the engine's listener posts the change."""
    import os
    import signal
    import subprocess
    import sys

    from scholar_stats.core.plan import utcnow

    fake_scholar.add_profile(SYN, pubs=20, citations=500)
    assert main(["authors", "add", SYN, "--db", db]) == 0
    assert refresh(db) == 0
    fake_scholar.add_profile(SYN, pubs=20, citations=510)
    with Store(db) as store:
        store.mark_due(SYN, utcnow())
    env = {**os.environ, "SCHOLAR_STATS_SCHOLAR_URL": fake_scholar.url,
           "SCHOLAR_STATS_NOTIFY": receiver.url()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholar_stats", "schedule", "--db", db, "--delay", "0",
         "--requests-per-hour", "36000"],  # pacing after the last attempt: 0.1 s
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until(lambda: receiver.posts, "the webhook heard of the changes")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert len(receiver.posts) == 1, (out, err, len(fake_scholar.requests))
    assert receiver.posts[0].body["events"][0] == {
        "date": receiver.posts[0].body["date"], "kind": "metric", "scholar_id": SYN,
        "metric": "citations", "title": "citations", "old": 500, "new": 510}
    assert "secret-token-path" not in out + err
    with Store(db) as store:
        (row,) = store.deliveries(SYN)
        assert row.delivered
