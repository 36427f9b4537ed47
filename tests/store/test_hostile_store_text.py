"""Scraped text the database cannot hold (issue 17, class 2), on SQLite and PostgreSQL: a NUL,
a lone surrogate, C1 controls or noncharacters in any text a source sends never reach the store
(they are removed at the boundary), and an author whose stored rows an older release wrote with
such text recovers by itself on its next refresh (the store repairs what it reads back).

Before: a NUL in a name failed every refresh on PostgreSQL ("text fields cannot contain NUL"), a
NUL in a title failed every refresh after the first once a change event named it, and a lone
surrogate failed every refresh on both databases: the author sat in state ``internal``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.cli_helpers import run_main
from support.fake_scholar import FakeScholar, fixture_path
from support.fake_serpapi import FakeSerpApi
from support.store_helpers import database_url

from scholar_stats.core.model import AuthorData, FetchStatus
from scholar_stats.net.bounded import decode_body
from scholar_stats.refresh.attempt import FetchOutcome, internal_outcome
from scholar_stats.refresh.record import record_outcome
from scholar_stats.sources.scholar.parse import parse_profile
from scholar_stats.store.database import Store

REAL = "LZ5D_p4AAAAJ"  # a real Scholar page: 12 publications
MEYER = "LSsXyncAAAAJ"  # a real SerpApi answer
GONE = f"{REAL}:GONEpaper001"
# what no column may hold, and what each database refused before
BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
NOW = datetime.now(timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def refresh(db: str, scholar_id: str, *extra: str) -> tuple[int, str]:
    code, _out, err = run_main(["refresh", scholar_id, "--db", db, *extra])
    return code, err


def every_text(db: str) -> list[str]:
    """Every text value of every table: nothing the rules remove may be in any of them."""
    engine = sa.create_engine(db)
    found = []
    with engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                found += [value for value in row if isinstance(value, str)]
    engine.dispose()
    return found


def exported(db: str, scholar_id: str, out: Path) -> dict[str, str]:
    code, _out, err = run_main(["export", scholar_id, "--db", db, "--out", str(out)])
    assert code == 0, err
    return {p.name: p.read_bytes().decode("utf-8") for p in out.rglob("*") if p.is_file()}


def assert_clean(db: str, scholar_id: str, out: Path) -> None:
    texts = every_text(db)
    assert not [t for t in texts if BAD.search(t) or "\\u0000" in t], "dirty rows in the store"
    for name, body in exported(db, scholar_id, out).items():
        assert not BAD.search(body) and "\\u0000" not in body, name


# -- what a source sends never reaches the store ---------------------------------------------


def dirty_scholar(removed: str) -> Any:
    """A doctor putting raw bytes into the name, the affiliation and every title."""
    def doctor(_user: str, page: str) -> bytes:
        body = page.encode("utf-8")
        for marker in (b'id="gsc_prf_in">', b'<div class="gsc_prf_il">', b'class="gsc_a_at">'):
            body = body.replace(marker, marker + removed.encode("utf-8", "surrogatepass"))
        return body
    return doctor


def test_text_from_scholar_no_database_can_hold_never_stops_a_refresh(
    db: str, fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    assert run_main(["authors", "add", REAL, "--db", db])[0] == 0
    fake_scholar.doctor = dirty_scholar("A\x00\x1b[2J\x85\ufffe")  # NUL, ESC, C1, U+FFFE
    for day in range(3):
        code, err = refresh(db, REAL)
        assert code == 0, err
        if day == 0:  # the next fetch drops a paper and changes the counts: events name them
            with Store(db) as store:
                data = store.latest(REAL)
                assert data is not None and data.name == "A[2JDoaa Elmatary"
            fake_scholar.doctor = lambda u, page: re.sub(
                r'<tr class="gsc_a_tr">.*?</tr>', "", dirty_scholar("\x00\x07")(u, page)
                .decode("utf-8"), count=1, flags=re.S).replace(">56<", ">70<", 1)
    with Store(db) as store:
        author = store.get_author(REAL)
        assert author is not None and author.state == "ok"
        assert any(e.kind == "paper_removed" for e in store.change_events(REAL))
    assert_clean(db, REAL, tmp_path / "out")


def test_text_from_serpapi_no_database_can_hold_never_stops_a_refresh(
    db: str, fake_serpapi: FakeSerpApi, fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    assert run_main(["authors", "add", MEYER, "--db", db])[0] == 0

    def doctor(_query: dict[str, str], page: dict[str, Any]) -> bytes:
        text = json.dumps(page)  # escapes: \ud800 and \u0000 arrive as JSON allows them
        for field in ('"name": "', '"title": "', '"publication": "', '"affiliations": "'):
            text = text.replace(field, field + "\\u0000\\ud800\\u0085\\uffff")
        return text.encode()

    fake_serpapi.doctor = doctor
    for _ in range(2):
        code, err = refresh(db, MEYER, "--source", "serpapi")
        assert code == 0, err
    with Store(db) as store:
        author = store.get_author(MEYER)
        assert author is not None and author.state == "ok"
        assert store.attempts(MEYER)[0].source == "serpapi"
    assert_clean(db, MEYER, tmp_path / "out")


# -- a store an older release wrote repairs itself --------------------------------------------


def real_profile() -> AuthorData:
    html = decode_body(fixture_path(f"profile_{REAL}_p0.html").read_bytes(), None)
    pages = iter([html])
    return parse_profile(REAL, lambda _path: next(pages, html), NOW - timedelta(days=2))


def old_release_success(data: dict[str, Any], at: datetime) -> FetchOutcome:
    """A success as an older release recorded it: its text as Scholar sent it (unchecked)."""
    stamp = at.isoformat(timespec="seconds")
    status = FetchStatus(REAL, "ok", 0, f"{REAL}: {data['name']}: ok", stamp, stamp,
                         requests=1, since_year=2021, source="scholar")
    return FetchOutcome(REAL, AuthorData(REAL, data, 2021), status, None)


def lay_down_an_older_release_store(db: str) -> None:
    """The rows an older release left: a profile whose titles hold a NUL (JSON-escaped in its
    text, which PostgreSQL took), and on SQLite a NUL in the name, a change event and an attempt
    message too (PostgreSQL never took a raw one); the author last ended ``internal``."""
    sqlite = db.startswith("sqlite")
    profile = real_profile().gs_data
    profile["name"] += "\x00" if sqlite else ""
    first = next(iter(profile["publications"]))
    profile["publications"][first]["bib"]["title"] += "\x00\x85"
    profile["publications"][first]["num_citations"] += 5  # the next fetch changes it
    gone = json.loads(json.dumps(profile["publications"][first]))
    gone["author_pub_id"] = GONE
    profile["publications"][GONE] = gone  # the next fetch no longer lists it
    with Store(db) as store:
        store.add_authors([REAL], 86400, NOW - timedelta(days=3))
        record_outcome(store, old_release_success(profile, NOW - timedelta(days=2)),
                       NOW - timedelta(days=2))
        if sqlite:
            profile["publications"][first]["num_citations"] += 1
            again = old_release_success(profile, NOW - timedelta(days=1))
            assert record_outcome(store, again, NOW - timedelta(days=1)).events
        crash = internal_outcome(REAL, ValueError("PostgreSQL text fields cannot contain NUL"),
                                 NOW - timedelta(hours=1), None)
        record_outcome(store, crash, NOW - timedelta(hours=1))
        author = store.get_author(REAL)
        assert author is not None and author.state == "internal"
    dirty = [t for t in every_text(db) if "\x00" in t or "\\u0000" in t]
    assert dirty, "the older release's rows were not laid down"


def test_an_author_an_older_release_stored_with_a_nul_recovers_on_its_next_refresh(
    db: str, fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    lay_down_an_older_release_store(db)
    code, err = refresh(db, REAL)
    assert code == 0, err
    with Store(db) as store:
        author = store.get_author(REAL)
        assert author is not None and author.state == "ok"
        events = store.change_events(REAL)
        removed = [e for e in events if e.kind == "paper_removed" and e.key == GONE]
        assert removed and not BAD.search(removed[0].title)  # the old title, repaired
        latest = store.latest(REAL)
        assert latest is not None and "\x00" not in latest.name
        status = store.last_status(REAL)
        assert status is not None and status.exit_code == 0
    code, err = refresh(db, REAL)  # and every refresh after it
    assert code == 0, err
    texts = exported(db, REAL, tmp_path / "out")
    assert not any(BAD.search(body) or "\\u0000" in body for body in texts.values())
    assert GONE in texts["changes.json"]
