"""SerpApi through the refresh engine (issue 11, phase B), with real ``scholar-stats`` processes
on one store (a SQLite file and a PostgreSQL schema) against the fake Scholar and the fake
SerpApi on loopback:

- ``refresh --source serpapi`` never asks Scholar, and the store records where the data came
  from (profile, history row, attempt), as ``authors list``, the service's status.json and
  ``/metrics`` show;
- ``--source auto`` falls back when Scholar blocks, pauses Scholar, and sends the next authors
  straight to SerpApi;
- the monthly SerpApi budget is counted in the store and shared: two processes together never
  pass it, and the one stopped says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from support.fake_scholar import FakeScholar
from support.fake_serpapi import FakeSerpApi
from support.service_helpers import running_serve
from support.store_helpers import database_url

from scholar_stats.store.database import Store

MEYER = "LSsXyncAAAAJ"  # a real SerpApi response: 27463 citations
ONE, TWO = "SERPAAAAAAAJ", "SERPBBBBBBBJ"  # synthetic, on both fakes


def month() -> str:
    """This calendar month (UTC), read when asserted: a run may cross a month's end."""
    return datetime.now(timezone.utc).strftime("%Y-%m")
TOKEN = "store-admin-token"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scholar_stats", *args]


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``scholar-stats ARGS`` as its own process; the fakes' variables are in os.environ."""
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_refresh_from_serpapi_records_where_the_data_came_from(
    db_url: str, fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi
) -> None:
    assert cli("authors", "add", MEYER, "--db", db_url).returncode == 0
    result = cli("refresh", "--db", db_url, "--source", "serpapi")
    assert result.returncode == 0, result.stderr
    assert fake_scholar.requests == [] and len(fake_serpapi.searches()) == 1
    with Store(db_url) as store:
        (attempt,) = store.attempts(MEYER)
        assert attempt.source == "serpapi" and attempt.outcome == "ok"
        assert [source for _, source in store.metric_sources(MEYER)] == ["serpapi"]
        assert store.list_authors()[0].source == "serpapi"
        assert store.searches_in(month()) == 1
        status = store.last_status(MEYER)
        assert status is not None and status.source == "serpapi"
    listing = cli("authors", "list", "--db", db_url).stdout.splitlines()
    assert listing[0].split()[:5] == ["SCHOLAR_ID", "STATE", "LAST", "SUCCESS", "(UTC)"]
    assert "SOURCE" in listing[0] and " serpapi " in listing[1], listing
    assert fake_serpapi.key not in result.stdout + result.stderr

    # the same author from Scholar: the new row says so, the old one keeps its source
    fake_scholar.add_profile(MEYER, pubs=20, citations=27500)
    result = cli("refresh", MEYER, "--db", db_url, "--source", "scholar")
    assert result.returncode == 0, result.stderr
    with Store(db_url) as store:
        assert [s for _, s in store.metric_sources(MEYER)] == ["serpapi", "scholar"]
        assert [a.source for a in store.attempts(MEYER)] == ["scholar", "serpapi"]
        assert store.searches_in(month()) == 1
    assert " scholar " in cli("authors", "list", "--db", db_url).stdout.splitlines()[1]


def test_auto_falls_back_when_scholar_blocks_and_asks_scholar_no_more(
    db_url: str, fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi
) -> None:
    for scholar_id in (ONE, TWO):
        fake_scholar.add_profile(scholar_id, pubs=30)
        fake_serpapi.add_profile(scholar_id, pubs=30, citations=500)
    assert cli("authors", "add", ONE, TWO, "--db", db_url).returncode == 0
    fake_scholar.mode = "403"
    result = cli("refresh", "--db", db_url)  # auto, and the key is set
    assert result.returncode == 0, result.stderr
    assert len(fake_scholar.profile_requests()) == 1  # the block; the second author skips it
    assert sorted(s["author_id"] for s in fake_serpapi.searches()) == [ONE, TWO]
    assert "via SerpApi: Scholar blocked" in result.stdout
    with Store(db_url) as store:
        assert store.paused_until(datetime.now(timezone.utc)) is not None  # Scholar's pause
        assert {a.source for a in store.attempts()} == {"serpapi"}
        assert store.searches_in(month()) == 2

    # during Scholar's pause, a cron refresh of a given author goes straight to SerpApi
    fake_scholar.mode = "ok"
    result = cli("refresh", ONE, "--db", db_url)
    assert result.returncode == 0, result.stderr
    assert len(fake_scholar.profile_requests()) == 1 and len(fake_serpapi.searches()) == 3
    # without a key, auto is Scholar alone, and the pause holds
    result = cli("refresh", "--db", db_url, SERPAPI_API_KEY="")
    assert "paused" in result.stderr or "no author is due" in result.stdout
    assert len(fake_scholar.profile_requests()) == 1


