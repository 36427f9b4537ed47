"""The service's HTTP protocol (``service/protocol.py``) against a real uvicorn on loopback, over
raw sockets: a remembered path is answered in the protocol with the bytes the ASGI cycle sends
for it (date aside), counted, in order behind a request still being answered, and never once
the authors changed; what it does not answer goes through ASGI as before."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from support.service_helpers import BIG, FRESH, fill_store, running_server, wait_prepared
from support.waiting import wait_until

from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.service import fastpath
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings

FILES = ["gs_data.json", "gs_data_shieldsio.json", "shields/h-index.json", "badges/citations.svg"]
ZIPPED = {"gs_data.json", "badges/citations.svg"}  # the replies with a gzip form
DATE = re.compile(rb"\r\ndate: [^\r]*\r\n")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setattr(fastpath, "_STARTS", {})  # no start kept by another test's answers
    url = f"sqlite:///{tmp_path / 'service.db'}"
    fill_store(url)
    return create_app(ServiceSettings(db_url=url, scheduler=False, poll_seconds=0))


@contextmanager
def served(app: FastAPI) -> Iterator[tuple[str, list[bytes]]]:
    """The app under a real uvicorn; yields its address and the paths the protocol answered
    (the fast path's ``wire`` noted where it returned an answer)."""
    fast = app.fast_path  # type: ignore[attr-defined]
    answered: list[bytes] = []
    wire = fast.wire

    def noting(url: bytes, method: bytes, headers: Any) -> Any:
        found = wire(url, method, headers)
        if found is not None:
            answered.append(url)
        return found

    fast.wire = noting
    with running_server(app) as base:
        wait_prepared(app.state.service)
        yield base.removeprefix("http://"), answered


def exchange(address: str, *requests: bytes, head: tuple[bool, ...] = ()) -> list[bytes]:
    """Send ``requests`` at once on one connection (pipelined); the answers, whole, in the
    order they came, with their date lines taken out. ``head``: which were HEAD requests."""
    with connected(address) as sock:
        sock.sendall(b"".join(requests))
        answers, rest = read_answers(sock, head or (False,) * len(requests))
        assert rest == b""
        return answers


def connected(address: str, receive_buffer: int | None = None) -> socket.socket:
    host, port = address.split(":")
    sock = socket.socket()
    sock.settimeout(10)
    if receive_buffer is not None:  # before connecting, so the window is that small too
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect((host, int(port)))
    return sock


def read_answers(sock: socket.socket, head: tuple[bool, ...]) -> tuple[list[bytes], bytes]:
    """As many answers as ``head`` has items (True: to a HEAD request), and what came after."""
    data, answers = b"", []
    for is_head in head:
        while b"\r\n\r\n" not in data:
            data += _read(sock)
        top, _, data = data.partition(b"\r\n\r\n")
        assert len(DATE.findall(top + b"\r\n")) == 1, top  # uvicorn's date, once
        length = re.search(rb"\r\ncontent-length: (\d+)", top)
        size = 0 if is_head or length is None else int(length.group(1))
        while len(data) < size:
            data += _read(sock)
        answers.append(DATE.sub(b"\r\n", top + b"\r\n\r\n") + data[:size])
        data = data[size:]
    return answers, data


def kernel_buffers() -> int:
    """The most a loopback connection's kernel buffers hold: the largest send buffer TCP grows
    to (Linux's ``tcp_wmem``), and a receive buffer of 64 KiB (doubled by the kernel)."""
    try:
        send = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except OSError:
        send = 4 * 2**20
    return send + 2 * 2**16


def _read(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    assert chunk, "the connection closed before the answer was whole"
    return chunk


def get(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "host: testserver", *headers, "", ""]
    return "\r\n".join(lines).encode()


def test_a_remembered_path_is_answered_in_the_protocol_with_the_same_bytes(app: FastAPI) -> None:
    """Each path and variant asked three times on new connections: the first through ASGI
    (which remembers the path and keeps the start), then in the protocol; all three the same
    bytes, date aside."""
    with served(app) as (address, answered):
        for file in FILES:
            path = f"/authors/{BIG}/{file}"
            for method, accept in [("GET", "identity"), ("GET", "gzip, deflate"),
                                   ("HEAD", "identity"), ("HEAD", "gzip")]:
                request = get(path, f"accept-encoding: {accept}", method=method)
                answers = [exchange(address, request, head=(method == "HEAD",))[0]
                           for _ in range(3)]
                assert answers[0].startswith(b"HTTP/1.1 200 OK\r\n"), answers[0]
                assert answers[1] == answers[0] and answers[2] == answers[0], (file, method)
                assert answered[-1] == path.encode(), (file, method, accept)
                if method == "GET":
                    gzipped = b"\r\ncontent-encoding: gzip\r\n" in answers[0]
                    assert gzipped == (accept != "identity" and file in ZIPPED), (file, accept)
        # through ASGI: the first GET of each path, and the first gzipped GET of each reply
        # with a gzip form (its start was not kept yet)
        assert len(answered) == len(FILES) * 4 * 3 - len(FILES) - len(ZIPPED)

        metrics = exchange(address, get("/metrics"))[0]
        assert b'scholar_stats_http_requests_total{route="gs_data.json",status="200"} 12.0' \
            in metrics


def test_requests_pipelined_behind_one_being_answered_keep_their_order(app: FastAPI) -> None:
    """The author page goes through FastAPI (a task that runs after the requests behind it
    were parsed): the remembered paths behind it wait for it, as uvicorn queues them."""
    with served(app) as (address, answered):
        badge = f"/authors/{FRESH}/badges/citations.svg"
        endpoint = f"/authors/{FRESH}/gs_data_shieldsio.json"
        alone = [exchange(address, get(p))[0] for p in (badge, endpoint, badge, endpoint)][2:]
        assert answered == [badge.encode(), endpoint.encode()]
        page, health = get(f"/authors/{FRESH}/"), get("/healthz")
        answers = exchange(address, get(badge), page, get(endpoint), health, get(badge),
                           get(endpoint))
        assert answers[0] == alone[0] and answers[2] == alone[1]
        assert answers[1].startswith(b"HTTP/1.1 200 OK\r\n") and b"<html" in answers[1]
        assert answers[3].startswith(b"HTTP/1.1 200 OK\r\n") and answers[4:] == alone
        assert answered[2:] == [badge.encode()]  # the first only: the rest waited for the page


@pytest.mark.parametrize("ask", [
    get(f"/authors/{BIG}/gs_data.json", "connection: close"),
    get(f"/authors/{BIG}/gs_data.json", version="1.0"),
    get(f"/authors/{BIG}/gs_data.json", "connection: keep-alive", version="1.0"),
    get(f"/authors/{BIG}/gs_data.json?x=1"),
    get(f"http://testserver/authors/{BIG}/gs_data.json"),
    get(f"/authors/{BIG}/gs%5Fdata.json"),
    get(f"/authors/{BIG}/gs_data.json", 'if-none-match: "nothing"'),
    get(f"/authors/{BIG}/gs_data.json", method="POST"),
])
def test_what_the_protocol_does_not_answer_goes_through_asgi(app: FastAPI, ask: bytes) -> None:
    with served(app) as (address, answered):
        kept = exchange(address, get(f"/authors/{BIG}/gs_data.json"))[0]
        assert exchange(address, get(f"/authors/{BIG}/gs_data.json"))[0] == kept
        assert len(answered) == 1
        through_asgi = exchange(address, ask)[0]
        assert len(answered) == 1
        if b"POST" in ask:
            assert through_asgi.startswith(b"HTTP/1.1 405 ")
        elif b"connection: close" in ask or b"HTTP/1.0" in ask:  # uvicorn closes after 1.0
            assert through_asgi == kept.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1)
        else:
            assert through_asgi == kept


def test_a_path_is_answered_from_the_new_entry_once_the_authors_changed(app: FastAPI) -> None:
    with served(app) as (address, answered):
        path = f"/authors/{FRESH}/shields/{METRIC_NAMES[0]}.json"
        before = [exchange(address, get(path))[0] for _ in range(2)]
        assert answered == [path.encode()] and before[0] == before[1]
        snapshot = app.state.service.snapshot
        entry = snapshot.authors[FRESH]
        other = snapshot.authors[BIG]
        snapshot.update({FRESH: other})  # the entry now answers with another author's numbers
        after = exchange(address, get(path))[0]
        assert answered == [path.encode()] and after != before[0]
        assert exchange(address, get(path))[0] == after and len(answered) == 2
        snapshot.update({FRESH: entry})
        assert exchange(address, get(path))[0] == before[0]


def test_a_client_that_does_not_read_is_not_answered_into_memory(app: FastAPI) -> None:
    """Requests pipelined by a client that reads nothing: once the connection's write buffer is
    full, the protocol leaves the next request to uvicorn's cycle, which waits for the client
    and stops reading; every answer still comes whole and in order when the client reads."""
    count = 2000
    with served(app) as (address, answered):
        path = f"/authors/{BIG}/gs_data.json"  # its identity body: 2,000 are over 50 MB
        alone = [exchange(address, get(path))[0] for _ in range(2)][1]
        assert len(answered) == 1
        with connected(address, receive_buffer=2**16) as sock:  # the kernel's part: bounded
            sender = threading.Thread(target=sock.sendall, args=(get(path) * count,), daemon=True)
            sender.start()
            last = [len(answered), time.monotonic()]

            def stalled() -> bool:  # answered nothing more for half a second
                if len(answered) != last[0]:
                    last[:] = [len(answered), time.monotonic()]
                return time.monotonic() - last[1] > 0.5

            wait_until(stalled, "the server stalled")
            # what the kernel holds (the server's send buffer, this socket's receive buffer),
            # the transport's buffer up to its high-water mark (64 KiB) and the answer that
            # crossed it, and no more (4.1 MB of 82 KB answers here; 164 MB unbounded)
            held = len(answered) * len(alone)
            bound = kernel_buffers() + 2**16 + 2 * len(alone)
            assert 1 < len(answered) < count and held < bound, (held, bound)
            answers, rest = read_answers(sock, (False,) * count)
            sender.join(10)
        assert rest == b"" and set(answers) == {alone}

