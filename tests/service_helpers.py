"""Helpers for service tests: a store with authors, an in-process client, a real uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone

import httpx
import uvicorn
from fastapi import FastAPI

from scholar_stats.store import Store
from store_helpers import success

FRESH = "FRESHAUTHOR1"
STALE = "STALEAUTHOR1"
BIG = "BIGAUTHOR300"
EMPTY = "EMPTYAUTHOR1"
UNTRACKED = "NOTTRACKED12"
TOKEN = "s3cret-token"


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def pubs(n: int, base: int = 3) -> dict[str, int]:
    return {f"P{i:011d}": (i * base) % 97 for i in range(n)}


def fill_store(url: str) -> None:
    """Four authors: fresh, stale (fetched 30 days ago), 300 publications, never fetched."""
    with Store(url) as store:
        t = now()
        store.add_authors([FRESH, STALE, BIG, EMPTY], 86400, t)
        store.record_outcome(success(FRESH, pubs(12), t), t)
        old = datetime(2020, 1, 1, tzinfo=timezone.utc)
        store.record_outcome(success(STALE, pubs(5), old), old)
        store.record_outcome(success(BIG, pubs(300), t), t)


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client, with the app's startup and shutdown run around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """A real uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
