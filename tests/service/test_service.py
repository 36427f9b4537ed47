"""The live service through an in-process client on a real SQLite store: every route, every
error path, HTTP caching, compression, CORS, admin auth, snapshot swaps."""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import os
import sys
import threading
import weakref
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support.service_helpers import (
    BIG,
    EMPTY,
    FRESH,
    STALE,
    TOKEN,
    UNTRACKED,
    GarbageCycle,
    client_for,
    fill_store,
    now,
    pubs,
    wait_prepared,
)
from support.store_helpers import gs_data, success

from scholar_stats.core.groups import group_totals
from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.outputs.export import author_files
from scholar_stats.outputs.groups import group_record
from scholar_stats.outputs.render import dump_json
from scholar_stats.refresh.record import record_outcome
from scholar_stats.service import fastpath, mirror
from scholar_stats.service.app import create_app
from scholar_stats.service.packed import dump_record, load_record
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.store.database import Store

pytestmark = pytest.mark.anyio
SVG_NS = "{http://www.w3.org/2000/svg}"


def later() -> datetime:
    """A moment after the fixture's fetches (the store keys history by time)."""
    return now() + timedelta(seconds=5)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    fill_store(url)
    return url


def make_app(db_url: str, **kw: object) -> FastAPI:
    options: dict[str, object] = {"db_url": db_url, "scheduler": False, "poll_seconds": 0}
    options.update(kw)
    return create_app(ServiceSettings(**options))  # type: ignore[arg-type]


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(db_url, admin_token=TOKEN)) as c:
        yield c


