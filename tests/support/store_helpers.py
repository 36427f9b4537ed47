"""Helpers for tests that need a Store: database URLs (SQLite file, PostgreSQL schema), fetch
outcomes built from plain numbers (shaped like docs/architecture.md, "The gs_data.json record"),
and a store of the first release."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from scholar_stats.core.model import AuthorData, FetchStatus
from scholar_stats.errors import ScholarStatsError
from scholar_stats.refresh.attempt import FetchOutcome
from support import paths

PG_ENV = "SCHOLAR_STATS_TEST_PG_URL"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections use a fresh PostgreSQL schema, dropped afterwards.

    Each test gets its own schema, so tests (and other people's test runs) never collide.
    """
    base = os.environ[PG_ENV]
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh store URL: a SQLite file in ``tmp_path``, or a PostgreSQL schema of its own
    (the test is skipped when ``SCHOLAR_STATS_TEST_PG_URL`` is unset)."""
    if kind == "sqlite":
        yield sqlite_url(tmp_path)
        return
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set")
    with pg_schema_url() as url:
        yield url


def gs_data(
    scholar_id: str,
    pubs: dict[str, int],
    *,
    citations: int | None = None,
    hindex: int = 5,
    updated: str = "2026-01-01 12:00:00.000000",
) -> dict[str, Any]:
    """A gs_data record in scholarly's shape, with non-ASCII text and a huge organization id."""
    total = sum(pubs.values()) if citations is None else citations
    return {
        "container_type": "Author",
        "filled": ["basics", "indices", "counts", "publications"],
        "scholar_id": scholar_id,
        "source": "AUTHOR_PROFILE_PAGE",
        "name": "Zoë Ångström",
        "url_picture": "https://scholar.googleusercontent.com/citations?view_op=view_photo",
        "affiliation": "Universität Example",
        "organization": 12345678901234567890,
        "interests": ["Bibliometrics", "Data"],
        "email_domain": "@example.edu",
        "citedby": total,
        "citedby5y": total // 2,
        "hindex": hindex,
        "hindex5y": hindex - 1,
        "i10index": 3,
        "i10index5y": 2,
        "cites_per_year": {"2024": 10, "2025": 20},
        "publications": {
            f"{scholar_id}:{pub}": {
                "container_type": "Publication",
                "source": "AUTHOR_PUBLICATION_ENTRY",
                "bib": {"title": f"Paper {pub}", "pub_year": "2020", "citation": "Journal 1"},
                "filled": False,
                "author_pub_id": f"{scholar_id}:{pub}",
                "num_citations": count,
            }
            for pub, count in pubs.items()
        },
        "updated": updated,
    }


def success(
    scholar_id: str, pubs: dict[str, int], at: datetime = T0, *, requests: int = 1, **kw: Any
) -> FetchOutcome:
    data = AuthorData(scholar_id, gs_data(scholar_id, pubs, **kw), since_year=2021)
    stamp = at.isoformat(timespec="seconds")
    status = FetchStatus(
        scholar_id=scholar_id, outcome="ok", exit_code=0, message=f"{scholar_id}: ok",
        last_attempt=stamp, last_success=stamp, requests=requests, duration_seconds=1.25,
        since_year=2021,
    )
    return FetchOutcome(scholar_id, data, status, None)


def failure(
    scholar_id: str, error: ScholarStatsError, at: datetime = T0, *, requests: int = 1
) -> FetchOutcome:
    status = FetchStatus(
        scholar_id=scholar_id, outcome=error.kind, exit_code=error.exit_code,
        message=f"{scholar_id}: {error}", last_attempt=at.isoformat(timespec="seconds"),
        last_success=None, requests=requests, duration_seconds=0.5,
    )
    return FetchOutcome(scholar_id, None, status, error)


def create_v1(url: str, author: str) -> None:
    """A store of the first released schema (its DDL frozen in ``fixtures/store``) holding
    ``author``: fetched at T0, one paper of 7 citations, one attempt."""
    engine = sa.create_engine(url)
    ddl = (paths.FIXTURES / "store" / f"v1_{engine.dialect.name}.sql").read_text()
    with engine.begin() as conn:
        for statement in ddl.split(";"):
            body = "\n".join(
                line for line in statement.splitlines() if not line.startswith("--")
            ).strip()
            if body:
                conn.exec_driver_sql(body)
        ms = 1767268800000  # T0
        conn.exec_driver_sql(
            "INSERT INTO authors (scholar_id, added_at, interval_seconds, state, next_due_at, "
            "last_success_at, last_outcome, last_exit_code) "
            f"VALUES ('{author}', {ms}, 86400, 'ok', {ms + 86400000}, {ms}, 'ok', 0)"
        )
        record = json.dumps(gs_data(author, {"p1": 7}))
        conn.execute(
            sa.text("INSERT INTO profiles VALUES (:id, :at, 2021, :gs)"),
            {"id": author, "at": ms, "gs": record},
        )
        conn.exec_driver_sql(
            f"INSERT INTO metric_history VALUES ('{author}', {ms}, 7, 3, 5, 4, 3, 2, 1)"
        )
        conn.exec_driver_sql(
            "INSERT INTO publications (scholar_id, pub_id, last_citations) "
            f"VALUES ('{author}', '{author}:p1', 7)"
        )
        conn.exec_driver_sql(f"INSERT INTO pub_citations SELECT id, {ms}, 7 FROM publications")
        conn.exec_driver_sql(
            "INSERT INTO attempts (scholar_id, at, outcome, exit_code, error_kind, message, "
            "requests, duration_seconds) "
            f"VALUES ('{author}', {ms}, 'ok', 0, NULL, 'ok', 1, 2.5)"
        )
    engine.dispose()
