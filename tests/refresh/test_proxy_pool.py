"""The pool of egress addresses (issue 11, item 6): ``--proxy`` given several times, or a comma
list in ``SCHOLAR_STATS_PROXY``, against two loopback proxies (fake Scholars that also answer as
plain HTTP forward proxies), one of which is blocked. A block on one address moves the author
to the next; in the store each address has its own pause and hourly budget."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.fake_scholar import FakeScholar, running_fake_scholar
from support.store_helpers import database_url

from scholar_stats.cli import main, parse_args
from scholar_stats.settings import FetchSettings, egress_key
from scholar_stats.store.database import Store

ONE, TWO, THREE = "POOLAAAAAAAJ", "POOLBBBBBBBJ", "POOLCCCCCCCJ"
SCHOLAR = "http://scholar.example.invalid"  # reached only through the proxies


@pytest.fixture
def proxies(fake_scholar: FakeScholar, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[tuple[FakeScholar, FakeScholar, str, str]]:
    """Two proxies with a password each: the first blocked (403), the second not."""
    monkeypatch.setenv("SCHOLAR_STATS_SCHOLAR_URL", SCHOLAR)
    monkeypatch.delenv("SCHOLAR_STATS_PROXY", raising=False)
    monkeypatch.setenv("SCHOLAR_STATS_SOURCE", "scholar")
    with running_fake_scholar() as second:
        for fake in (fake_scholar, second):
            for scholar_id in (ONE, TWO, THREE):
                fake.add_profile(scholar_id, pubs=30)
        fake_scholar.mode = "403"
        urls = [fake.url.replace("http://", f"http://user:pw-{n}-secret@")
                for n, fake in enumerate((fake_scholar, second))]
        yield fake_scholar, second, urls[0], urls[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def profile_requests(fake: FakeScholar) -> list[str]:
    """The profile pages a fake was asked for, as a proxy (absolute URIs) or directly."""
    return [r for r in fake.requests if "/citations?" in r]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scholar_stats", *args], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


def test_the_pool_is_read_from_repeated_flags_and_a_comma_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = parse_args(["fetch", "X", "--proxy", "http://a:1", "--proxy", "direct,socks5://b:2"])
    assert FetchSettings.from_args(args).egresses == ("http://a:1", "direct", "socks5://b:2")
    monkeypatch.setenv("SCHOLAR_STATS_PROXY", "direct, http://u:p@a:1")
    settings = FetchSettings.from_args(parse_args(["refresh"]))
    assert settings.egresses == ("direct", "http://u:p@a:1") and settings.proxy is None
    monkeypatch.setenv("SCHOLAR_STATS_PROXY", "http://a:1")
    single = FetchSettings.from_args(parse_args(["fetch", "X"]))
    assert single.egresses == ("http://a:1",) and single.proxy == "http://a:1"
    # the store's name for an address never depends on its password
    assert egress_key("http://u:one@a:1") == egress_key("http://u:two@a:1") != ""
    assert egress_key("direct") == ""


def test_bad_pool_entries_are_refused_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SCHOLAR_STATS_PROXY", "http://a:1, ftp://u:hidden-pw@b:2")
    with pytest.raises(SystemExit) as exited:
        parse_args(["fetch", "X"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "SCHOLAR_STATS_PROXY" in err and "hidden-pw" not in err


def test_fetch_moves_on_to_the_next_address_when_one_is_blocked(
    proxies: tuple[FakeScholar, FakeScholar, str, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocked, working, first, second = proxies
    out = tmp_path / "out"
    assert main(["fetch", ONE, TWO, "--out", str(out), "--proxy", first, "--proxy", second]) == 0
    # the blocked address was asked once (ONE's first page), never again in the run
    assert len(profile_requests(blocked)) == 1
    assert len(profile_requests(working)) == 2
    assert all(r.startswith(SCHOLAR) for r in working.requests)
    captured = capsys.readouterr()
    port = blocked.url.rsplit(":", 1)[1]
    assert f"(via Scholar via http://***@127.0.0.1:{working.url.rsplit(':', 1)[1]}: Scholar " \
        f"via http://***@127.0.0.1:{port} blocked (" in captured.out
    for n in (0, 1):
        assert f"pw-{n}-secret" not in captured.out + captured.err
        for path in out.rglob("*.json"):
            assert f"pw-{n}-secret" not in path.read_text()


def test_the_store_keeps_a_pause_and_a_budget_per_address(
    proxies: tuple[FakeScholar, FakeScholar, str, str], db_url: str,
) -> None:
    blocked, working, first, second = proxies
    assert cli("authors", "add", ONE, TWO, THREE, "--db", db_url).returncode == 0
    result = cli("refresh", "--db", db_url, "--proxy", f"{first},{second}")
    assert result.returncode == 0, result.stderr
    assert len(profile_requests(blocked)) == 1 and len(profile_requests(working)) == 3
    now = datetime.now(timezone.utc)
    with Store(db_url) as store:
        assert store.paused_until(now, egress_key(first)) is not None  # the blocked address
        assert store.paused_until(now, egress_key(second)) is None
        assert store.paused_until(now) is None  # direct is not in the pool: never paused
        assert len(store.recent_requests(now, _hour(), egress_key(second))) == 3
        assert len(store.recent_requests(now, _hour(), egress_key(first))) == 1
        for author in (ONE, TWO, THREE):
            assert store.latest_metrics(author) is not None
    # while the first is paused, the next pass goes straight to the second
    blocked.mode = "ok"
    result = cli("refresh", ONE, "--db", db_url, "--proxy", f"{first},{second}")
    assert result.returncode == 0, result.stderr
    assert len(profile_requests(blocked)) == 1 and len(profile_requests(working)) == 4
    for n in (0, 1):
        assert f"pw-{n}-secret" not in result.stdout + result.stderr


def test_each_address_has_its_own_hourly_budget(
    proxies: tuple[FakeScholar, FakeScholar, str, str], db_url: str,
) -> None:
    """One request per hour per address: two addresses fetch two one-page authors in a
    pass, one each; the third waits, and the pass says the budget is spent."""
    blocked, working, first, second = proxies
    blocked.mode = "ok"
    assert cli("authors", "add", ONE, TWO, THREE, "--db", db_url).returncode == 0
    result = cli("refresh", "--db", db_url, "--proxy", first, "--proxy", second,
                 "--requests-per-hour", "1")
    assert result.returncode == 0, result.stderr
    assert len(profile_requests(blocked)) == 1 and len(profile_requests(working)) == 1
    assert "request budget spent" in result.stderr
    with Store(db_url) as store:
        fetched = [a for a in (ONE, TWO, THREE) if store.latest_metrics(a) is not None]
    assert len(fetched) == 2


def _hour() -> timedelta:
    return timedelta(hours=1)