@pytest.mark.parametrize("scholar_id", [FRESH, STALE])
async def test_public_files_are_exports_bytes(
    client: httpx.AsyncClient, db_url: str, scholar_id: str
) -> None:
    """Every file export writes, the homepage kit included (badges, chart, card, one endpoint
    per paper: drawn on demand by the service), is served byte for byte, stale or fresh."""
    with Store(db_url) as store:
        expected = author_files(store, scholar_id, now=now())
    assert {"gs_data.json", "gs_data_shieldsio.json", "status.json", "history.csv",
            "changes.json", "changes.xml"} <= set(expected)
    assert {f"shields/{m}.json" for m in METRIC_NAMES} <= set(expected)
    assert {f"badges/{m}.svg" for m in METRIC_NAMES} | {"chart.svg", "card.svg"} <= set(expected)
    assert any(name.startswith("papers/") for name in expected)
    types = {".json": "application/json", ".csv": "text/csv; charset=utf-8",
             ".svg": "image/svg+xml", ".xml": "application/atom+xml"}
    for name, body in expected.items():
        r = await client.get(f"/authors/{scholar_id}/{name}")
        assert r.status_code == 200, name
        if name.endswith(".json") and b'"schemaVersion"' in body:
            # an endpoint: export's object, with the service's cache hint added
            assert r.json() == {**json.loads(body), "cacheSeconds": 3600}, name
        else:
            assert r.content == body, name
        assert r.headers["content-type"] == types[Path(name).suffix]
        assert r.headers["cache-control"] == "public, max-age=3600"
        assert r.headers["access-control-allow-origin"] == "*"
        again = await client.get(f"/authors/{scholar_id}/{name}",
                                 headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304, name
        if name.endswith(".json") and "schemaVersion" in r.json():
            # the endpoint JSON's own cache hint agrees with the header
            assert r.json()["cacheSeconds"] == 3600
    grey = 'fill="#9f9f9f"' in expected["badges/citations.svg"].decode()
    assert grey == (scholar_id == STALE)


async def test_max_age_is_configurable(db_url: str) -> None:
    async with client_for(make_app(db_url, max_age=600)) as c:
        r = await c.get(f"/authors/{FRESH}/shields/citations.json")
    assert r.headers["cache-control"] == "public, max-age=600"
    assert r.json()["cacheSeconds"] == 600


async def test_badges_chart_and_papers(client: httpx.AsyncClient) -> None:
    for metric in METRIC_NAMES:
        r = await client.get(f"/authors/{FRESH}/badges/{metric}.svg")
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/svg+xml"
        root = ET.fromstring(r.content)
        endpoint = (await client.get(f"/authors/{FRESH}/shields/{metric}.json")).json()
        assert root.find(f"{SVG_NS}title").text == f"{endpoint['label']}: {endpoint['message']}"  # type: ignore[union-attr]
    chart = await client.get(f"/authors/{FRESH}/chart.svg")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert "2025" in [t.text for t in ET.fromstring(chart.content).iter(f"{SVG_NS}text")]
    title = ET.fromstring(chart.content).find(f"{SVG_NS}title")
    # the author's name
    assert title is not None and title.text == "Zoë Ångström: citations per year"
    counts = pubs(12)
    for key in (f"{FRESH}:P00000000005", "P00000000005"):
        r = await client.get(f"/authors/{FRESH}/papers/{key}/shields.json")
        assert r.status_code == 200
        assert r.json() == {"schemaVersion": 1, "label": "citations",
                            "message": str(counts["P00000000005"]), "color": "#007ec6",
                            "cacheSeconds": 3600}


async def test_a_path_answered_is_answered_again_without_a_look_up(db_url: str) -> None:
    """The fast path remembers the reply of a public path it answered with a 200 (a file every
    entry keeps, a default badge) and answers the path again with it, GET, HEAD and 304 alike,
    until the authors change; a path with a query is looked up every time."""
    app = make_app(db_url)
    files = [*(f"badges/{m}.svg" for m in METRIC_NAMES), "shields/citations.json", "gs_data.json"]
    async with client_for(app) as client:
        wait_prepared(app.state.service)  # a path is remembered once its author is prepared
        snapshot = app.state.service.snapshot
        looked_up = snapshot.authors = LookUps(snapshot.authors)
        first = {f: await client.get(f"/authors/{FRESH}/{f}") for f in files}
        assert looked_up.ids == [FRESH] * len(files)
        assert all(r.status_code == 200 for r in first.values())
        for file, drawn in first.items():
            path = f"/authors/{FRESH}/{file}"
            again, head = await client.get(path), await client.head(path)
            assert (again.content, again.headers) == (drawn.content, drawn.headers), file
            assert head.headers["content-length"] == drawn.headers["content-length"], file
            unchanged = await client.get(path, headers={"If-None-Match": drawn.headers["etag"]})
            assert unchanged.status_code == 304, file
        assert looked_up.ids == [FRESH] * len(files)
        await client.get(f"/authors/{FRESH}/badges/citations.svg?label=x")
        await client.get(f"/authors/{FRESH}/badges/citations.svg?label=x")
        assert looked_up.ids == [FRESH] * (len(files) + 2)
        metrics = (await client.get("/metrics")).text
        badges = len(METRIC_NAMES)  # each: GET twice, HEAD, then If-None-Match
        for route, status, answered in [
            ("badge_svg", 200, 3 * badges + 2), ("badge_svg", 304, badges),  # 2: with a query
            ("endpoint_json", 304, 1), ("gs_data.json", 200, 3),
        ]:
            assert f'{{route="{route}",status="{status}"}} {answered}.0' in metrics

        snapshot.update({FRESH: snapshot.authors[FRESH]})  # the authors changed: looked up again
        looked_up = snapshot.authors = LookUps(snapshot.authors)
        again = await client.get(f"/authors/{FRESH}/gs_data.json")
        assert looked_up.ids == [FRESH] and again.content == first["gs_data.json"].content


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
async def test_the_rebuilds_run_in_threads_of_the_lowest_priority(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll (which rebuilds the authors a refresh changed) and the warm-up run in threads
    of their own at nice 19, so the system runs the event loop's thread first; every other
    thread (the loop's, the one drawing pages) keeps the process's priority."""
    app = make_app(db_url, poll_seconds=0.05)
    service = app.state.service
    seen: dict[str, int] = {}

    def noted(what: str, work: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            seen[what] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            return work(*args)
        return run

    service.sync = noted("poll", service.sync)
    monkeypatch.setattr(mirror, "warm_up", noted("warm-up", mirror.warm_up))
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    async with client_for(app) as client:
        assert (await client.get(f"/authors/{FRESH}/")).status_code == 200  # a page: drawn
        for _ in range(3000):
            if "poll" in seen:
                break
            await asyncio.sleep(0.01)
        others = {t.name: os.getpriority(os.PRIO_PROCESS, t.native_id)
                  for t in threading.enumerate()
                  if t.native_id is not None and not t.name.startswith("scholar-stats-poll")
                  and t.name != "scholar-stats-warm-up"}
    assert seen == {"warm-up": 19, "poll": 19}
    assert set(others.values()) == {own} and len(others) >= 2, others  # the loop's, the page's


class LookUps(dict[str, Any]):
    """A snapshot's authors that note the ids looked up."""

    def __init__(self, authors: dict[str, Any]) -> None:
        super().__init__(authors)
        self.ids: list[str] = []

    def get(self, scholar_id: str, default: Any = None) -> Any:  # type: ignore[override]
        self.ids.append(scholar_id)
        return super().get(scholar_id, default)


async def test_the_paths_remembered_are_bounded(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastpath, "PATHS_KNOWN", 3)
    app = make_app(db_url)
    async with client_for(app) as client:
        wait_prepared(app.state.service)
        for metric in METRIC_NAMES:
            answered = await client.get(f"/authors/{FRESH}/shields/{metric}.json")
            assert answered.status_code == 200
            assert 0 < len(app.fast_path.known) <= 3
        assert f"/authors/{FRESH}/shields/{METRIC_NAMES[-1]}.json" in app.fast_path.known


async def test_badge_query_parameters(client: httpx.AsyncClient) -> None:
    r = await client.get(
        f"/authors/{FRESH}/badges/citations.svg",
        params={"label": "cited by", "color": "9cf", "labelColor": "f6f6f6",
                "style": "for-the-badge"},
    )
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    assert root.attrib["height"] == "28"
    assert "CITED BY" in [t.text for t in root.iter(f"{SVG_NS}text")]
    assert {"#9cf", "#f6f6f6"} <= {el.attrib.get("fill") for el in root.iter(f"{SVG_NS}rect")}


async def test_social_badge(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/authors/{FRESH}/badges/citations.svg", params={"style": "social"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(r.content)
    assert root.tag == f"{SVG_NS}svg" and root.attrib["height"] == "20"
    shown = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert shown[1] == "Citations" and root.find(f".//{SVG_NS}path") is not None
    number = (await client.get(f"/authors/{FRESH}/shields/citations.json")).json()["message"]
    assert shown[-1] == number and b"#9f9f9f" not in r.content
    # stale data keeps its number in a grey bubble, whatever colour was asked for
    grey = await client.get(f"/authors/{STALE}/badges/citations.svg",
                            params={"style": "social", "color": "green"})
    assert grey.status_code == 200 and b"#9f9f9f" in grey.content
    stale_number = (await client.get(f"/authors/{STALE}/shields/citations.json")).json()["message"]
    assert [t.text for t in ET.fromstring(grey.content).iter(f"{SVG_NS}text")][-1] == stale_number


@pytest.mark.parametrize("label", ["<script>alert(1)</script>", '"><svg onload=alert(1)>',
                                   "&amp;&lt;&#60;", "x'y\"z"])
@pytest.mark.parametrize("style", ["flat", "social"])
async def test_svg_injection_via_query(client: httpx.AsyncClient, label: str, style: str) -> None:
    r = await client.get(f"/authors/{FRESH}/badges/citations.svg",
                         params={"label": label, "style": style})
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    assert not root.findall(f".//{SVG_NS}script") and not root.findall(".//script")
    shown = label[:1].upper() + label[1:] if style == "social" else label
    assert shown in [t.text for t in root.iter(f"{SVG_NS}text")]
    assert r.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("params", [{"color": "red;x"}, {"labelColor": '"><script>'},
                                    {"style": "neon"}, {"color": "javascript:1"}])
async def test_bad_badge_parameters_are_400_error_badges(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    r = await client.get(f"/authors/{FRESH}/badges/citations.svg", params=params)
    assert r.status_code == 400
    assert r.headers["content-type"] == "image/svg+xml"
    ET.fromstring(r.content)
    assert b"<script" not in r.content


async def test_untracked_author(client: httpx.AsyncClient) -> None:
    for name in ("gs_data.json", "status.json", "history.csv", "chart.svg"):
        r = await client.get(f"/authors/{UNTRACKED}/{name}")
        assert r.status_code == 404 and r.json() == {"error": "not tracked"}, name
    for name in ("gs_data_shieldsio.json", "shields/citations.json",
                 "papers/ABCDEFGHIJKL/shields.json"):
        r = await client.get(f"/authors/{UNTRACKED}/{name}")
        assert r.status_code == 200  # shields reads the body of a 200 only
        assert r.headers["cache-control"] == "public, max-age=60"
        assert r.json() == {"schemaVersion": 1, "label": "scholar", "message": "not tracked",
                            "isError": True, "color": "red"}
    r = await client.get(f"/authors/{UNTRACKED}/badges/citations.svg")
    assert r.status_code == 404 and r.headers["content-type"] == "image/svg+xml"
    assert "not tracked" in [t.text for t in ET.fromstring(r.content).iter(f"{SVG_NS}text")]


async def test_malformed_requests(client: httpx.AsyncClient) -> None:
    r = await client.get("/authors/short/gs_data.json")
    assert r.status_code == 400 and r.json() == {"error": "invalid scholar id"}
    r = await client.get("/authors/short/badges/citations.svg")
    assert r.status_code == 400 and r.headers["content-type"] == "image/svg+xml"
    r = await client.get("/authors/<script>xxxxx/shields/citations.json")
    assert r.status_code == 200 and r.json()["isError"] is True  # shields' rules
    r = await client.get(f"/authors/{FRESH}/shields/nonsense.json")
    assert r.status_code == 200 and r.json()["message"] == "unknown metric"
    r = await client.get(f"/authors/{FRESH}/badges/nonsense.svg")
    assert r.status_code == 404 and r.headers["content-type"] == "image/svg+xml"
    r = await client.get(f"/authors/{FRESH}/papers/NOSUCHPAPER1/shields.json")
    assert r.status_code == 200 and r.json()["message"] == "unknown paper"
    r = await client.get(f"/authors/{FRESH}/secrets.txt")
    assert r.status_code == 404 and r.json() == {"error": "not found"}
    r = await client.get(f"/authors/{FRESH}/../../etc/passwd")
    assert r.status_code in (400, 404)


async def test_tracked_without_data(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/authors/{EMPTY}/gs_data.json")
    assert r.status_code == 404 and r.json() == {"error": "no data yet"}
    r = await client.get(f"/authors/{EMPTY}/shields/citations.json")
    assert r.status_code == 200 and r.json()["message"] == "no data yet"
    assert r.json()["isError"] is True
    r = await client.get(f"/authors/{EMPTY}/badges/citations.svg")
    assert r.status_code == 404 and b"no data yet" in r.content


async def test_stale_data_keeps_numbers_turns_grey(client: httpx.AsyncClient) -> None:
    status = (await client.get(f"/authors/{STALE}/status.json")).json()
    assert status["stale"] is True and "old" in status["stale_reason"]
    fresh_status = (await client.get(f"/authors/{FRESH}/status.json")).json()
    assert fresh_status["stale"] is False
    stale_svg = (await client.get(f"/authors/{STALE}/badges/citations.svg")).content
    stale_badge = ET.fromstring(stale_svg)
    fills = [el.attrib.get("fill") for el in stale_badge.iter(f"{SVG_NS}rect")]
    assert "#9f9f9f" in fills
    # the user's colour cannot hide staleness; the number is still there
    grey = await client.get(f"/authors/{STALE}/badges/citations.svg", params={"color": "green"})
    assert b"#9f9f9f" in grey.content and b"#97ca00" not in grey.content
    endpoint = (await client.get(f"/authors/{STALE}/shields/citations.json")).json()
    assert endpoint["message"] in [t.text for t in stale_badge.iter(f"{SVG_NS}text")]
    assert endpoint["color"] == "#9f9f9f"  # shields shows it grey too
    fresh = (await client.get(f"/authors/{FRESH}/shields/citations.json")).json()
    assert fresh["color"] == "#007ec6"
    fresh_badge = (await client.get(f"/authors/{FRESH}/badges/citations.svg")).content
    assert b"#9f9f9f" not in fresh_badge


async def test_etag_and_304(client: httpx.AsyncClient) -> None:
    url = f"/authors/{FRESH}/shields/citations.json"
    first = await client.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    listed = await client.get(url, headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    other = await client.get(url, headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200 and other.content == first.content
    svg = await client.get(f"/authors/{FRESH}/badges/citations.svg")
    svg304 = await client.get(f"/authors/{FRESH}/badges/citations.svg",
                              headers={"If-None-Match": svg.headers["etag"]})
    assert svg304.status_code == 304


async def test_head(client: httpx.AsyncClient) -> None:
    for name in ("gs_data.json", "badges/h-index.svg", "history.csv"):
        get = await client.get(f"/authors/{FRESH}/{name}")
        head = await client.head(f"/authors/{FRESH}/{name}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == get.headers["content-length"]
        assert head.headers.get("content-encoding") == get.headers.get("content-encoding")
        assert head.headers["etag"] == get.headers["etag"]
    missing = await client.head(f"/authors/{UNTRACKED}/gs_data.json")
    assert missing.status_code == 404 and missing.content == b""


async def test_gzip_for_large_responses(client: httpx.AsyncClient, db_url: str) -> None:
    url = f"/authors/{BIG}/gs_data.json"
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "accept-encoding"
    assert len(json.loads(plain.content)["publications"]) == 300
    with Store(db_url) as store:
        assert plain.content == author_files(store, BIG, now=now())["gs_data.json"]
    async with client.stream("GET", url, headers={"Accept-Encoding": "gzip, deflate"}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) == len(raw) < len(plain.content) / 3
    assert gzip.decompress(raw) == plain.content
    assert r.headers["etag"] != plain.headers["etag"]  # a strong tag per representation
    refused = await client.get(url, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    small = await client.get(f"/authors/{BIG}/shields/citations.json",
                             headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers  # too small to be worth it


async def test_cors_on_public_gets(client: httpx.AsyncClient) -> None:
    for url in (f"/authors/{FRESH}/gs_data.json", f"/authors/{FRESH}/badges/citations.svg",
                f"/authors/{UNTRACKED}/gs_data.json"):
        r = await client.get(url, headers={"Origin": "https://someone.github.io"})
        assert r.headers["access-control-allow-origin"] == "*"


async def test_admin_routes_need_the_right_token(client: httpx.AsyncClient) -> None:
    new = "NEWAUTHOR123"
    body = {"ids": [new]}
    assert (await client.post("/authors", json=body)).status_code == 401
    wrong = await client.post("/authors", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    prefix = await client.post("/authors", json=body, headers={"Authorization": f"Bearer {TOKEN}x"})
    assert prefix.status_code == 401
    basic = await client.post("/authors", json=body, headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    assert (await client.get(f"/authors/{new}/badges/citations.svg")).status_code == 404
    auth = {"Authorization": f"Bearer {TOKEN}"}
    ok = await client.post("/authors", json=body, headers=auth)
    assert ok.status_code == 200 and ok.json() == {"added": [new], "tracked": [new]}
    pending = await client.get(f"/authors/{new}/badges/citations.svg")
    assert pending.status_code == 404 and b"no data yet" in pending.content  # tracked, not fetched
    bad = await client.post("/authors", json={"ids": ["bad id"]}, headers=auth)
    assert bad.status_code == 422 and "not a Google Scholar id" in bad.json()["detail"]
    assert (await client.delete(f"/authors/{FRESH}")).status_code == 401
    bad_token = {"Authorization": "Bearer x"}
    assert (await client.delete(f"/authors/{FRESH}", headers=bad_token)).status_code == 401
    gone = await client.delete(f"/authors/{FRESH}", headers=auth)
    assert gone.status_code == 200
    after = await client.get(f"/authors/{FRESH}/gs_data.json")
    assert after.status_code == 404 and after.json() == {"error": "not tracked"}
    assert (await client.delete(f"/authors/{FRESH}", headers=auth)).status_code == 404
    assert (await client.post(f"/authors/{UNTRACKED}/refresh", headers=auth)).status_code == 404
    assert (await client.post(f"/authors/{STALE}/refresh")).status_code == 401


async def test_requests_metric_counts_the_paths_asked_for_most(
    client: httpx.AsyncClient,
) -> None:
    """The 200s of the paths asked for most (the files every entry keeps, the metrics' badges)
    are counted apart from the rest, on the fast path; the metric shows them added up by route,
    beside their 304s."""
    first = await client.get(f"/authors/{FRESH}/shields/h-index.json")
    await client.get(f"/authors/{FRESH}/gs_data_shieldsio.json")
    await client.head(f"/authors/{FRESH}/shields/citations.json")
    for _ in range(2):
        assert (await client.get(f"/authors/{FRESH}/badges/h-index.svg")).status_code == 200
    again = await client.get(f"/authors/{FRESH}/shields/h-index.json",
                             headers={"If-None-Match": first.headers["etag"]})
    assert first.status_code == 200 and again.status_code == 304
    metrics = (await client.get("/metrics")).text
    assert 'scholar_stats_http_requests_total{route="endpoint_json",status="200"} 3.0' in metrics
    assert 'scholar_stats_http_requests_total{route="endpoint_json",status="304"} 1.0' in metrics
    assert 'scholar_stats_http_requests_total{route="badge_svg",status="200"} 2.0' in metrics
    assert 'route="gs_data.json"' not in metrics  # no zero counts for routes never asked


async def test_admin_routes_absent_without_token(db_url: str) -> None:
    async with client_for(make_app(db_url, admin_token=None)) as c:
        assert (await c.post("/authors", json={"ids": [FRESH]})).status_code in (404, 405)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        added = await c.post("/authors", json={"ids": [FRESH]}, headers=auth)
        assert added.status_code in (404, 405)
        assert (await c.delete(f"/authors/{FRESH}", headers=auth)).status_code in (404, 405)
        assert (await c.post(f"/authors/{FRESH}/refresh", headers=auth)).status_code in (404, 405)
        paths = (await c.get("/openapi.json")).json()["paths"]
        assert "/authors" not in paths and "/authors/{scholar_id}/refresh" not in paths
        assert (await c.get(f"/authors/{FRESH}/gs_data.json")).status_code == 200


async def test_healthz_and_metrics(client: httpx.AsyncClient, db_url: str) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["database"] == "ok" and body["scheduler"] == "disabled"
    with Store(db_url) as store:
        newest = max(a.last_success for a in store.list_authors() if a.last_success)
    assert body["authors"] == 4 and body["stale_authors"] == 2
    assert body["last_success"] == newest.isoformat()
    wait_prepared(client._transport.app.state.service)  # type: ignore[attr-defined]
    assert (await client.get("/healthz")).json()["last_success"] == newest.isoformat()
    await client.get(f"/authors/{FRESH}/gs_data.json")
    await client.get(f"/authors/{UNTRACKED}/gs_data.json")
    metrics = (await client.get("/metrics")).text
    assert 'scholar_stats_http_requests_total{route="gs_data.json",status="200"} 1.0' in metrics
    assert 'scholar_stats_http_requests_total{route="gs_data.json",status="404"} 1.0' in metrics
    assert "scholar_stats_oldest_data_age_seconds" in metrics
    age = next(float(line.split()[1]) for line in metrics.splitlines()
               if line.startswith("scholar_stats_oldest_data_age_seconds "))
    assert age > 365 * 86400  # the stale author was fetched in 2020
    assert "scholar_stats_authors 4.0" in metrics


async def test_healthz_reports_a_broken_database(db_url: str, tmp_path: Path) -> None:
    app = make_app(db_url)
    async with client_for(app) as c:
        service = app.state.service
        assert (await c.get(f"/authors/{FRESH}/gs_data.json")).status_code == 200  # prepared
        service.store.engine.dispose()
        service.store.engine.url  # noqa: B018 - still the same engine object
        import sqlalchemy as sa

        service.store.engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
        r = await c.get("/healthz")
        assert r.status_code == 503 and r.json()["database"].startswith("error")
        # public answers do not need the database at all
        assert (await c.get(f"/authors/{FRESH}/gs_data.json")).status_code == 200


async def test_an_author_not_prepared_when_the_database_goes_away(
    db_url: str, tmp_path: Path
) -> None:
    """Authors are prepared when first asked for (or by the warm-up, kept from running here):
    one not prepared when the database goes away gets a 503 (an error badge on badge paths),
    and its answers once the database is back."""
    app = make_app(db_url)
    service = app.state.service
    service.warm_up = lambda: None
    async with client_for(app) as c:
        assert FRESH in service.snapshot.unprepared and STALE in service.snapshot.unprepared
        assert (await c.get("/healthz")).json()["authors"] == 4
        assert (await c.get(f"/authors/{STALE}/status.json")).status_code == 200
        assert STALE in service.snapshot.authors and FRESH not in service.snapshot.authors
        import sqlalchemy as sa

        working = service.store.engine
        service.store.engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
        r = await c.get(f"/authors/{FRESH}/gs_data.json")
        assert r.status_code == 503 and "database" in r.json()["error"]
        badge = await c.get(f"/authors/{FRESH}/badges/citations.svg")
        assert badge.status_code == 503 and badge.headers["content-type"] == "image/svg+xml"
        endpoint = await c.get(f"/authors/{FRESH}/shields/citations.json")
        assert endpoint.status_code == 200 and endpoint.json()["isError"] is True  # shields
        assert (await c.get(f"/authors/{FRESH}/")).status_code == 503
        assert (await c.get(f"/authors/{STALE}/gs_data.json")).status_code == 200  # in memory
        service.store.engine = working
        r = await c.get(f"/authors/{FRESH}/gs_data.json")
        assert r.status_code == 200 and r.json()["scholar_id"] == FRESH


async def test_refresh_landing_swaps_the_author(client: httpx.AsyncClient, db_url: str) -> None:
    app_service = client._transport.app.state.service  # type: ignore[attr-defined]
    before = await client.get(f"/authors/{FRESH}/shields/citations.json")
    outcome = success(FRESH, {"P00000000000": 5000}, later())
    with Store(db_url) as other_process:
        record_outcome(other_process, outcome, later())
    # not yet seen: public requests never read the database
    assert (await client.get(f"/authors/{FRESH}/shields/citations.json")).content == before.content
    app_service.on_result(outcome)
    after = await client.get(f"/authors/{FRESH}/shields/citations.json")
    assert after.json()["message"] == "5000" and after.headers["etag"] != before.headers["etag"]
    badge = await client.get(f"/authors/{FRESH}/badges/citations.svg")
    assert b">5000<" in badge.content
    metrics = (await client.get("/metrics")).text
    assert 'scholar_stats_fetch_outcomes_total{outcome="ok"} 1.0' in metrics


async def test_changes_files_follow_the_refreshes(
    client: httpx.AsyncClient, db_url: str
) -> None:
    """/authors/{id}/changes.json and changes.xml: export's bytes, through the snapshot with
    the data's caching headers, updated when a refresh that changed something lands."""
    import feedparser

    first = await client.get(f"/authors/{FRESH}/changes.json")
    assert first.status_code == 200 and first.json()["events"] == []
    assert first.headers["cache-control"] == "public, max-age=3600" and first.headers["etag"]
    outcome = success(FRESH, {**pubs(12), "P00000000000": 50}, later(),
                      updated=later().isoformat())
    with Store(db_url) as other_process:
        recorded = record_outcome(other_process, outcome, later())
    assert recorded.events
    client._transport.app.state.service.on_result(recorded)  # type: ignore[attr-defined]
    log = (await client.get(f"/authors/{FRESH}/changes.json")).json()
    assert [e["kind"] for e in log["events"]][-1] == "paper_citations"
    assert log["events"][-1]["pub_id"] == f"{FRESH}:P00000000000" and log["events"][-1]["new"] == 50
    feed = await client.get(f"/authors/{FRESH}/changes.xml")
    assert feed.headers["content-type"] == "application/atom+xml"
    assert feed.headers["cache-control"] == "public, max-age=3600"
    parsed = feedparser.parse(feed.content)
    assert not parsed.bozo and len(parsed.entries) == 1
    again = await client.get(f"/authors/{FRESH}/changes.xml",
                             headers={"if-none-match": feed.headers["etag"]})
    assert again.status_code == 304
    assert (await client.get("/authors/AAAAAAAAAAAA/changes.json")).status_code == 404


async def test_poll_picks_up_other_processes(client: httpx.AsyncClient, db_url: str) -> None:
    service = client._transport.app.state.service  # type: ignore[attr-defined]
    with Store(db_url) as other_process:
        record_outcome(other_process, success(STALE, {"P00000000000": 777}, later()), later())
        other_process.remove_author(BIG)
        other_process.add_authors(["ADDEDLATER12"], 86400, now())
    assert service.sync() == 2  # STALE changed, ADDEDLATER12 is new; BIG dropped
    assert (await client.get(f"/authors/{STALE}/shields/citations.json")).json()["message"] == "777"
    assert (await client.get(f"/authors/{STALE}/status.json")).json()["stale"] is False
    assert (await client.get(f"/authors/{BIG}/gs_data.json")).status_code == 404
    assert (await client.get("/authors/ADDEDLATER12/status.json")).status_code == 404
    assert (await client.get("/authors/ADDEDLATER12/badges/citations.svg")).status_code == 404
    assert service.sync() == 0  # nothing changed: nothing rebuilt


async def test_an_idle_poll_does_not_list_the_authors(
    client: httpx.AsyncClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ten thousand authors, listing them every poll showed up as latency spikes."""
    service = client._transport.app.state.service  # type: ignore[attr-defined]
    listings: list[int] = []
    original = service.store.list_authors
    monkeypatch.setattr(service.store, "list_authors",
                        lambda: listings.append(1) or original())
    assert service.sync() == 0 and listings == []
    with Store(db_url) as other_process:
        record_outcome(other_process, success(STALE, {"P00000000000": 778}, later()), later())
    assert service.sync() == 1 and listings == []  # only the attempted author was read
    assert (await client.get(f"/authors/{STALE}/shields/citations.json")).json()["message"] == "778"
    assert service.sync() == 0 and listings == []
    with Store(db_url) as other_process:
        other_process.remove_author(STALE)
    assert service.sync() == 0 and listings == [1]  # a removal needs the whole list
    assert (await client.get(f"/authors/{STALE}/status.json")).status_code == 404


async def test_an_entry_is_rebuilt_when_its_data_turns_stale_then_hourly(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is recorded, yet the answers change with age: the badge turns grey when the data
    turns stale, and an entry of stale data (whose status.json names its age) is rebuilt
    hourly; each poll in between rebuilds nothing."""
    service = client._transport.app.state.service  # type: ignore[attr-defined]
    wait_prepared(service)
    grey = 'fill="#9f9f9f"'
    assert grey not in (await client.get(f"/authors/{FRESH}/badges/citations.svg")).text
    start = datetime.now(timezone.utc)
    moment = [start]

    class Clock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Clock:
            return moment[0]  # type: ignore[return-value]

    monkeypatch.setattr(mirror, "datetime", Clock)

    def sync_at(later: timedelta) -> int:
        moment[0] = start + later
        return int(service.sync())

    hour, minute = timedelta(hours=1), timedelta(minutes=1)
    stale_age = timedelta(seconds=service.settings.stale_age)
    assert sync_at(30 * minute) == 0
    assert sync_at(hour + minute) == 2  # STALE and EMPTY: stale already
    assert sync_at(hour + 30 * minute) == 0
    assert sync_at(stale_age + minute) == 4  # FRESH and BIG turn stale
    assert grey in (await client.get(f"/authors/{FRESH}/badges/citations.svg")).text
    assert sync_at(stale_age + 30 * minute) == 0
    assert sync_at(stale_age + hour + 2 * minute) == 4


async def test_the_poll_freezes_no_garbage_cycle(
    client: httpx.AsyncClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll keeps the entries it rebuilt out of the collector's scans (``gc.freeze``); a
    garbage cycle its reads left (SQLAlchemy's statements make some) must be freed first, or
    every refresh would leave memory behind for good."""
    service = client._transport.app.state.service  # type: ignore[attr-defined]
    await client.get(f"/authors/{STALE}/status.json")  # prepared: the poll rebuilds it
    left: list[weakref.ref[object]] = []
    original = service.build

    def build(*args: object, **kwargs: object) -> object:
        left.append(weakref.ref(GarbageCycle()))  # unreachable once made: a garbage cycle
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "build", build)
    with Store(db_url) as other_process:
        record_outcome(other_process, success(STALE, {"P00000000000": 779}, later()), later())
    gc.disable()  # only the poll collects: no automatic pass may free them first
    try:
        assert service.sync() == 1
    finally:
        gc.enable()
    assert left and [ref for ref in left if ref() is not None] == []


async def test_admin_refresh_fetches_in_background(db_url: str, fake_scholar) -> None:
    import anyio

    fake_scholar.add_profile(STALE, pubs=30, citations=4321)
    app = make_app(db_url, admin_token=TOKEN)
    async with client_for(app) as c:
        r = await c.post(f"/authors/{STALE}/refresh", json={"force": True},
                         headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 202 and r.json() == {"queued": STALE}
        with anyio.fail_after(20):
            shields = f"/authors/{STALE}/shields/citations.json"
            while (await c.get(shields)).json()["message"] != "4321":
                await anyio.sleep(0.05)
        status = (await c.get(f"/authors/{STALE}/status.json")).json()
        assert status["outcome"] == "ok" and status["stale"] is False
    assert any(STALE in request for request in fake_scholar.requests)


def stepwise_records() -> list[dict[str, object]]:
    """Records to decode and encode: a profile with text JSON must escape, an empty one, and a
    group's (with members, merged papers and shared ids)."""
    tricky = gs_data(FRESH, pubs(40))
    tricky["name"] = 'Zoë "Q" \\ {x: [1, 2]}, \u2028 \U0001f600'
    for n, pub in enumerate(tricky["publications"].values()):
        pub["bib"]["title"] = f'{n}: "}}, {{" \\u0000 \t ü'
        pub["score"] = n / 7
        pub["flags"] = [True, None, {"deep": []}]
    empty = gs_data(EMPTY, {})
    other = gs_data(STALE, {"P00000000001": 4, "P00000000002": 9})
    totals = group_totals("lab", {sid: ProfileSnapshot.from_gs_data(record) for sid, record in
                                  ((FRESH, tricky), (STALE, other))})
    return [tricky, empty, group_record(totals)]


def test_the_stepwise_codec_gives_json_s_own_results() -> None:
    """A record is decoded a publication at a time and encoded a member at a time (so no call
    holds the interpreter long): the same values and bytes as ``json``'s one call."""
    for record in stepwise_records():
        body = dump_json(record)
        assert load_record(body) == json.loads(body) == record
        assert load_record(json.dumps(record, indent=2).encode()) == record
        assert dump_record(record) == body
