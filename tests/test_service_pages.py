"""The service's pages and page script through an in-process client: answered like the data
(caching headers, ETag, gzip), escaped, and every snippet pointing at a file that exists."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from service_helpers import BIG, EMPTY, FRESH, STALE, UNTRACKED, client_for, fill_store

from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.outputs import kit
from scholar_stats.outputs.badges import STYLES
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    fill_store(url)
    app = create_app(ServiceSettings(db_url=url, scheduler=False, poll_seconds=0))
    async with client_for(app) as c:
        yield c


async def test_pages_are_cached_like_the_data(client: httpx.AsyncClient) -> None:
    for path, ctype in (("/", "text/html; charset=utf-8"),
                        (f"/authors/{FRESH}/", "text/html; charset=utf-8"),
                        ("/scholar-stats.js", "text/javascript; charset=utf-8")):
        r = await client.get(path, headers={"accept-encoding": "gzip"})
        assert r.status_code == 200, path
        assert r.headers["content-type"] == ctype
        assert r.headers["cache-control"] == "public, max-age=3600"
        assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "accept-encoding"
        again = await client.get(path, headers={"accept-encoding": "gzip",
                                                "if-none-match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        head = await client.head(path)
        assert head.status_code == 200 and head.content == b""
    script = await client.get("/scholar-stats.js")
    assert script.content == kit.page_script()


async def test_errors_and_the_missing_slash(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/authors/{UNTRACKED}/")
    assert (r.status_code, r.json()) == (404, {"error": "not tracked"})
    r = await client.get("/authors/not-an-id/")
    assert (r.status_code, r.json()) == (400, {"error": "invalid scholar id"})
    r = await client.get(f"/authors/{FRESH}")
    assert r.status_code == 308 and r.headers["location"] == f"/authors/{FRESH}/"
    r = await client.get(f"/authors/{UNTRACKED}/card.svg")
    assert r.status_code == 404
    r = await client.get(f"/authors/{EMPTY}/card.svg")
    assert (r.status_code, r.json()) == (404, {"error": "no data yet"})
    r = await client.get(f"/authors/{FRESH}/papers/NOSUCHPAPER0.json")
    assert r.status_code == 404 and r.json()["isError"] is True


async def test_the_index_lists_every_author_with_its_numbers(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    for scholar_id in (FRESH, STALE, BIG, EMPTY):  # relative: the same bytes for every host
        assert f'href="authors/{scholar_id}/"' in page
    assert (await client.get("/", headers={"host": "elsewhere.example"})).text == page
    row = page[page.index(f"authors/{BIG}/"):]
    row = row[:row.index("</tr>")]
    assert "14076" in row and "300" in row and "fresh" in row
    assert "stale" in page[page.index(f"authors/{STALE}/"):].split("</tr>")[0]


async def test_the_author_page_links_only_to_files_that_exist(client: httpx.AsyncClient) -> None:
    page = (await client.get(f"/authors/{STALE}/")).text
    assert "These numbers are stale" in page
    assert page.count("<tr><td>20") >= 1  # the history table, newest first
    own = {unescape(u) for u in re.findall(r'(?:src|href)="(http://testserver/[^"]+)"', page)}
    snippet_urls = {unescape(u) for u in re.findall(r"\((http://testserver/[^)]+)\)", page)}
    shields = {unquote(u) for u in re.findall(r"endpoint\?url=([^&]+)&amp;", page)}
    assert len({u for u in snippet_urls if "/badges/" in u}) == len(METRIC_NAMES) * len(STYLES)
    assert len(shields) >= len(METRIC_NAMES) + 1  # every metric's endpoint, and a paper's
    for url in sorted(own | snippet_urls | shields):
        path = url.removeprefix("http://testserver")
        if path.endswith("/docs"):
            continue
        r = await client.get(path)
        assert r.status_code == 200, url
