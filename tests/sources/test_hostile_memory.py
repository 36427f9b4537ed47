"""A fetch's memory is bounded as a whole, not only page by page (issue 17, class 7): each page
is reduced to the record's parts as it arrives, a page may hold at most 100,000 elements, and
one author's fetch may receive at most 32 MiB and 1,000,000 elements in all, from every source.

``fetch`` runs as a real process against a fake SerpApi and a fake Scholar serving many large
pages (each under the 8 MiB page cap); its peak RSS is measured. Before: SerpApi's pages were
all held until the last arrived, so 8 pages of 8 MiB of small JSON objects peaked at 1.6 GB
(about 200 MB a page, without end), and one Scholar page of 8 MiB of tags at 757 MB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.fake_scholar import FakeScholar
from support.fake_serpapi import FakeSerpApi
from support.hostile import run_cli

from scholar_stats.core.validate import MAX_FETCH_BYTES, MAX_PAGE_ELEMENTS
from scholar_stats.net.bounded import MAX_PAGE_BYTES

SERP = "SYNTHserpAAJ"
SCHOLAR = "SYNTHschoAAJ"
PAGES = 100  # the profile "has" 100 pages; the fetch must stop long before
PEAK_RSS_MB = 250  # whatever the pages hold (a normal fetch: about 80 MB)
MEMORY_CAP_MB = 1500  # the child's address space: a regression fails instead of eating RAM


def padded(page: dict[str, Any], size: int, shape: str, start: str) -> bytes:
    """``page`` grown to about ``size`` bytes: ``ignored`` (one long text in a field the parser
    drops), ``kept`` (articles whose titles are as long as allowed), ``objects`` (small JSON
    objects, the most a parser makes of a byte)."""
    room = size - len(json.dumps(page)) - 200
    if shape == "ignored":
        page["padding"] = "z" * room
    elif shape == "objects":
        page["padding"] = [{}] * (room // 3)
    else:
        article = page["articles"][0]
        count = room // (len(json.dumps(article)) + 2000)
        page["articles"] = [{**article, "title": f"{start}-{i}-".ljust(2000, "t"),
                             "citation_id": f"{SERP}:p{start}x{i}"} for i in range(count)]
    return json.dumps(page, separators=(",", ":")).encode()[:size]


def serpapi_env(fake: FakeSerpApi) -> dict[str, str]:
    return {"SCHOLAR_STATS_SERPAPI_URL": fake.url, "SERPAPI_API_KEY": fake.key,
            "SCHOLAR_STATS_TIMEOUT": "60"}


@pytest.mark.parametrize("shape", ["ignored", "kept", "objects"])
def test_many_large_serpapi_pages_stop_at_the_total_in_bounded_memory(
    fake_serpapi: FakeSerpApi, tmp_path: Path, shape: str
) -> None:
    fake_serpapi.add_profile(SERP, pubs=100 * PAGES)
    fake_serpapi.doctor = lambda query, page: padded(page, MAX_PAGE_BYTES - 4096, shape,
                                                     query["start"])
    run = run_cli(["fetch", SERP, "--source", "serpapi", "--out", str(tmp_path), "--deadline",
                   "300"], env=serpapi_env(fake_serpapi), timeout=300,
                  memory_limit_mb=MEMORY_CAP_MB)
    searches = len(fake_serpapi.requests)
    print(f"SerpApi, {shape}, pages of 8 MiB: exit {run.code} after {searches} pages, "
          f"{run.seconds:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB")
    assert run.code == 5, run.err
    assert len(run.err.strip().splitlines()) == 1 and "internal error" not in run.err
    if shape == "objects":  # refused as it arrives: no parser sees it
        assert searches == 1 and f"more than {MAX_PAGE_ELEMENTS:,}" in run.err
    else:
        assert searches == MAX_FETCH_BYTES // MAX_PAGE_BYTES + 1
        assert f"more than {MAX_FETCH_BYTES // 2**20} MiB" in run.err
    assert run.peak_rss_mb < PEAK_RSS_MB
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["exit_code"] == 5 and status["serpapi_searches"]["count"] == searches
    assert not (tmp_path / "gs_data.json").exists()


@pytest.mark.parametrize("shape", ["ignored", "kept"])
def test_a_profile_of_many_pages_under_the_total_is_fetched_in_bounded_memory(
    fake_serpapi: FakeSerpApi, tmp_path: Path, shape: str
) -> None:
    """31 pages of 1 MiB: each page's parts are kept, the page itself is not."""
    pages = 31
    fake_serpapi.add_profile(SERP, pubs=100 * pages)
    fake_serpapi.doctor = lambda query, page: padded(page, 2**20, shape, query["start"])
    run = run_cli(["fetch", SERP, "--source", "serpapi", "--out", str(tmp_path), "--deadline",
                   "300"], env=serpapi_env(fake_serpapi), timeout=300,
                  memory_limit_mb=MEMORY_CAP_MB)
    print(f"SerpApi, {shape}, {pages} pages of 1 MiB: exit {run.code}, {run.seconds:.1f} s, "
          f"peak RSS {run.peak_rss_mb:.0f} MB")
    assert run.code == 0, run.err
    assert len(fake_serpapi.requests) == pages
    assert run.peak_rss_mb < PEAK_RSS_MB
    publications = json.loads((tmp_path / "gs_data.json").read_text())["publications"]
    if shape == "ignored":
        assert len(publications) == pages * 100
    else:  # about 370 articles of 2,000-character titles a page
        assert len(publications) > pages * 300


def scholar_padded(page: str, size: int, shape: str) -> str:
    """A Scholar page grown to about ``size`` bytes by a comment (one text the parser keeps in
    its tree, then drops) or by empty tags (the most a parser makes of a byte)."""
    room = size - len(page.encode()) - 64
    filler = "<!--" + "x" * room + "-->" if shape == "comment" else "<b></b>" * (room // 7)
    return page.replace("<body>", "<body>" + filler, 1)


@pytest.mark.parametrize(("shape", "size", "code"), [
    ("comment", MAX_PAGE_BYTES - 4096, 5), ("tags", MAX_PAGE_BYTES - 4096, 5),
    ("comment", 2**20, 0)])
def test_many_large_scholar_pages_are_bounded_as_a_whole(
    fake_scholar: FakeScholar, tmp_path: Path, shape: str, size: int, code: int
) -> None:
    pages = PAGES if code else 31
    fake_scholar.add_profile(SCHOLAR, 100 * pages)
    fake_scholar.doctor = lambda _user, page: scholar_padded(page, size, shape)
    run = run_cli(["fetch", SCHOLAR, "--out", str(tmp_path), "--deadline", "300"],
                  env={"SCHOLAR_STATS_SCHOLAR_URL": fake_scholar.url, "SCHOLAR_STATS_DELAY": "0",
                       "SCHOLAR_STATS_TIMEOUT": "60"}, timeout=300,
                  memory_limit_mb=MEMORY_CAP_MB)
    asked = len(fake_scholar.profile_requests())
    print(f"Scholar, {shape}, pages of {size / 2**20:.0f} MiB: exit {run.code} after {asked} "
          f"pages, {run.seconds:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB")
    assert run.code == code, run.err
    assert run.peak_rss_mb < PEAK_RSS_MB
    if shape == "tags":
        assert asked == 1 and f"more than {MAX_PAGE_ELEMENTS:,}" in run.err
        assert run.seconds < 10  # refused before a parser spends time on it
    elif code:
        assert asked == MAX_FETCH_BYTES // MAX_PAGE_BYTES + 1
        assert len(run.err.strip().splitlines()) == 1 and "in all" in run.err
    else:
        assert asked == pages
