"""The service's pages and page script through an in-process client: answered like the data
(caching headers, ETag, gzip), escaped, and every snippet pointing at a file that exists."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from support.service_helpers import (
    BIG,
    EMPTY,
    FRESH,
    STALE,
    UNTRACKED,
    client_for,
    fill_store,
    now,
    pubs,
)
from support.store_helpers import failure, success

from scholar_stats import errors
from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.outputs import catalogue
from scholar_stats.outputs.badges import STYLES
from scholar_stats.refresh.record import record_outcome
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.store.database import Store

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
    assert script.content == catalogue.page_script()


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
    assert r.status_code == 200 and r.json()["isError"] is True  # shields reads 200s only


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


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


async def test_no_page_shows_a_bidi_override(tmp_path: Path) -> None:
    """Name, affiliation, titles and the last attempt's message of a lying profile carry every
    bidi embedding, override and isolate: no page shows one (the kit's ``clean_text``)."""
    url = f"sqlite:///{tmp_path / 'bidi.db'}"
    liar, failed = "LIARAUTHOR12", "FAILEDAUTHOR"
    with Store(url) as store:
        t = now()
        store.add_authors([liar, failed], 86400, t)
        outcome = success(liar, pubs(5), t)
        assert outcome.data is not None
        outcome.data.gs_data["name"] = f"Mallory{BIDI}\u0007 Name"
        outcome.data.gs_data["affiliation"] = f"Uni{BIDI}versity"
        for pub in outcome.data.gs_data["publications"].values():
            pub["bib"]["title"] = f"A {BIDI}title"
        record_outcome(store, outcome, t)
        blocked = failure(failed, errors.Blocked(f"blocked {BIDI}here"), t)
        record_outcome(store, dataclasses.replace(
            blocked, status=dataclasses.replace(blocked.status, message=f"no {BIDI}data")), t)
        store.add_to_group("lab", [liar, failed])
    app = create_app(ServiceSettings(db_url=url, scheduler=False, poll_seconds=0))
    async with client_for(app) as client:
        pages = {path: (await client.get(path)).text
                 for path in ("/", f"/authors/{liar}/", f"/authors/{failed}/", "/groups/lab/")}
    assert "Mallory Name" in pages[f"/authors/{liar}/"]
    assert "University" in pages[f"/authors/{liar}/"] and "A title" in pages[f"/authors/{liar}/"]
    assert "no data" in pages[f"/authors/{failed}/"]
    assert "Mallory Name" in pages["/"] and "Mallory Name" in pages["/groups/lab/"]
    for path, page in pages.items():
        assert not set(page) & set(BIDI + "\u0007"), path


async def test_pages_carry_a_content_security_policy(client: httpx.AsyncClient) -> None:
    """No script, no plugin, no form, no frame; pictures from the service; the one style sheet
    by its hash, which is the hash of the style element every page carries."""
    for path in ("/", f"/authors/{FRESH}/", f"/authors/{EMPTY}/"):
        r = await client.get(path)
        policy = dict(part.strip().split(" ", 1) for part in
                      r.headers["content-security-policy"].split(";"))
        assert policy == {"default-src": "'none'", "img-src": "'self'",
                          "style-src": policy["style-src"], "base-uri": "'none'",
                          "form-action": "'none'", "frame-ancestors": "'none'"}, path
        style = re.search(r"<style>(.*?)</style>", r.text, re.S)
        assert style is not None and "<script" not in r.text
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        assert policy["style-src"] == f"'sha256-{digest}'"
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_the_snippets_name_the_host_asked_and_only_a_host(
    client: httpx.AsyncClient
) -> None:
    """The snippets name the Host the page was asked on; one that is not a host is refused
    (it could only be a lie, and would be kept as a page of its own)."""
    for host in ("stats.example.org", "127.0.0.1:8000", "[::1]:8000"):
        r = await client.get(f"/authors/{FRESH}/", headers={"host": host})
        assert r.status_code == 200 and f"http://{host}/authors/{FRESH}/badges/" in r.text
    for host in ("a b", 'x"><b>', "[", "x" * 20 + ":99999999", "\xe9.example".encode("latin-1")):
        r = await client.get(f"/authors/{FRESH}/", headers={"host": host})
        assert (r.status_code, r.json()) == (400, {"error": "invalid Host header"}), host
