"""`scholar-stats fetch --source ...` end to end against the fake Scholar and the fake SerpApi
on loopback: which source is asked (requests counted on both servers), pagination, SerpApi's
failures and their exit codes, the monthly limit kept in status.json, and the key never shown."""

from __future__ import annotations

import json
import math
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from support.cli_helpers import run_cli
from support.fake_scholar import FakeScholar
from support.fake_serpapi import FakeSerpApi

from scholar_stats.cli import main

MEYER = "LSsXyncAAAAJ"  # a real SerpApi response
REAL = "LZ5D_p4AAAAJ"  # a real Scholar page (12 publications)


def month() -> str:
    """This calendar month (UTC), read when asserted: a run may cross a month's end."""
    return datetime.now(timezone.utc).strftime("%Y-%m")


def fetch(*args: str) -> int:
    return main(["fetch", *args])


def status(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


def test_serpapi_alone_writes_the_same_files(fake_scholar: FakeScholar,
                                             fake_serpapi: FakeSerpApi, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    assert fetch(MEYER, "--source", "serpapi", "--out", str(out)) == 0
    gs = json.loads((out / "gs_data.json").read_text())
    assert gs["citedby"] == 27463 and len(gs["publications"]) == 20
    assert json.loads((out / "gs_data_shieldsio.json").read_text())["message"] == "27463"
    label = json.loads((out / "shields" / "citations-5y.json").read_text())["label"]
    assert label == "citations since 2017"
    st = status(out)
    assert st["source"] == "serpapi" and st["requests"] == 1 and st["outcome"] == "ok"
    assert st["serpapi_searches"] == {"month": month(), "count": 1}
    assert fake_scholar.requests == [] and len(fake_serpapi.requests) == 1
    (search,) = fake_serpapi.searches()
    assert search["start"] == "0" and search["num"] == "100" and search["author_id"] == MEYER
    assert "from SerpApi" in capsys.readouterr().out


@pytest.mark.parametrize("pubs", [1, 100, 101, 250])
def test_one_search_per_100_publications(fake_serpapi: FakeSerpApi, fake_scholar: FakeScholar,
                                         tmp_path: Path, pubs: int) -> None:
    scholar_id = "SYNTHserpAAJ"
    fake_serpapi.add_profile(scholar_id, pubs=pubs)
    out = tmp_path / "out"
    assert fetch(scholar_id, "--source", "serpapi", "--out", str(out)) == 0
    pages = math.ceil(pubs / 100)
    assert [s["start"] for s in fake_serpapi.searches()] == [str(100 * i) for i in range(pages)]
    assert status(out)["requests"] == pages
    assert len(json.loads((out / "gs_data.json").read_text())["publications"]) == pubs
    assert fake_scholar.requests == []


def test_scholar_never_touches_serpapi(fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi,
                                       tmp_path: Path) -> None:
    fake_scholar.mode = "403"
    assert fetch(REAL, "--source", "scholar", "--out", str(tmp_path / "a")) == 3
    assert len(fake_scholar.requests) == 1 and fake_serpapi.requests == []
    assert status(tmp_path / "a")["source"] == "scholar"


def test_auto_falls_back_to_serpapi_only_when_scholar_blocks(
    fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_serpapi.add_profile(REAL, pubs=12, citations=60)
    # Scholar answers: SerpApi is never asked
    assert fetch(REAL, "--out", str(tmp_path / "ok")) == 0
    assert status(tmp_path / "ok")["source"] == "scholar" and fake_serpapi.requests == []
    # Scholar blocks: one Scholar request, then one SerpApi search, the data from SerpApi
    for mode in ("403", "captcha", "sorry"):
        fake_scholar.requests.clear()
        fake_serpapi.requests.clear()
        fake_scholar.mode = mode
        out = tmp_path / mode
        assert fetch(REAL, "--out", str(out)) == 0, mode
        st = status(out)
        assert st["source"] == "serpapi" and st["requests"] == 2
        assert "via SerpApi" in st["message"] and "Scholar blocked" in st["message"]
        assert len(fake_scholar.requests) == 1 and len(fake_serpapi.requests) == 1
        assert json.loads((out / "gs_data.json").read_text())["citedby"] == 60
    # any other Scholar failure is not a reason to spend a search
    fake_serpapi.requests.clear()
    fake_scholar.mode = "signin"
    assert fetch(REAL, "--out", str(tmp_path / "missing")) == 4
    assert fake_serpapi.requests == []
    # without a key, auto is scholar
    monkeypatch.delenv("SERPAPI_API_KEY")
    fake_scholar.mode = "403"
    assert fetch(REAL, "--out", str(tmp_path / "nokey")) == 3
    assert fake_serpapi.requests == [] and status(tmp_path / "nokey")["source"] == "scholar"


def test_once_scholar_blocks_the_run_asks_serpapi_for_the_next_authors(
    fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi, tmp_path: Path,
) -> None:
    """A block is about the address: the run does not spend a Scholar request per author."""
    fake_serpapi.add_profile(REAL, pubs=12, citations=60)
    fake_scholar.mode = "403"
    assert fetch(REAL, MEYER, "nst5fHgAAAAJ", "--out", str(tmp_path)) == 0
    assert len(fake_scholar.requests) == 1 and len(fake_serpapi.requests) == 3
    assert {status(tmp_path / i)["source"] for i in (REAL, MEYER, "nst5fHgAAAAJ")} == {"serpapi"}


def test_both_blocked_says_both(fake_scholar: FakeScholar, fake_serpapi: FakeSerpApi,
                                tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_scholar.mode = "403"
    fake_serpapi.mode = "out_of_searches"
    assert fetch(REAL, "--out", str(tmp_path)) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "Scholar blocked" in err and "then SerpApi" in err and "run out of searches" in err


@pytest.mark.parametrize("mode, code, words, billed", [
    ("invalid_key", 2, "SERPAPI_API_KEY", 0),
    ("out_of_searches", 3, "run out of searches", 0),
    ("rate_limit", 3, "rate-limiting", 0),
    ("no_results", 4, "no Scholar profile has this id", 1),
    ("malformed", 5, "not JSON", 1),
    ("not_json", 5, "not JSON", 1),
    ("500", 6, "after 3 attempts", 0),
])
def test_serpapi_failures_are_one_line_with_their_exit_code(
    fake_serpapi: FakeSerpApi, fake_scholar: FakeScholar, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], mode: str, code: int, words: str, billed: int,
) -> None:
    """One line, the previous data kept; only answered searches count toward the month (as
    SerpApi counts them), errors do not."""
    out = tmp_path / "out"
    assert fetch(MEYER, "--source", "serpapi", "--out", str(out)) == 0
    before = (out / "gs_data.json").read_bytes()
    capsys.readouterr()
    fake_serpapi.mode = mode
    assert fetch(MEYER, "--source", "serpapi", "--out", str(out)) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert fake_serpapi.key not in err
    assert (out / "gs_data.json").read_bytes() == before  # previous data kept
    assert status(out)["exit_code"] == code and status(out)["source"] == "serpapi"
    assert status(out)["serpapi_searches"]["count"] == 1 + billed


def test_the_deadline_bounds_a_stalled_serpapi(fake_serpapi: FakeSerpApi, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    fake_serpapi.mode = "stall"
    started = time.monotonic()
    assert fetch(MEYER, "--source", "serpapi", "--deadline", "1.5", "--out", str(tmp_path)) == 6
    assert time.monotonic() - started < 1.5 + 1.5  # docs: within the deadline plus about 1 s
    assert "deadline" in capsys.readouterr().err


def test_a_huge_or_trickling_answer_is_bounded(fake_serpapi: FakeSerpApi, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The bounded transport and body cap hold for SerpApi as for Scholar: a 20 MiB answer is
    refused at 8 MiB (exit 5), a body trickled a byte at a time ends at the deadline (exit 6)."""
    fake_serpapi.mode = "huge"
    assert fetch(MEYER, "--source", "serpapi", "--out", str(tmp_path / "a")) == 5
    assert "larger than 8 MiB" in capsys.readouterr().err
    fake_serpapi.mode = "trickle"
    started = time.monotonic()
    assert fetch(MEYER, "--source", "serpapi", "--deadline", "2", "--out",
                 str(tmp_path / "b")) == 6
    assert time.monotonic() - started < 2 + 1.5  # docs: within the deadline plus about 1 s
    assert "deadline" in capsys.readouterr().err


def test_serpapi_without_a_key_is_a_usage_error(fake_serpapi: FakeSerpApi, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SERPAPI_API_KEY")
    assert fetch(MEYER, "--source", "serpapi", "--out", str(tmp_path / "x")) == 2
    assert "SERPAPI_API_KEY" in capsys.readouterr().err
    assert fake_serpapi.requests == [] and not (tmp_path / "x").exists()


def test_the_monthly_limit_stops_before_the_next_page_and_is_kept(
    fake_serpapi: FakeSerpApi, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    fake_serpapi.add_profile("SYNTHlimitAJ", pubs=150)
    out = tmp_path / "out"
    limit = ("--serpapi-monthly-limit", "3")
    assert fetch("SYNTHlimitAJ", "--source", "serpapi", *limit, "--out", str(out)) == 0
    assert status(out)["serpapi_searches"] == {"month": month(), "count": 2}
    # the next run needs 2 searches (150 publications last time), 1 is left: not started
    fake_serpapi.requests.clear()
    capsys.readouterr()
    assert fetch("SYNTHlimitAJ", "--source", "serpapi", *limit, "--out", str(out)) == 3
    err = capsys.readouterr().err
    assert "not started" in err and "2 of the 3 searches" in err and month() in err
    assert fake_serpapi.requests == [] and status(out)["serpapi_searches"]["count"] == 2
    assert len(json.loads((out / "gs_data.json").read_text())["publications"]) == 150
    # a fetch that runs into the limit stops before the page past it
    fake_serpapi.add_profile("SYNTHbig00AJ", pubs=250)
    other = tmp_path / "other"
    assert fetch("SYNTHbig00AJ", "--source", "serpapi", "--serpapi-monthly-limit", "2",
                 "--out", str(other)) == 3
    assert "stopped before the next page" in capsys.readouterr().err
    assert len(fake_serpapi.requests) == 2 and status(other)["serpapi_searches"]["count"] == 2
    assert not (other / "gs_data.json").exists()


def test_the_monthly_count_adds_up_across_folders_and_resets_each_month(
    fake_serpapi: FakeSerpApi, tmp_path: Path,
) -> None:
    katabi = "nst5fHgAAAAJ"
    out = tmp_path / "out"
    args = ("--source", "serpapi", "--serpapi-monthly-limit", "3", "--out", str(out))
    assert fetch(MEYER, katabi, *args) == 0
    assert [status(out / i)["serpapi_searches"]["count"] for i in (MEYER, katabi)] == [1, 1]
    assert fetch(MEYER, katabi, *args) == 3  # 2 spent + 1 for Meyer = 3, none left for Katabi
    assert [status(out / i)["serpapi_searches"]["count"] for i in (MEYER, katabi)] == [2, 1]
    assert status(out / katabi)["exit_code"] == 3
    # last month's searches do not count
    for scholar_id in (MEYER, katabi):
        st = status(out / scholar_id)
        st["serpapi_searches"] = {"month": "2000-01", "count": 99}
        (out / scholar_id / "status.json").write_text(json.dumps(st))
    fake_serpapi.requests.clear()
    assert fetch(MEYER, katabi, *args) == 0 and len(fake_serpapi.requests) == 2
    assert status(out / MEYER)["serpapi_searches"] == {"month": month(), "count": 1}


def test_the_key_appears_in_no_output_and_no_file(fake_scholar: FakeScholar,
                                                  fake_serpapi: FakeSerpApi,
                                                  tmp_path: Path) -> None:
    """Run as a user runs it, verbose, through every kind of SerpApi answer."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("SCHOLAR_STATS_", "SERPAPI"))}
    fake_scholar.mode = "403"
    seen = ""
    for mode in ("ok", "invalid_key", "out_of_searches", "no_results", "malformed", "500"):
        fake_serpapi.mode = mode
        proc = run_cli(["-v", "fetch", MEYER, "--out", str(tmp_path / mode)], env=env)
        seen += proc.stdout + proc.stderr
        assert fake_serpapi.key not in proc.stdout + proc.stderr, mode
    assert "api_key=***" in seen  # the verbose log shows the request, redacted
    assert all("api_key=" + fake_serpapi.key in r for r in fake_serpapi.requests)  # it was sent
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert fake_serpapi.key.encode() not in path.read_bytes(), path
