"""`scholar-stats fetch` end to end against the fake Scholar on loopback: every exit code, the
request count, the deadline, the gate, and atomicity."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli_helpers import folder_hashes
from support.fake_scholar import REAL_ID, FakeScholar

from scholar_stats import __version__
from scholar_stats.cli import main
from scholar_stats.net.deadline import Deadline

# docs, "The deadline is a wall-clock total": a run ends within N plus about a second
# (process start-up included; here the run is in-process); tested with this much room
SLACK = 2.0


def fetch(*args: str) -> int:
    return main(["fetch", *args])


def status(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


def test_success_writes_every_file(fake_scholar: FakeScholar, tmp_path: Path, capsys) -> None:
    out = tmp_path / "results"
    assert fetch(REAL_ID, "--out", str(out)) == 0
    names = set(folder_hashes(out))
    gs = json.loads((out / "gs_data.json").read_text())
    metrics = ("citations", "citations-5y", "h-index", "h-index-5y", "i10-index", "i10-index-5y",
               "publications")
    assert names == {
        "gs_data.json", "gs_data_shieldsio.json", "status.json", "scholar-stats.js",
        "chart.svg", "card.svg", "changes.json", "changes.xml",
        *(f"shields/{m}.json" for m in metrics), *(f"badges/{m}.svg" for m in metrics),
        *(f"papers/{key.split(':')[1]}.json" for key in gs["publications"]),
    }
    assert gs["citedby"] == 56 and len(gs["publications"]) == 12
    assert all("num_citations" in p for p in gs["publications"].values())
    assert json.loads((out / "gs_data_shieldsio.json").read_text())["message"] == "56"
    st = status(out)
    assert st["outcome"] == "ok" and st["exit_code"] == 0 and st["error_kind"] is None
    assert st["last_success"] == st["last_attempt"] and st["requests"] == 1
    assert "Doaa Elmatary" in capsys.readouterr().out
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize("pubs", [12, 100, 101, 250, 1114])
def test_request_count_is_one_per_hundred_publications(
    fake_scholar: FakeScholar, tmp_path: Path, pubs: int
) -> None:
    fake_scholar.add_profile("SyntheticAAJ", pubs)
    assert fetch("SyntheticAAJ", "--out", str(tmp_path)) == 0
    gs = json.loads((tmp_path / "gs_data.json").read_text())
    assert len(gs["publications"]) == pubs
    assert len(fake_scholar.requests) == max(1, math.ceil(pubs / 100))
    assert all("pagesize=100" in r for r in fake_scholar.requests)


@pytest.mark.parametrize(
    ("mode", "code", "kind", "words"),
    [
        ("403", 3, "blocked", "HTTP 403"),
        ("429", 3, "blocked", "HTTP 429"),
        ("captcha", 3, "blocked", "CAPTCHA"),
        ("sorry", 3, "blocked", "/sorry/"),
        ("signin", 4, "not_found", "sign-in"),
        ("signin_redirect", 4, "not_found", "sign-in"),
        ("404", 4, "not_found", "HTTP 404"),
        ("truncated", 5, "not_understood", "truncated"),
        ("relayout", 5, "not_understood", "metrics table"),
        ("relayout_rows", 5, "not_understood", "publications"),
        ("500", 6, "network", "HTTP 500"),
    ],
)
def test_failures_exit_with_their_code_and_keep_old_files(
    fake_scholar: FakeScholar, tmp_path: Path, capsys, mode: str, code: int, kind: str,
    words: str,
) -> None:
    assert fetch(REAL_ID, "--out", str(tmp_path)) == 0
    before = folder_hashes(tmp_path)
    capsys.readouterr()
    fake_scholar.mode = mode
    assert fetch(REAL_ID, "--out", str(tmp_path)) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert REAL_ID in err and words in err and "previous data kept" in err
    after = folder_hashes(tmp_path)
    assert {k: v for k, v in after.items() if k != "status.json"} == {
        k: v for k, v in before.items() if k != "status.json"}
    st = status(tmp_path)
    assert (st["outcome"], st["exit_code"], st["error_kind"]) == (kind, code, kind)
    assert st["last_success"] == json.loads(
        (tmp_path / "gs_data.json").read_text())["updated"]


def test_blocked_is_not_retried_but_5xx_is(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    fake_scholar.mode = "403"
    assert fetch(REAL_ID, "--out", str(tmp_path)) == 3
    assert len(fake_scholar.requests) == 1
    fake_scholar.requests.clear()
    fake_scholar.mode = "ok"
    fake_scholar.queue = ["500", "500"]
    assert fetch(REAL_ID, "--out", str(tmp_path)) == 0
    assert len(fake_scholar.requests) == 3


def test_429_with_a_short_retry_after_is_waited_out(
    fake_scholar: FakeScholar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_scholar.queue = ["429"]
    fake_scholar.retry_after = "1"
    slept: list[tuple[float, int]] = []  # each wait of the run: seconds, requests made by then
    monkeypatch.setattr(Deadline, "sleep", lambda _deadline, seconds: slept.append(
        (seconds, len(fake_scholar.requests))))
    assert fetch(REAL_ID, "--out", str(tmp_path)) == 0
    assert slept == [(1.0, 1)]  # Retry-After's second, between the 429 and the retry
    assert len(fake_scholar.requests) == 2


def test_429_with_a_retry_after_past_the_deadline_is_blocked_at_once(
    fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    fake_scholar.mode = "429"
    fake_scholar.retry_after = "3600"
    started = time.monotonic()
    assert fetch(REAL_ID, "--out", str(tmp_path), "--deadline", "60") == 3
    assert time.monotonic() - started < 5  # docs: exit 3 "at once, without waiting"
    assert len(fake_scholar.requests) == 1


def test_a_stalled_scholar_ends_within_the_deadline(
    fake_scholar: FakeScholar, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("SCHOLAR_STATS_TIMEOUT", "20")
    fake_scholar.mode = "stall"
    fake_scholar.stall_seconds = 60
    started = time.monotonic()
    assert fetch(REAL_ID, "--out", str(tmp_path), "--deadline", "3") == 6
    assert time.monotonic() - started < 3 + SLACK
    assert "deadline of 3 s passed" in capsys.readouterr().err


def test_a_long_block_backoff_never_sleeps_past_the_deadline(
    fake_scholar: FakeScholar, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SCHOLAR_STATS_BACKOFF", "30")
    monkeypatch.setenv("SCHOLAR_STATS_ATTEMPTS", "10")
    fake_scholar.mode = "500"
    started = time.monotonic()
    assert fetch(REAL_ID, "--out", str(tmp_path), "--deadline", "2") == 6
    assert time.monotonic() - started < 2 + SLACK
    assert len(fake_scholar.requests) == 1  # the first backoff (15-45 s) did not fit


def test_several_ids_go_to_subfolders_and_exit_with_the_worst_code(
    fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    fake_scholar.add_profile("GoodAuthor01", 30)
    code = fetch(REAL_ID, "Unknown12345", "GoodAuthor01", "--out", str(tmp_path))
    assert code == 4
    assert (tmp_path / REAL_ID / "gs_data.json").exists()
    assert (tmp_path / "GoodAuthor01" / "gs_data.json").exists()
    assert not (tmp_path / "Unknown12345" / "gs_data.json").exists()
    assert status(tmp_path / "Unknown12345")["exit_code"] == 4
    assert not (tmp_path / "gs_data.json").exists()


def test_the_deadline_covers_the_politeness_delay_between_authors(
    fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    fake_scholar.add_profile("GoodAuthor01", 5)
    started = time.monotonic()
    code = fetch(REAL_ID, "GoodAuthor01", "--out", str(tmp_path), "--delay", "30",
                 "--deadline", "2")
    assert code == 6
    assert time.monotonic() - started < 2 + SLACK
    assert status(tmp_path / REAL_ID)["exit_code"] == 0
    assert status(tmp_path / "GoodAuthor01")["error_kind"] == "network"


def test_gate_refuses_a_big_drop_and_force_writes_it(
    fake_scholar: FakeScholar, tmp_path: Path, capsys
) -> None:
    fake_scholar.add_profile("GateAuthor01", 200, citations=1000)
    assert fetch("GateAuthor01", "--out", str(tmp_path)) == 0
    before = folder_hashes(tmp_path)
    fake_scholar.add_profile("GateAuthor01", 200, citations=850)
    capsys.readouterr()
    assert fetch("GateAuthor01", "--out", str(tmp_path)) == 7
    err = capsys.readouterr().err
    assert "1000 -> 850" in err and "--force" in err
    assert {k: v for k, v in folder_hashes(tmp_path).items() if k != "status.json"} == {
        k: v for k, v in before.items() if k != "status.json"}
    assert status(tmp_path)["error_kind"] == "implausible"

    fake_scholar.add_profile("GateAuthor01", 120, citations=1000)  # 40 % fewer publications
    assert fetch("GateAuthor01", "--out", str(tmp_path)) == 7
    assert "publications 200 -> 120" in capsys.readouterr().err

    assert fetch("GateAuthor01", "--out", str(tmp_path), "--force") == 0
    assert json.loads((tmp_path / "gs_data.json").read_text())["citedby"] == 1000
    assert len(json.loads((tmp_path / "gs_data.json").read_text())["publications"]) == 120


def test_a_small_drop_passes_the_gate(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    fake_scholar.add_profile("GateAuthor01", 100, citations=1000)
    assert fetch("GateAuthor01", "--out", str(tmp_path)) == 0
    fake_scholar.add_profile("GateAuthor01", 99, citations=950)
    assert fetch("GateAuthor01", "--out", str(tmp_path)) == 0
    assert json.loads((tmp_path / "gs_data.json").read_text())["citedby"] == 950


@pytest.mark.parametrize("bad", ["short", "DhtAFkwAAAAJ/x", "DhtAFkw AAAJ"])
def test_malformed_id_is_a_usage_error_and_fetches_nothing(
    fake_scholar: FakeScholar, tmp_path: Path, capsys, bad: str
) -> None:
    assert fetch(REAL_ID, bad, "--out", str(tmp_path)) == 2
    assert fake_scholar.requests == []
    assert not tmp_path.joinpath(REAL_ID).exists()
    assert "not a Google Scholar id" in capsys.readouterr().err


def test_out_and_delay_come_from_the_environment(
    fake_scholar: FakeScholar, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SCHOLAR_STATS_OUT", str(tmp_path / "from-env"))
    assert fetch(REAL_ID) == 0
    assert (tmp_path / "from-env" / "gs_data.json").exists()


def test_proxy_is_used_and_its_password_never_printed(
    fake_scholar: FakeScholar, tmp_path: Path, monkeypatch, capsys
) -> None:
    # The fake also answers as a plain HTTP forward proxy (absolute-URI requests).
    monkeypatch.setenv("SCHOLAR_STATS_SCHOLAR_URL", "http://scholar.example.invalid")
    proxy = fake_scholar.url.replace("http://", "http://user:s3cret-pw@")
    assert fetch(REAL_ID, "--out", str(tmp_path), "--proxy", proxy) == 0
    assert fake_scholar.requests[0].startswith("http://scholar.example.invalid/citations?")

    fake_scholar.stop()  # now the proxy refuses connections
    assert fetch(REAL_ID, "--out", str(tmp_path), "--proxy", proxy) == 6
    captured = capsys.readouterr()
    assert "s3cret-pw" not in captured.out + captured.err
    assert "s3cret-pw" not in (tmp_path / "status.json").read_text()


def test_bad_proxy_url_is_a_usage_error_without_the_secret(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:  # refused by the flag's parser, like any bad flag
        fetch(REAL_ID, "--out", str(tmp_path), "--proxy", "ftp://u:topsecret@host:21")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--proxy" in err and "topsecret" not in err


def test_socks5_proxy_url_is_accepted(tmp_path: Path) -> None:
    from scholar_stats.net.deadline import Deadline
    from scholar_stats.settings import FetchSettings
    from scholar_stats.sources.scholar.client import ScholarClient

    settings = FetchSettings(proxy="socks5://user:pw@127.0.0.1:1", attempts=1)
    with ScholarClient(settings, Deadline(5)) as client, \
            pytest.raises(Exception, match=r"connection failed|after 1 attempts"):
        client.get_page("/citations?user=LZ5D_p4AAAAJ")


def test_version_and_help_do_not_import_scholarly() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from scholar_stats.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "assert 'fetch' in out.getvalue()\n"
        "print(sorted(m for m in ('scholarly', 'httpx', 'bs4') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.stdout.strip() == "[]"
    version = subprocess.run([sys.executable, "-m", "scholar_stats", "--version"],
                             capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"scholar-stats {__version__}"


def test_request_headers_look_like_a_browser(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    seen: list[str] = []
    from scholar_stats.net.deadline import Deadline
    from scholar_stats.settings import FetchSettings
    from scholar_stats.sources.scholar.client import ScholarClient

    settings = FetchSettings(scholar_url=fake_scholar.url, delay=0)
    with ScholarClient(settings, Deadline(10), before_request=lambda: seen.append("x")) as client:
        client.get_page(f"/citations?hl=en&user={REAL_ID}&pagesize=100")
        assert client.requests_made == 1 and seen == ["x"]
        assert client._http.headers["user-agent"].startswith("Mozilla/5.0")
