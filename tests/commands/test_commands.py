"""The store commands end to end: scholar_stats.cli.main against the fake Scholar."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from support.fake_scholar import FakeScholar
from support.store_helpers import sqlite_url
from support.waiting import wait_until

from scholar_stats.cli import main
from scholar_stats.core.plan import utcnow
from scholar_stats.outputs.export import author_files
from scholar_stats.outputs.history import parse_history_csv
from scholar_stats.store.database import Store

REAL = "LZ5D_p4AAAAJ"  # a real saved page the fake serves (12 publications)
SYN = "SYNTHAAAAAAJ"
UNKNOWN = "AAAAAAAAAAAA"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


def run(*argv: str) -> int:
    return main([*argv])


def test_malformed_ids_are_refused_before_anything_is_stored(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("authors", "add", REAL, "not-an-id", "--db", db) == 2
    assert "not a Google Scholar id" in capsys.readouterr().err
    assert run("authors", "list", "--db", db) == 0
    assert "no authors tracked" in capsys.readouterr().out
    for argv in (["refresh", "x"], ["history", "x"], ["export", "x"], ["authors", "remove", "x"]):
        assert run(*argv, "--db", db) == 2


def test_add_refresh_list_history_remove(
    fake_scholar: FakeScholar, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_scholar.add_profile(SYN, pubs=150, citations=777)
    assert run("authors", "add", REAL, SYN, "--db", db) == 0
    assert run("authors", "list", "--db", db) == 0
    out = capsys.readouterr().out
    assert REAL in out and "new" in out

    assert run("refresh", "--db", db) == 0
    out = capsys.readouterr().out
    assert "777 citations" in out and "56 citations" in out
    assert len(fake_scholar.requests) == 3  # 1 page + 2 pages

    assert run("refresh", "--db", db) == 0  # nothing is due any more
    assert "no author is due" in capsys.readouterr().out
    assert len(fake_scholar.requests) == 3

    assert run("authors", "list", "--db", db) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["SCHOLAR_ID", "STATE"]
    assert any(line.startswith(SYN) and " ok " in line for line in lines)

    assert run("history", SYN, "--db", db, "--format", "csv") == 0
    rows = parse_history_csv(capsys.readouterr().out.encode())
    assert len(rows) == 1 and rows[0].values["citations"] == 777
    assert rows[0].values["publications"] == 150
    assert run("history", SYN, "--db", db, "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["citations"] == 777 and data[0]["date"] == rows[0].date
    assert run("history", SYN, "--db", db) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["date", "citations"] and table[1].split()[1] == "777"

    assert run("authors", "remove", SYN, "--db", db) == 0
    assert run("authors", "remove", SYN, "--db", db) == 2
    assert "not tracked" in capsys.readouterr().err


def test_refresh_given_ids_and_exit_codes(
    fake_scholar: FakeScholar, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("authors", "add", REAL, UNKNOWN, "--db", db) == 0
    assert run("refresh", SYN, "--db", db) == 2  # not tracked
    assert run("refresh", REAL, UNKNOWN, "--db", db) == 4  # the highest among the attempts
    err = capsys.readouterr().err
    assert UNKNOWN in err
    with Store(db) as store:
        unknown = store.get_author(UNKNOWN)
        assert unknown is not None and unknown.state == "not_found"
        assert unknown.last_attempt is not None
        assert unknown.next_due - unknown.last_attempt == timedelta(days=7)  # retried weekly
        assert store.latest(REAL) is not None

    fake_scholar.mode = "relayout"
    assert run("refresh", REAL, "--db", db) == 5
    with Store(db) as store:
        author = store.get_author(REAL)
        assert author is not None and author.state == "not_understood"
        assert author.last_attempt is not None
        assert timedelta(hours=12) <= author.next_due - author.last_attempt <= timedelta(hours=36)
        assert store.latest(REAL) is not None  # the failure kept the data


def test_a_block_stops_the_pass_and_pauses_the_next(
    fake_scholar: FakeScholar, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_scholar.add_profile(SYN, pubs=10)
    assert run("authors", "add", REAL, SYN, "--db", db) == 0
    fake_scholar.mode = "403"
    assert run("refresh", "--db", db) == 3
    assert len(fake_scholar.requests) == 1  # the second author was not tried
    fake_scholar.mode = "ok"
    assert run("refresh", "--db", db) == 0
    assert "paused until" in capsys.readouterr().err
    assert len(fake_scholar.requests) == 1
    assert run("authors", "list", "--db", db) == 0
    assert "all fetching paused until" in capsys.readouterr().out
    # an author named on the command line is fetched now, pause or not (and its success
    # ends the pause)
    assert run("refresh", SYN, "--db", db) == 0
    assert len(fake_scholar.requests) == 2
    assert run("authors", "list", "--db", db) == 0
    assert "paused" not in capsys.readouterr().out


def test_refresh_respects_the_request_budget(
    fake_scholar: FakeScholar, db: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = [f"BUDGET{i:04d}AJ" for i in range(4)]
    for scholar_id in ids:
        fake_scholar.add_profile(scholar_id, pubs=5)
    assert run("authors", "add", *ids, "--db", db) == 0
    monkeypatch.setenv("SCHOLAR_STATS_REQUESTS_PER_HOUR", "3")
    assert run("refresh", "--db", db) == 0
    assert len(fake_scholar.requests) == 3
    assert "request budget spent" in capsys.readouterr().err
    assert run("refresh", "--db", db) == 0  # the budget counts the last hour from the store
    assert len(fake_scholar.requests) == 3


def test_export_writes_what_fetch_writes(
    fake_scholar: FakeScholar, db: str, tmp_path: Path
) -> None:
    assert run("fetch", REAL, "--out", str(tmp_path / "fetched")) == 0
    assert run("authors", "add", REAL, "--db", db) == 0
    assert run("refresh", "--db", db) == 0
    out = tmp_path / "exported"
    assert run("export", REAL, "--db", db, "--out", str(out)) == 0
    fetched = {p.relative_to(tmp_path / "fetched").as_posix()
               for p in (tmp_path / "fetched").rglob("*") if p.is_file()}
    exported = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    changes = {"changes.json", "changes.xml"}
    assert exported == fetched | {"history.csv"}
    # a first fetch: nothing changed yet in either (the times the logs start from differ)
    for folder in (out, tmp_path / "fetched"):
        assert json.loads((folder / "changes.json").read_bytes())["events"] == []
    for name in fetched - {"gs_data.json", "status.json"} - changes:
        assert (out / name).read_bytes() == (tmp_path / "fetched" / name).read_bytes(), name
    mine = json.loads((out / "gs_data.json").read_bytes())
    theirs = json.loads((tmp_path / "fetched" / "gs_data.json").read_bytes())
    assert mine.pop("updated") and theirs.pop("updated")
    assert mine == theirs
    status = json.loads((out / "status.json").read_bytes())
    assert status["stale"] is False and status["outcome"] == "ok"
    assert parse_history_csv((out / "history.csv").read_bytes())[0].values["citations"] == 56


def test_author_files_are_deterministic_and_judge_staleness(
    fake_scholar: FakeScholar, db: str
) -> None:
    assert run("authors", "add", REAL, "--db", db) == 0
    assert run("refresh", "--db", db) == 0
    fake_scholar.mode = "403"
    assert run("refresh", REAL, "--db", db) == 3
    with Store(db) as store:
        now = utcnow()
        assert author_files(store, REAL, now=now) == author_files(store, REAL, now=now)
        fresh = json.loads(author_files(store, REAL, now=now)["status.json"])
        assert fresh["stale"] is False and fresh["outcome"] == "blocked"
        later = author_files(store, REAL, now=now + timedelta(days=9))
        status = json.loads(later["status.json"])
        assert status["stale"] is True
        assert "9 days old" in status["stale_reason"] and "HTTP 403" in status["stale_reason"]
        assert json.loads(later["gs_data.json"])["citedby"] == 56  # the last good data is kept


def test_schedule_runs_until_sigterm(fake_scholar: FakeScholar, db: str) -> None:
    import os
    import signal
    import subprocess
    import sys

    assert run("authors", "add", REAL, "--db", db) == 0
    env = {**os.environ, "SCHOLAR_STATS_SCHOLAR_URL": fake_scholar.url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholar_stats", "schedule", "--db", db, "--delay", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        with Store(db) as store:
            wait_until(lambda: store.latest(REAL) is not None, "schedule fetched and recorded",
                       timeout=20)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "scheduler started: 1 tracked authors" in out and "56 citations" in out
    with Store(db) as store:
        assert store.latest(REAL) is not None


@pytest.mark.parametrize(
    "name,flag", [("WORKERS", "--workers"), ("REQUESTS_PER_HOUR", "--requests-per-hour")])
def test_serve_counts_must_be_whole_numbers_of_at_least_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, flag: str
) -> None:
    monkeypatch.setenv(f"SCHOLAR_STATS_{name}", "0")
    with pytest.raises(SystemExit) as exited:
        run("serve")
    assert exited.value.code == 2
    assert f"SCHOLAR_STATS_{name}: expected a whole number >= 1, got '0'" in capsys.readouterr().err
    monkeypatch.delenv(f"SCHOLAR_STATS_{name}")
    with pytest.raises(SystemExit) as exited:
        run("serve", flag, "two")
    assert exited.value.code == 2
    assert f"argument {flag}: expected a whole number >= 1, got 'two'" in capsys.readouterr().err


def test_export_writes_the_changes_the_store_recorded(
    fake_scholar: FakeScholar, db: str, tmp_path: Path
) -> None:
    """Two refreshes of a growing profile: export's changes.json lists the events of the
    second (metrics, then the new papers) and changes.xml is one Atom entry for them."""
    import feedparser

    fake_scholar.add_profile(SYN, pubs=20, citations=500)
    assert run("authors", "add", SYN, "--db", db) == 0
    assert run("refresh", SYN, "--db", db) == 0
    fake_scholar.add_profile(SYN, pubs=22, citations=530)
    assert run("refresh", SYN, "--db", db) == 0
    out = tmp_path / "exported"
    assert run("export", SYN, "--db", db, "--out", str(out)) == 0
    log = json.loads((out / "changes.json").read_bytes())
    kinds = [(e["kind"], e.get("metric") or e.get("pub_id")) for e in log["events"]]
    assert kinds[:2] == [("metric", "citations"), ("metric", "citations-5y")]
    added = [e for e in log["events"] if e["kind"] == "paper_added"]
    assert len(added) == 2 and all(e["old"] is None and e["title"] for e in added)
    citations = log["events"][0]
    assert (citations["old"], citations["new"]) == (500, 530)
    gs = json.loads((out / "gs_data.json").read_bytes())
    assert citations["date"] == gs["updated"] and log["since"] <= gs["updated"]
    feed = feedparser.parse((out / "changes.xml").read_bytes())
    assert not feed.bozo and len(feed.entries) == 1
    # export again: the same bytes (ids and times come from the store)
    again = tmp_path / "again"
    assert run("export", SYN, "--db", db, "--out", str(again)) == 0
    for name in ("changes.json", "changes.xml"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
