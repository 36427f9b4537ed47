"""The service against a stranger's load and a database that goes away, under a real uvicorn:
admin requests are authenticated from their headers and their bodies capped, badge queries and
the rendered-reply cache are bounded, and /metrics and the admin routes answer 503 (one log line
per change) while public answers continue from memory."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from support.service_helpers import (
    FRESH,
    STALE,
    TOKEN,
    UNTRACKED,
    LogRecords,
    TcpForwarder,
    fill_store,
    peak_rss_kib,
    running_serve,
    running_server,
    wait_prepared,
)
from support.store_helpers import PG_ENV, pg_schema_url
from support.waiting import wait_until

from scholar_stats.service.admin import ADMIN_BODY_LIMIT
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.service.snapshot import LRU, MAX_QUERY_BYTES, Reply, footprint

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BADGE = f"/authors/{FRESH}/badges/citations.svg"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    fill_store(url)
    return url


# a raw HTTP/1.1 client: a stranger need not send what httpx would


def read_response(stream: Any) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one response read from a socket's file."""
    status_line = stream.readline()
    if not status_line:
        raise ConnectionError("closed without an answer")
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def post_head(path: str, headers: Iterable[str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


# 10: the admin API reads before it authenticates


def test_a_strangers_120_mb_post_is_refused_unread(db_url: str, tmp_path: Path) -> None:
    """An unauthenticated 120 MB ``POST /authors``: 401 from the headers, the connection cut,
    the server's memory unchanged and public answers not held up meanwhile."""
    with running_serve(db_url, tmp_path, {"SCHOLAR_STATS_ADMIN_TOKEN": TOKEN}) as (base, proc), \
            httpx.Client(base_url=base) as public:
        for _ in range(50):
            assert public.get(BADGE).status_code == 200
        before = peak_rss_kib(proc.pid)
        total = 120 * 2**20
        result: dict[str, Any] = {"sent": 0}
        done = threading.Event()

        def stranger() -> None:
            item = b'"AAAAAAAAAAAA", '
            chunk = item * (2**20 // len(item))
            with socket.create_connection(("127.0.0.1", port_of(base))) as sock:
                try:
                    sock.sendall(post_head("/authors", ["Content-Type: application/json",
                                                        f"Content-Length: {total}"]))
                    sock.sendall(b'{"ids": [')
                    while result["sent"] < total - 2**20:
                        sock.sendall(chunk)
                        result["sent"] += len(chunk)
                except OSError as exc:
                    result["send_error"] = exc
                sock.settimeout(10)
                try:
                    result["status"] = read_response(sock.makefile("rb"))[0]
                except OSError as exc:
                    result["read_error"] = exc
            done.set()

        latencies: list[float] = []
        thread = threading.Thread(target=stranger)
        thread.start()
        while not done.is_set() or len(latencies) < 20:
            started = time.perf_counter()
            assert public.get(BADGE).status_code == 200
            latencies.append(time.perf_counter() - started)
        thread.join(30)
        growth_mib = (peak_rss_kib(proc.pid) - before) / 1024
    assert growth_mib < 30, f"the server's peak RSS grew by {growth_mib:.0f} MiB"
    assert max(latencies) < 0.5, f"a public answer took {max(latencies):.2f} s"  # docs: 0.5 s
    assert result["sent"] < 32 * 2**20, result  # the server stopped reading: sends failed
    assert result.get("status", 401) == 401, result
    assert TOKEN not in (tmp_path / "serve.log").read_text()


def test_the_token_is_checked_from_the_headers_alone(db_url: str) -> None:
    """Answered before the client sends a byte of the body it announced: 401 without the token,
    413 with it when the announced body is over the cap."""
    app = create_app(ServiceSettings(db_url=db_url, scheduler=False, poll_seconds=0,
                                     admin_token=TOKEN))
    with running_server(app) as base:
        cases = [
            ([], 401),
            (["Authorization: Bearer wrong"], 401),
            ([f"Authorization: Basic {TOKEN}"], 401),
            ([f"Authorization: Bearer {TOKEN}x"], 401),
            ([f"Authorization: Bearer {TOKEN}"], 413),
        ]
        for headers, expected in cases:
            length = 1000 if expected == 401 else ADMIN_BODY_LIMIT + 1
            with socket.create_connection(("127.0.0.1", port_of(base)), timeout=5) as sock:
                sock.sendall(post_head("/authors", [*headers, "Content-Type: application/json",
                                                    f"Content-Length: {length}"]))
                status, reply_headers, body = read_response(sock.makefile("rb"))  # no body sent
            assert status == expected, (headers, status, body)
            assert "detail" in json.loads(body)
            if expected == 401:
                assert reply_headers["www-authenticate"] == "Bearer"
        # and for every admin route, not only POST /authors
        for method, path in (("DELETE", f"/authors/{FRESH}"),
                             ("POST", f"/authors/{FRESH}/refresh")):
            with socket.create_connection(("127.0.0.1", port_of(base)), timeout=5) as sock:
                sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                             .encode())
                assert read_response(sock.makefile("rb"))[0] == 401


def test_admin_bodies_are_capped(db_url: str) -> None:
    """A chunked body is counted as it arrives (413 past the cap, before it ends); the largest
    legitimate body, 1000 ids pretty-printed, fits."""
    app = create_app(ServiceSettings(db_url=db_url, scheduler=False, poll_seconds=0,
                                     admin_token=TOKEN))
    with running_server(app) as base:
        with socket.create_connection(("127.0.0.1", port_of(base)), timeout=5) as sock:
            sock.sendall(post_head("/authors", [f"Authorization: Bearer {TOKEN}",
                                                "Content-Type: application/json",
                                                "Transfer-Encoding: chunked"]))
            piece = b" " * 4096
            for _ in range(ADMIN_BODY_LIMIT // len(piece) + 2):  # past the cap, never ended
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            status, headers, body = read_response(sock.makefile("rb"))
        assert status == 413 and str(ADMIN_BODY_LIMIT) in json.loads(body)["detail"]
        assert headers["connection"] == "close"

        ids = [f"A{i:011d}" for i in range(1000)]
        largest = json.dumps({"ids": ids, "interval_seconds": 86400}, indent=4).encode()
        assert len(largest) < ADMIN_BODY_LIMIT / 2  # the cap has a margin
        r = httpx.post(f"{base}/authors", content=largest, timeout=30,
                       headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code == 200 and len(r.json()["tracked"]) == 1000

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            yield b'{"ids": ['
            yield b'"NEWAUTHOR123"]}'

        r = httpx.post(f"{base}/authors", content=chunks(),
                       headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code == 200 and r.json()["tracked"] == ["NEWAUTHOR123"]
        # no data yet
        assert httpx.get(f"{base}/authors/NEWAUTHOR123/status.json").status_code == 404
        assert httpx.post(f"{base}/authors", json={"ids": []}, headers=AUTH).status_code == 422


# 10: badge query parameters and the rendered-reply cache


def test_strangers_badge_queries_keep_the_servers_memory_bounded(
    db_url: str, tmp_path: Path
) -> None:
    """3000 badges with distinct 60 kB colours (refused with 414, never kept), then 2000 with
    distinct labels at the length limit (drawn, kept within the cache's byte bound)."""
    cache_bytes = 2**20
    env = {"SCHOLAR_STATS_BADGE_CACHE_BYTES": str(cache_bytes)}
    with running_serve(db_url, tmp_path, env) as (base, proc):
        for _ in range(50):
            assert httpx.get(base + BADGE).status_code == 200
        before = peak_rss_kib(proc.pid)
        statuses: dict[int, int] = {}
        with socket.create_connection(("127.0.0.1", port_of(base)), timeout=10) as sock:
            stream = sock.makefile("rb")
            for i in range(3000):
                colour = f"{i:08d}" + "f" * 60000
                sock.sendall(f"GET {BADGE}?color={colour} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                status, headers, body = read_response(stream)
                statuses[status] = statuses.get(status, 0) + 1
        growth_mib = (peak_rss_kib(proc.pid) - before) / 1024
        assert growth_mib < 20, f"the server's peak RSS grew by {growth_mib:.0f} MiB"
        assert statuses == {414: 3000}
        assert headers["content-type"] == "image/svg+xml" and ET.fromstring(body) is not None
        with httpx.Client(base_url=base) as client:
            for i in range(2000):
                label = f"{i:06d}" + "x" * 250
                r = client.get(BADGE, params={"label": label, "color": "9cf"})
                assert r.status_code == 200
            metrics = client.get("/metrics").text
        growth_mib = (peak_rss_kib(proc.pid) - before) / 1024
    values = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
              if line.startswith("scholar_stats_reply_cache_")}
    assert 0 < values["scholar_stats_reply_cache_bytes"] <= cache_bytes, values
    assert 100 < values["scholar_stats_reply_cache_items"] < 2000, values  # evicted by bytes
    assert growth_mib < 20, f"the server's peak RSS grew by {growth_mib:.0f} MiB"


def test_badge_parameters_over_their_limits(db_url: str) -> None:
    app = create_app(ServiceSettings(db_url=db_url, scheduler=False, poll_seconds=0))
    with running_server(app) as base, httpx.Client(base_url=base) as client:
        at_limit = client.get(BADGE, params={"label": "x" * 256})
        assert at_limit.status_code == 200
        for name, value in (("label", "x" * 257), ("color", "f" * 33), ("labelColor", "f" * 33),
                            ("style", "flat" * 9)):
            r = client.get(BADGE, params={name: value})
            assert r.status_code == 400 and r.headers["content-type"] == "image/svg+xml", name
            texts = [t.text for t in ET.fromstring(r.content).iter("{http://www.w3.org/2000/svg}text")]
            assert any(name in (text or "") for text in texts), texts
        long_query = {"label": "ü" * (MAX_QUERY_BYTES // 6 + 1)}  # 6 bytes each, percent-encoded
        r = client.get(BADGE, params=long_query)
        assert r.status_code == 414 and r.headers["content-type"] == "image/svg+xml"
        r = client.get(f"/authors/{FRESH}/shields/citations.json", params=long_query)
        assert r.status_code == 200 and r.json()["isError"] is True  # shields reads 200s only
        r = client.get(f"/authors/{FRESH}/gs_data.json", params=long_query)
        too_long = f"query string longer than {MAX_QUERY_BYTES} bytes"
        assert r.status_code == 414 and r.json() == {"error": too_long}


def test_the_reply_cache_keeps_what_was_used_since_it_was_kept() -> None:
    """The oldest item, asked for again, outlives one newer that was not."""
    cache = LRU(size=3, max_bytes=10**9)
    for key in ("a", "b", "c"):
        cache.get_or_make((key,), lambda key=key: key)
    assert cache.get(("a",)) == "a"
    cache.get_or_make(("d",), lambda: "d")
    assert sorted(cache._items) == [("a",), ("c",), ("d",)]
    for key in ("e", "f"):  # "a" is not asked for again: it goes in its turn
        cache.get_or_make((key,), lambda key=key: key)
    assert sorted(cache._items) == [("d",), ("e",), ("f",)]
    assert len(cache) == 3 and cache.bytes == sum(cache._costs.values())


def test_the_reply_cache_is_bounded_in_items_and_bytes() -> None:
    def reply(size: int) -> Reply:
        return Reply(200, b"x" * size, b"image/svg+xml", b'"etag"', None, b"no-cache")

    one = footprint(("badge", "k000")) + footprint(reply(1000))
    cache = LRU(size=100, max_bytes=10 * one)
    for i in range(50):
        cache.get_or_make(("badge", f"k{i:03d}"), lambda: reply(1000))
    assert len(cache) == 10 and cache.bytes == 10 * one  # bytes bound first
    cache.get_or_make(("badge", "k049"), lambda: pytest.fail("a hit must not render"))
    cache.get_or_make(("badge", "k050"), lambda: reply(1000))
    assert ("badge", "k049") in cache._items and ("badge", "k040") not in cache._items
    huge = cache.get_or_make(("badge", "huge"), lambda: reply(20 * one))
    # answered, not kept
    assert len(huge.body) == 20 * one and ("badge", "huge") not in cache._items
    assert len(cache) == 10 and cache.bytes == 10 * one
    small = LRU(size=3, max_bytes=10**9)
    for i in range(10):
        small.get_or_make(("k", i), lambda: reply(10))
    assert len(small) == 3 and small.bytes == sum(footprint(("k", i)) + footprint(reply(10))
                                                  for i in range(7, 10))
    # a parsed profile (dicts of strings and numbers) counts what it holds
    profile = ({f"P{i:011d}": i for i in range(300)}, {"2024": 1}, "Zoë")
    assert footprint(profile) > 300 * (sys.getsizeof("P00000000000") + sys.getsizeof(300))


# 12: the database goes away under serve


# the routes that need the database (public ones never do)
DATABASE_ROUTES = [
    ("GET", "/metrics", None),
    ("POST", "/authors", {"ids": [UNTRACKED]}),
    ("DELETE", f"/authors/{STALE}", None),
    ("POST", f"/authors/{STALE}/refresh", None),
]


def _database_lines(lines: list[str]) -> tuple[int, int]:
    gone = sum("database cannot be reached" in line for line in lines)
    back = sum("database can be reached again" in line for line in lines)
    return gone, back


def test_the_database_going_away_and_coming_back(tmp_path: Path) -> None:
    """A real PostgreSQL behind a forwarder that the test takes down: public answers continue
    from memory, /healthz says degraded, /metrics and the admin routes answer 503 with a JSON
    body, and the log has one line when it goes and one when it is back, whatever the polls."""
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set")
    password = "db-pass-9f8e7d"
    with pg_schema_url() as direct:
        fill_store(direct)
        upstream = sa.make_url(direct)
        forwarder = TcpForwarder((upstream.host or "127.0.0.1", upstream.port or 5432))
        url = upstream.set(port=forwarder.port, password=password).render_as_string(
            hide_password=False)
        app = create_app(ServiceSettings(db_url=url, scheduler=False, poll_seconds=0.1,
                                         admin_token=TOKEN))
        bodies: list[str] = []
        try:
            with LogRecords() as logs, running_server(app) as base, \
                    httpx.Client(base_url=base, timeout=20) as client:
                public = {path: client.get(f"/authors/{FRESH}/{path}").content
                          for path in ("gs_data.json", "badges/citations.svg", "status.json")}
                assert client.get("/healthz").json()["status"] == "ok"

                forwarder.go_down()
                wait_until(lambda: forwarder.refused >= 10,  # ten polls at least have failed
                           "the service went on polling the database that is gone")
                for path, content in public.items():
                    r = client.get(f"/authors/{FRESH}/{path}")
                    assert r.status_code == 200 and r.content == content, path
                for _ in range(3):
                    health = client.get("/healthz")
                    assert health.status_code == 503 and health.json()["status"] == "degraded"
                    assert health.json()["authors"] == 4
                    bodies.append(health.text)
                for method, path, body in DATABASE_ROUTES:
                    r = client.request(method, path, json=body, headers=AUTH)
                    assert r.status_code == 503, (method, path, r.status_code, r.text)
                    assert r.headers["content-type"] == "application/json"
                    assert "database" in r.json()["detail"]
                    bodies.append(r.text)
                assert client.post("/authors", json={"ids": [UNTRACKED]}).status_code == 401
                assert _database_lines(logs.lines()) == (1, 0), logs.lines()

                forwarder.come_back()
                wait_until(lambda: client.get("/healthz").status_code == 200,
                           "the service saw the database back")
                assert client.get("/metrics").status_code == 200
                added = client.post("/authors", json={"ids": [UNTRACKED]}, headers=AUTH)
                assert added.status_code == 200 and added.json()["added"] == [UNTRACKED]
                # tracked, no data
                assert client.get(f"/authors/{UNTRACKED}/status.json").status_code == 404
                lines = logs.lines()
        finally:
            forwarder.close()
    assert _database_lines(lines) == (1, 1), lines
    assert not any(record.exc_info for record in logs.records), lines
    assert not any("Traceback" in line or "Exception in ASGI" in line for line in lines), lines
    assert not any(password in text or TOKEN in text for text in lines + bodies)


def test_a_broken_database_gives_503s_not_500s(db_url: str, tmp_path: Path) -> None:
    """The same answers with SQLite, and with the scheduler in another process (whose state
    /healthz reads from the store)."""
    for elsewhere in (False, True):
        app = create_app(ServiceSettings(db_url=db_url, scheduler=False, poll_seconds=0,
                                         admin_token=TOKEN, scheduler_elsewhere=elsewhere))
        with LogRecords() as logs, running_server(app) as base, \
                httpx.Client(base_url=base) as client:
            service = app.state.service
            wait_prepared(service)  # answered from memory below
            working = service.store.engine
            service.store.engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json()["status"] == "degraded"
            assert "unknown" in health.json()["scheduler"] or not elsewhere
            for method, path, body in DATABASE_ROUTES:
                r = client.request(method, path, json=body, headers=AUTH)
                assert r.status_code == 503, (method, path, r.status_code, r.text)
                assert "database" in r.json()["detail"]
            assert client.get(f"/authors/{FRESH}/gs_data.json").status_code == 200
            service.store.engine.dispose()
            service.store.engine = working
            assert client.get("/healthz").status_code == 200
            assert client.get("/metrics").status_code == 200
        assert _database_lines(logs.lines()) == (1, 1), logs.lines()
        assert not any(record.exc_info for record in logs.records), logs.lines()


def test_a_flood_of_health_and_metrics_requests_queries_the_store_one_at_a_time(
    db_url: str
) -> None:
    """/healthz and /metrics read the store; 40 of each at once share the reads under way."""
    app = create_app(ServiceSettings(db_url=db_url, scheduler=False, poll_seconds=0))
    with running_server(app) as base:
        store = app.state.service.store
        calls: dict[str, int] = {"schema_version": 0, "outcomes_since": 0}
        under_way = [0, 0]  # now, at most

        def slowed(name: str) -> Any:
            real = getattr(store, name)

            def read(*args: Any) -> Any:
                calls[name] += 1
                under_way[0] += 1
                under_way[1] = max(under_way)
                time.sleep(0.2)  # a slow database
                under_way[0] -= 1
                return real(*args)

            return read

        for name in calls:
            setattr(store, name, slowed(name))

        async def flood() -> list[int]:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                replies = await asyncio.gather(*(client.get(path) for _ in range(40)
                                                 for path in ("/healthz", "/metrics")))
            return [r.status_code for r in replies]

        statuses = asyncio.run(flood())
    assert statuses == [200] * 80
    assert calls["schema_version"] <= 3 and calls["outcomes_since"] <= 3, calls
    assert under_way[1] <= 2, under_way  # one health check and one scrape at a time
