"""Helpers for service tests: a store with authors, an in-process client, a real uvicorn (in a
thread, or ``serve`` as a process), a TCP forwarder to take a database away, log capture."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import resource
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from scholar_stats.refresh.record import record_outcome
from scholar_stats.service.app import served
from scholar_stats.service.server import uvicorn_config
from scholar_stats.store.database import Store
from support.paths import ROOT
from support.store_helpers import success
from support.waiting import wait_until

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
        record_outcome(store, success(FRESH, pubs(12), t), t)
        old = datetime(2020, 1, 1, tzinfo=timezone.utc)
        record_outcome(store, success(STALE, pubs(5), old), old)
        record_outcome(store, success(BIG, pubs(300), t), t)


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client, with the app's startup and shutdown run around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def wait_prepared(service: Any) -> None:
    """Until the service's warm-up has prepared every author (answers from memory alone)."""
    wait_until(lambda: not service.snapshot.unprepared, "every author prepared", timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """A real uvicorn on a free loopback port, in a thread, configured as ``serve`` runs it
    (its protocol, the fast path in front); yields its base URL."""
    port = free_port()
    config = uvicorn_config(served(app), host="127.0.0.1", port=port, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "uvicorn started", timeout=20)
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def running_serve(
    db_url: str, cwd: Path, env: dict[str, str] | None = None, *, open_files: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``scholar-stats serve --no-scheduler`` as a real process on a free loopback port (so its
    memory can be read apart from the test's); yields its base URL and the process. Its stderr
    goes to ``cwd/serve.log``. ``open_files``: its limit of open files (``ulimit -n``)."""

    def limit() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with open(cwd / "serve.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scholar_stats", "serve", "--port", str(port), "--db", db_url,
             "--no-scheduler"], env=full_env, stdout=log, stderr=log, cwd=cwd,
            preexec_fn=limit,
        )
        try:
            def up() -> bool:
                assert proc.poll() is None, (cwd / "serve.log").read_text()
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    return True
                except httpx.TransportError:
                    return False

            wait_until(up, "serve came up")
            yield base, proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:  # still busy with what the test sent it
                proc.kill()
                proc.wait(20)


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM, KiB)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]


class TcpForwarder:
    """A loopback TCP forwarder to ``target`` that a test takes down and brings back.

    Down, it cuts every open connection and closes new ones as soon as they are accepted (what
    a client sees of a database server that went away), counting them in ``refused``.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.refused = 0
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def go_down(self) -> None:
        with self._lock:
            self._up = False
            for sock in self._open:
                _cut(sock)
            self._open.clear()

    def come_back(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.go_down()
        _cut(self.listener)
        self._thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._up:
                    self.refused += 1
                    _cut(client)
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    _cut(client)
                    continue
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                for sock in (source, sink):
                    self._open.discard(sock)
                    _cut(sock)


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class LogRecords(logging.Handler):
    """Every log record at WARNING and above, from the root logger and uvicorn's (which does not
    propagate), while installed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return [formatter.format(record) for record in self.records]

    def __enter__(self) -> LogRecords:
        for name in ("", "uvicorn"):
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in ("", "uvicorn"):
            logging.getLogger(name).removeHandler(self)


class GarbageCycle:
    """Garbage that only the cyclic collector frees, as SQLAlchemy's statements are: what a
    build may leave for ``gc.freeze`` to keep for good if it is not collected first."""

    def __init__(self) -> None:
        self.me = self