def test_the_monthly_budget_is_shared_by_two_processes(
    db_url: str, fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi
) -> None:
    """Two refreshes at once, each of an author with two pages (150 articles), under a limit
    of 3 searches: exactly 3 are sent in all; one author is fetched, the other is stopped
    before its next page and says so; a third process is then not started at all."""
    for scholar_id in (ONE, TWO):
        fake_serpapi.add_profile(scholar_id, pubs=150)
    assert cli("authors", "add", ONE, TWO, "--db", db_url).returncode == 0
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(scholar_id: str) -> None:
        results[scholar_id] = cli("refresh", scholar_id, "--db", db_url, "--source", "serpapi",
                                  "--serpapi-monthly-limit", "3")

    threads = [threading.Thread(target=run, args=(sid,)) for sid in (ONE, TWO)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    codes = sorted(r.returncode for r in results.values())
    assert codes == [0, 3], {k: (r.returncode, r.stderr) for k, r in results.items()}
    assert len(fake_serpapi.searches()) == 3 and fake_scholar.requests == []
    stopped = next(r for r in results.values() if r.returncode == 3)
    assert "stopped before the next page: 3 of the 3 searches allowed in " + month() \
        in stopped.stderr
    with Store(db_url) as store:
        assert store.searches_in(month()) == 3
        fetched = [sid for sid in (ONE, TWO) if store.latest_metrics(sid) is not None]
        assert len(fetched) == 1
    # the month is spent: the next process does not start the fetch, and says which budget
    other = TWO if fetched == [ONE] else ONE
    result = cli("refresh", other, "--db", db_url, "--source", "serpapi",
                 "--serpapi-monthly-limit", "3")
    assert "request budget spent: the 3 SerpApi searches allowed this month (0 left)" \
        in result.stderr, result.stderr
    assert len(fake_serpapi.searches()) == 3
    # a higher limit lets it through, and the count carries on from the store
    result = cli("refresh", other, "--db", db_url, "--source", "serpapi",
                 "--serpapi-monthly-limit", "5")
    assert result.returncode == 0, result.stderr
    with Store(db_url) as store:
        assert store.searches_in(month()) == 5


def test_a_search_serpapi_does_not_answer_is_given_back(
    db_url: str, fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi
) -> None:
    """SerpApi bills answered searches only: an exhausted account's refusal is not counted."""
    assert cli("authors", "add", MEYER, "--db", db_url).returncode == 0
    fake_serpapi.mode = "out_of_searches"
    result = cli("refresh", MEYER, "--db", db_url, "--source", "serpapi")
    assert result.returncode == 3 and "SerpApi refused" in result.stderr, result.stderr
    with Store(db_url) as store:
        assert store.searches_in(month()) == 0
        assert store.attempts(MEYER)[0].source == "serpapi"
        # SerpApi's refusal is not a Scholar block: no pause for Scholar
        assert store.paused_until(datetime.now(timezone.utc)) is None


def test_the_service_says_where_the_data_came_from(
    db_url: str, tmp_path: Path, fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi
) -> None:
    assert cli("authors", "add", MEYER, "--db", db_url).returncode == 0
    env = {"SCHOLAR_STATS_ADMIN_TOKEN": TOKEN, "SCHOLAR_STATS_SOURCE": "serpapi",
           "SCHOLAR_STATS_POLL_SECONDS": "0.1"}
    with running_serve(db_url, tmp_path, env) as (base, _proc):
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(f"{base}/authors/{MEYER}/refresh", headers=auth).status_code == 202
        deadline = datetime.now(timezone.utc).timestamp() + 30
        while httpx.get(f"{base}/authors/{MEYER}/status.json").status_code != 200:
            assert datetime.now(timezone.utc).timestamp() < deadline, "the refresh never landed"
        status = httpx.get(f"{base}/authors/{MEYER}/status.json").json()
        assert status["source"] == "serpapi" and status["outcome"] == "ok"
        metrics = httpx.get(f"{base}/metrics").text
        assert 'scholar_stats_fetches_by_source_total{outcome="ok",source="serpapi"} 1.0' \
            in metrics
        assert 'scholar_stats_store_successes_by_source_24h{source="serpapi"} 1.0' in metrics
        assert "scholar_stats_store_serpapi_searches_month 1.0" in metrics
    assert fake_scholar.requests == [] and len(fake_serpapi.searches()) == 1
    assert fake_serpapi.key not in (tmp_path / "serve.log").read_text()
