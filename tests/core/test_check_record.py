"""The pure check over a parsed profile (``validate.check_record``): every bound, at the bound and
one past it; the page cap; and the store's columns holding the largest accepted values."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.doctored_pages import DOCTORED, NOW, REAL, parse_doctored
from support.fake_scholar import fixture_path
from support.store_helpers import T0, database_url, gs_data, success

from scholar_stats.core.validate import (
    MAX_COUNT,
    MAX_PUB_ID_LENGTH,
    MAX_PUBLICATIONS,
    MAX_TEXT,
    MIN_YEAR,
    check_record,
)
from scholar_stats.errors import PageNotUnderstood
from scholar_stats.refresh.record import record_outcome
from scholar_stats.sources.scholar import parse
from scholar_stats.sources.scholar.parse import parse_profile
from scholar_stats.store.database import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


# --- the pure check --------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(DOCTORED))
def test_doctored_real_pages_are_not_understood_naming_the_part(case: str) -> None:
    doctor, part = DOCTORED[case]
    with pytest.raises(PageNotUnderstood) as raised:
        parse_doctored(doctor)
    message = str(raised.value)
    assert part in message and "\n" not in message
    assert len(message) < 400  # one line, not the 5000-character title echoed back


def record(**changes: object) -> dict:
    data = gs_data(REAL, {"u-x6o8ySG0sC": 3, "YsMSGLbcyi4C": 0}, citations=3)
    data["cites_per_year"] = {2024: 1, 2025: 2}
    data.update(changes)
    return data


def test_the_largest_accepted_values_pass_and_one_more_fails() -> None:
    biggest = record(citedby=MAX_COUNT, hindex=MAX_COUNT, cites_per_year={MIN_YEAR: MAX_COUNT,
                                                                          NOW.year + 1: 0})
    long_id = f"{REAL}:" + "a" * (MAX_PUB_ID_LENGTH - len(REAL) - 1)
    pub = copy.deepcopy(next(iter(biggest["publications"].values())))
    pub.update(author_pub_id=long_id, num_citations=MAX_COUNT)
    pub["bib"]["title"] = "T" * MAX_TEXT
    biggest["publications"][long_id] = pub
    check_record(REAL, biggest, 2021, NOW)

    too_big = [
        record(citedby=MAX_COUNT + 1),
        record(i10index5y=-1),
        record(hindex=True),  # a bool is not a count
        record(citedby="56"),
        record(cites_per_year={MIN_YEAR - 1: 1}),
        record(cites_per_year={NOW.year + 2: 1}),
        record(name="N" * (MAX_TEXT + 1)),
        record(affiliation="A" * (MAX_TEXT + 1)),
        record(organization=2**64),
        record(organization=-1),
        record(interests=["x"] * 101),
    ]
    for bad in too_big:
        with pytest.raises(PageNotUnderstood):
            check_record(REAL, bad, 2021, NOW)
    with pytest.raises(PageNotUnderstood, match="since"):
        check_record(REAL, record(), NOW.year + 2, NOW)

    many = record()
    one = next(iter(many["publications"].values()))
    many["publications"] = {
        f"{REAL}:{i:012d}": {**one, "author_pub_id": f"{REAL}:{i:012d}"}
        for i in range(MAX_PUBLICATIONS + 1)
    }
    with pytest.raises(PageNotUnderstood, match="publications"):
        check_record(REAL, many, 2021, NOW)

    key_mismatch = record()
    _pub_id, entry = next(iter(key_mismatch["publications"].items()))
    entry["author_pub_id"] = f"{REAL}:somethingelse"
    with pytest.raises(PageNotUnderstood, match="publication id"):
        check_record(REAL, key_mismatch, 2021, NOW)


def test_a_profile_longer_than_the_page_cap_is_not_followed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that keeps "Show more" enabled forever is cut off after the page cap (lowered
    here from MAX_PUBLICATIONS / 100 so the test parses 3 pages, not 500)."""
    assert parse.MAX_PAGES == MAX_PUBLICATIONS // 100
    monkeypatch.setattr(parse, "MAX_PAGES", 3)
    pages: list[str] = []
    first = fixture_path(f"profile_{REAL}_p0.html").read_text("utf-8")
    endless = first.replace('id="gsc_bpf_more" disabled', 'id="gsc_bpf_more"')

    def get_page(path: str) -> str:
        pages.append(path)
        return endless

    with pytest.raises(PageNotUnderstood, match="publications"):
        parse_profile(REAL, get_page, NOW)
    assert len(pages) == 3




def test_the_store_holds_every_value_the_parser_accepts(db_url: str) -> None:
    """The largest count and the longest publication id round-trip on both databases."""
    long_pub = "p" * (MAX_PUB_ID_LENGTH - len(REAL) - 1)
    outcome = success(REAL, {long_pub: MAX_COUNT, "small": 0}, citations=MAX_COUNT,
                      hindex=MAX_COUNT)
    with Store(db_url) as store:
        store.add_authors([REAL], 86400, T0)
        record_outcome(store, outcome, T0)
        assert store.publication_history(REAL)[f"{REAL}:{long_pub}"] == [(T0, MAX_COUNT)]
        metrics = store.latest_metrics(REAL)
        assert metrics is not None and metrics.citations == MAX_COUNT
        assert metrics.h_index == MAX_COUNT
        assert store.latest(REAL) == outcome.data


