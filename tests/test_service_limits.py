"""The service against a stranger's load, under a real uvicorn: admin requests are
authenticated from their headers and their bodies capped."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scholar_stats.service import ADMIN_BODY_LIMIT, ServiceSettings, create_app
from service_helpers import FRESH, TOKEN, fill_store, peak_rss_kib, running_serve, running_server

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
    with running_serve(db_url, tmp_path, {"SCHOLAR_STATS_ADMIN_TOKEN": TOKEN}) as (base, proc):
        with httpx.Client(base_url=base) as public:
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
    assert max(latencies) < 0.5, f"a public answer took {max(latencies):.2f} s"
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
        for method, path in (("DELETE", f"/authors/{FRESH}"), ("POST", f"/authors/{FRESH}/refresh")):
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
        assert httpx.get(f"{base}/authors/NEWAUTHOR123/status.json").status_code == 404  # no data yet
        assert httpx.post(f"{base}/authors", json={"ids": []}, headers=AUTH).status_code == 422
