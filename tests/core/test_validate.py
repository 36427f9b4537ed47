"""Numbers and identity under hostile input (issue 9, classes 3 and 4): a page whose numbers are
out of range, or whose publications belong to another user, is not data. Real saved pages,
doctored by the fake Scholar, go through ``fetch`` and ``refresh`` on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli_helpers import folder_hashes
from support.doctored_pages import DOCTORED, REAL
from support.fake_scholar import FakeScholar
from support.store_helpers import T0, database_url

from scholar_stats.cli import main
from scholar_stats.store.database import Store

# --- fetch: exit 5, one line, the files already there untouched -----------------------------


def snapshot(folder: Path) -> dict[str, str]:
    """The files under ``folder`` but ``status.json``, which records the refused attempt."""
    return {name: digest for name, digest in folder_hashes(folder).items()
            if Path(name).name != "status.json"}


@pytest.mark.parametrize("case", list(DOCTORED))
def test_fetch_refuses_a_doctored_page_and_keeps_the_files(
    case: str, fake_scholar: FakeScholar, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    assert main(["fetch", REAL, "--out", str(out)]) == 0
    before = snapshot(out)
    capsys.readouterr()
    fake_scholar.doctor, part = DOCTORED[case]
    assert main(["fetch", REAL, "--out", str(out)]) == 5
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and part in lines[0] and "previous data kept" in lines[0]
    assert snapshot(out) == before


# --- refresh: exit 5, the attempt recorded, the lease free, stored data kept ----------------


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.mark.parametrize("case", ["25-digit citations", "25-digit paper count",
                                  "300-character pub id", "another user's pub ids",
                                  "negative paper count"])
def test_refresh_refuses_a_doctored_page_records_it_and_frees_the_author(
    case: str, db_url: str, fake_scholar: FakeScholar, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["authors", "add", REAL, "--db", db_url]) == 0
    assert main(["refresh", REAL, "--db", db_url]) == 0
    with Store(db_url) as store:
        kept = store.latest(REAL)
    capsys.readouterr()

    fake_scholar.doctor, part = DOCTORED[case]
    assert main(["refresh", REAL, "--db", db_url]) == 5
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and part in err[0] and "internal error" not in err[0]
    with Store(db_url) as store:
        author = store.get_author(REAL)
        assert author is not None and author.state == "not_understood"
        assert [a.outcome for a in store.attempts(REAL)] == ["not_understood", "ok"]
        assert store.latest(REAL) == kept

    fake_scholar.doctor = None  # the author is free: the next refresh fetches it
    requests = len(fake_scholar.profile_requests())
    assert main(["refresh", REAL, "--db", db_url]) == 0
    assert "56 citations" in capsys.readouterr().out
    assert len(fake_scholar.profile_requests()) == requests + 1


# --- the refresh interval: bounded like POST /authors ---------------------------------------


@pytest.mark.parametrize("value", ["1e300", "0", "-5", "nan", "inf", "31536001"])
def test_authors_add_refuses_an_interval_out_of_range(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(SystemExit) as exited:
        main(["authors", "add", REAL, "--db", db, "--interval", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--interval" in err and "365 days" in err
    monkeypatch.setenv("SCHOLAR_STATS_INTERVAL", value)
    with pytest.raises(SystemExit) as exited:
        main(["authors", "add", REAL, "--db", db])
    assert exited.value.code == 2
    assert "SCHOLAR_STATS_INTERVAL" in capsys.readouterr().err
    assert not (tmp_path / "store.db").exists()


def test_the_longest_interval_is_accepted_and_refreshes(
    fake_scholar: FakeScholar, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["authors", "add", REAL, "--db", db, "--interval", "31536000"]) == 0
    assert main(["refresh", "--db", db]) == 0
    assert "56 citations" in capsys.readouterr().out
    with Store(db) as store:
        author = store.get_author(REAL)
        assert author is not None and author.interval_seconds == 31536000
        with pytest.raises(Exception, match="365 days"):
            store.add_authors([REAL], 1e300, T0)


def test_post_authors_shares_the_interval_bound(tmp_path: Path) -> None:
    """The service and the command line accept the same intervals (plan.MAX_INTERVAL)."""
    import anyio
    from support.service_helpers import TOKEN, client_for

    from scholar_stats.service.app import create_app
    from scholar_stats.service.settings import ServiceSettings

    db = f"sqlite:///{tmp_path / 'store.db'}"
    app = create_app(ServiceSettings(db_url=db, scheduler=False, poll_seconds=0,
                                     admin_token=TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def post(interval: float) -> int:
        async with client_for(app) as client:
            answer = await client.post("/authors", headers=auth,
                                       json={"ids": [REAL], "interval_seconds": interval})
            return answer.status_code

    assert anyio.run(post, 31536000) == 200
    assert anyio.run(post, 31536001) == 422
    with Store(db) as store:
        author = store.get_author(REAL)
        assert author is not None and author.interval_seconds == 31536000
