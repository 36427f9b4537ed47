"""Every public route answers from memory, on SQLite and PostgreSQL under a real uvicorn: no
public request queries the database (counted by a listener on the store's engine), unknown
authors and groups included, and with the database gone every public answer stays the same,
the groups' too. HEAD is answered on every GET route with GET's headers and no body."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from support.service_helpers import (
    BIG,
    EMPTY,
    FRESH,
    STALE,
    UNTRACKED,
    TcpForwarder,
    fill_store,
    wait_prepared,
)
from support.service_helpers import running_server as real_server
from support.store_helpers import PG_ENV, pg_schema_url
from support.waiting import wait_until

from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.store.database import Store

# Routes that read the store by design (docs, "The service"): health and metrics.
STORE_ROUTES = {"/healthz", "/metrics"}


def author_paths(scholar_id: str) -> list[str]:
    base = f"/authors/{scholar_id}/"
    files = ["", "gs_data.json", "gs_data_shieldsio.json", "status.json", "history.csv",
             "changes.json", "changes.xml", "chart.svg", "card.svg", "nosuchfile.txt",
             "papers/P00000000003.json", "papers/NOSUCHPAPER0.json",
             f"papers/{scholar_id}:P00000000003/shields.json",
             "badges/h-index.svg?label=lab&color=9cf&style=for-the-badge",
             "badges/nosuchmetric.svg", "shields/nosuchmetric.json"]
    files += [f"shields/{metric}.json" for metric in METRIC_NAMES]
    files += [f"badges/{metric}.svg" for metric in METRIC_NAMES]
    return [base + name for name in files] + [base.rstrip("/")]


def group_paths(name: str) -> list[str]:
    base = f"/groups/{name}/"
    files = ["", "gs_data.json", "gs_data_shieldsio.json", "shields/h-index.json",
             "badges/citations.svg", "shields/citations-5y.json", "badges/nosuchmetric.svg"]
    return [base + name for name in files]


# every public path: tracked authors (fresh, stale, with 300 papers, without data), an
# untracked and a malformed id, a group, an unknown and a malformed group name, the pages
PUBLIC = [
    "/", "/scholar-stats.js", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json",
    *(path for sid in (FRESH, STALE, BIG, EMPTY, UNTRACKED, "not-an-id") for path in
      author_paths(sid)),
    *(path for name in ("lab", "nolab", "Bad%20Name") for path in group_paths(name)),
]


def get_routes(app: FastAPI) -> list[Any]:
    return [route for route in app.routes if "GET" in (getattr(route, "methods", None) or ())]


def test_the_public_paths_cover_every_get_route(tmp_path: Path) -> None:
    """So a route added later without being listed here fails this test, not silently."""
    app = create_app(ServiceSettings(db_url=f"sqlite:///{tmp_path / 'x.db'}", scheduler=False))
    paths = [path.split("?")[0].replace("%20", " ") for path in PUBLIC]
    for route in get_routes(app):
        if route.path in STORE_ROUTES:
            continue
        assert any(route.path_regex.fullmatch(path) for path in paths), route.path


@pytest.fixture(params=["sqlite", "postgresql"])
def store_behind_a_forwarder(request: pytest.FixtureRequest,
                             tmp_path: Path) -> Iterator[tuple[str, TcpForwarder | None]]:
    """A filled store (four authors, group ``lab`` of two): a SQLite URL, or a PostgreSQL one
    reached through a forwarder the test can take down."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'memory.db'}"
        fill_store(url)
        with Store(url) as store:
            store.add_to_group("lab", [FRESH, BIG])
        yield url, None
        return
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set")
    with pg_schema_url() as direct:
        fill_store(direct)
        with Store(direct) as store:
            store.add_to_group("lab", [FRESH, BIG])
        upstream = sa.make_url(direct)
        forwarder = TcpForwarder((upstream.host or "127.0.0.1", upstream.port or 5432))
        try:
            yield upstream.set(port=forwarder.port).render_as_string(hide_password=False), \
                forwarder
        finally:
            forwarder.close()


def answers(client: httpx.Client, method: str = "GET") -> dict[str, tuple[int, bytes]]:
    return {path: (r.status_code, r.content) for path in PUBLIC
            for r in [client.request(method, path)]}


def headers_of(client: httpx.Client, method: str, path: str) -> dict[str, str]:
    return {k: v for k, v in client.request(method, path).headers.items() if k != "date"}


def test_no_public_request_queries_the_database_and_none_needs_it(
    store_behind_a_forwarder: tuple[str, TcpForwarder | None]
) -> None:
    url, forwarder = store_behind_a_forwarder
    app = create_app(ServiceSettings(db_url=url, scheduler=False, poll_seconds=0.1))
    service = app.state.service
    polling = threading.local()  # the poll queries, as it should: its queries are not counted
    sync = service.sync

    def polled(**kw: Any) -> int:
        polling.on = True
        try:
            return sync(**kw)
        finally:
            polling.on = False

    service.sync = polled
    queries: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not getattr(polling, "on", False):
            queries.append(statement)

    with real_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        wait_prepared(service)  # an author not prepared yet is read from the store once
        sa.event.listen(service.store.engine, "before_cursor_execute", count)
        before = answers(client)
        heads = answers(client, "HEAD")
        assert queries == [], queries[:5]
        statuses = {status for status, _ in before.values()}
        assert {200, 308, 400, 404} <= statuses, statuses  # real answers, errors too
        assert before["/groups/lab/gs_data.json"][0] == 200
        assert before["/groups/nolab/gs_data.json"] == (404, b'{"error": "no such group"}')
        assert all(heads[path] == (before[path][0], b"") for path in PUBLIC), \
            [path for path in PUBLIC if heads[path] != (before[path][0], b"")]
        differ = [path for path in PUBLIC
                  if headers_of(client, "GET", path) != headers_of(client, "HEAD", path)]
        assert not differ, differ  # HEAD: GET's headers, Content-Length included
        client.get("/healthz")  # the listener counts: health reads the store
        assert queries

        # the database goes away; every public answer is the same as before
        if forwarder is None:
            working = service.store.engine
            service.store.engine = sa.create_engine("sqlite:////nonexistent/dir/x.db")
        else:
            forwarder.go_down()
        try:
            wait_until(lambda: service.database.problem is not None,  # a poll has failed
                       "the poll saw the database go")
            time.sleep(0.3)  # and a few more
            after = answers(client)
            assert client.get("/healthz").status_code == 503
        finally:
            if forwarder is None:
                service.store.engine.dispose()
                service.store.engine = working
    changed = [path for path in PUBLIC if after[path] != before[path]]
    assert not changed, changed


def test_the_services_sqlite_connections_keep_a_small_page_cache(tmp_path: Path) -> None:
    """The service reads each author once and keeps its answers itself: its connections ask
    SQLite for a 1 MiB page cache (8 MiB elsewhere): one cache per pooled connection, up to
    8 MiB each of pages never read again."""
    from scholar_stats.service.mirror import Service
    from scholar_stats.service.settings import SERVICE_PAGE_CACHE_KIB

    url = f"sqlite:///{tmp_path / 'store.db'}"

    def cache_size(store: Store) -> int:
        with store.engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())

    with Store(url) as store:
        assert cache_size(store) == -8192
    service = Service(ServiceSettings(db_url=url, scheduler=False))
    try:
        assert cache_size(service.store) == -SERVICE_PAGE_CACHE_KIB == -1024
    finally:
        service.store.close()
