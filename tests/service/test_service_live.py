"""The service behind a real uvicorn on a free loopback port: HTTP on the wire, snapshot swaps
under concurrent load, the scheduler in the same process, ``serve`` itself, and a schemathesis
fuzz pass over the OpenAPI schema."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from support.paths import ROOT
from support.service_helpers import (
    EMPTY,
    FRESH,
    TOKEN,
    UNTRACKED,
    fill_store,
    free_port,
    now,
    running_server,
)
from support.store_helpers import success
from support.waiting import wait_until

from scholar_stats.refresh.record import record_outcome
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.service.snapshot import Reply, Snapshot, resolve
from scholar_stats.store.database import Store


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    fill_store(url)
    return url


def test_real_server_http(db_url: str) -> None:
    app = create_app(ServiceSettings(db_url=db_url, scheduler=False, poll_seconds=0))
    with running_server(app) as base, httpx.Client(base_url=base) as client:
        r = client.get(f"/authors/{FRESH}/gs_data.json", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.json()["scholar_id"] == FRESH
        assert r.headers["content-encoding"] == "gzip"
        head = client.head(f"/authors/{FRESH}/gs_data.json", headers={"Accept-Encoding": "gzip"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == r.headers["content-length"]
        not_modified = client.get(f"/authors/{FRESH}/gs_data.json",
                                  headers={"If-None-Match": r.headers["etag"],
                                           "Accept-Encoding": "gzip"})
        assert not_modified.status_code == 304
        with client.stream("GET", f"/authors/{FRESH}/gs_data.json",
                           headers={"Accept-Encoding": "gzip"}) as stream:
            raw = b"".join(stream.iter_raw())
        assert len(raw) == int(r.headers["content-length"])
        assert gzip.decompress(raw) == r.content
        assert client.get(f"/authors/{UNTRACKED}/badges/citations.svg").status_code == 404
        assert client.get("/healthz").json()["database"] == "ok"


def test_swaps_under_load_never_mix(db_url: str) -> None:
    """Threads hammer three paths while the author's entry flips between two complete
    versions; every answer must be exactly one of them, never empty or mixed."""
    app = create_app(ServiceSettings(db_url=db_url, scheduler=False, poll_seconds=0))
    paths = ["gs_data.json", "shields/citations.json", "badges/citations.svg"]
    with running_server(app) as base:
        service = app.state.service
        entry_a = service.build(FRESH)
        t = now() + timedelta(seconds=5)
        with Store(db_url) as store:
            record_outcome(store, success(FRESH, {f"X{i:011d}": 1000 + i for i in range(40)}, t), t)
        entry_b = service.build(FRESH)
        assert entry_a is not None and entry_b is not None and entry_a.version != entry_b.version
        expected: dict[str, dict[bytes, str]] = {}
        for path in paths:
            for name, entry in (("a", entry_a), ("b", entry_b)):
                reply = resolve(Snapshot(3600, {FRESH: entry}), FRESH, path, {})
                made = reply if isinstance(reply, Reply) else reply.make()  # the render thread's
                expected.setdefault(path, {})[made.body] = name
            assert len(expected[path]) == 2
        seen: dict[str, set[str]] = {path: set() for path in paths}
        errors: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=base, headers={"Accept-Encoding": "identity"}) as client:
                while not stop.is_set():
                    for path in paths:
                        r = client.get(f"/authors/{FRESH}/{path}")
                        version = expected[path].get(r.content)
                        if r.status_code != 200 or version is None:
                            errors.append(f"{path}: {r.status_code} {r.content[:80]!r}")
                        else:
                            seen[path].add(version)

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for worker in workers:
            worker.start()
        swaps = 0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            service.snapshot.update({FRESH: entry_a if swaps % 2 else entry_b})
            swaps += 1
            time.sleep(0.001)
        stop.set()
        for worker in workers:
            worker.join(10)
    assert not errors, errors[:5]
    assert swaps > 100
    assert all(versions == {"a", "b"} for versions in seen.values()), seen


def test_scheduler_runs_in_the_same_process(tmp_path: Path, fake_scholar) -> None:
    url = f"sqlite:///{tmp_path / 'sched.db'}"
    with Store(url) as store:
        store.add_authors([EMPTY], 86400, now())
    fake_scholar.add_profile(EMPTY, pubs=25, citations=2468)
    app = create_app(ServiceSettings(db_url=url, scheduler=True, poll_seconds=0))
    with running_server(app) as base, httpx.Client(base_url=base) as client:
        wait_until(lambda: "isError" not in client.get(  # "no data yet" is a 200 too
                   f"/authors/{EMPTY}/shields/citations.json").json(),
                   "the scheduler landed a refresh")
        assert client.get(f"/authors/{EMPTY}/shields/citations.json").json()["message"] == "2468"
        assert client.get("/healthz").json()["scheduler"] == "running"
        assert 'scholar_stats_scholar_requests_total 1.0' in client.get("/metrics").text


def test_serve_command(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SCHOLAR_STATS_ADMIN_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholar_stats", "serve", "--port", str(port), "--db", db_url,
         "--no-scheduler"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    try:
        def up() -> bool:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return True
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1].decode()
                return False

        wait_until(up, "serve came up")
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert r.json()["scheduler"] == "disabled" and r.json()["authors"] == 4
        badge = httpx.get(f"http://127.0.0.1:{port}/authors/{FRESH}/badges/citations.svg")
        assert badge.status_code == 200 and badge.content.startswith(b"<svg")
        denied = httpx.post(f"http://127.0.0.1:{port}/authors", json={"ids": [FRESH]})
        assert denied.status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert TOKEN.encode() not in err


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_serve_with_workers(tmp_path: Path, fake_scholar) -> None:
    """``serve --workers 2``: two processes answer on one port, the scheduler runs once in the
    supervisor, and what it records, or an admin change made in one worker, reaches both."""
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    with Store(url) as store:
        store.add_authors([FRESH, EMPTY], 86400, now())
        earlier = now() - timedelta(hours=1)  # outside the scheduler's pacing after a fetch
        record_outcome(store, success(FRESH, {"P00000000001": 5}, earlier), earlier)
    fake_scholar.add_profile(EMPTY, pubs=25, citations=2468)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SCHOLAR_STATS_ADMIN_TOKEN": TOKEN, "PYTHONPATH": str(ROOT),
           "SCHOLAR_STATS_POLL_SECONDS": "0.2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholar_stats", "serve", "--port", str(port), "--db", url,
         "--workers", "2", "--delay", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )

    def answers(path: str, n: int = 20) -> list[httpx.Response]:
        """``n`` requests on fresh connections, so both workers take some."""
        return [httpx.get(base + path, timeout=5) for _ in range(n)]

    try:
        def up() -> bool:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, "serve --workers 2 came up")
        assert len(_children(proc.pid)) >= 2  # the workers (and multiprocessing's helper)
        health = httpx.get(f"{base}/healthz").json()
        assert health["scheduler"] == "running (in the supervisor process)"

        # the supervisor's scheduler fetches the new author; every worker then serves it
        endpoint = f"/authors/{EMPTY}/shields/citations.json"
        wait_until(lambda: "isError" not in httpx.get(base + endpoint).json(),  # shields' 200s
                   lambda: "the supervisor's scheduler landed a refresh (status: "
                   + httpx.get(f"{base}/authors/{EMPTY}/status.json").text + ")")
        time.sleep(0.5)  # two poll intervals: the other worker has caught up too
        assert {r.json()["message"] for r in answers(endpoint)} == {"2468"}
        assert len(fake_scholar.profile_requests()) == 1  # fetched once, not once per worker
        # a worker's metrics show what the supervisor did, read from the store
        metrics = httpx.get(f"{base}/metrics").text
        assert 'scholar_stats_store_fetch_outcomes_24h{outcome="ok"} 2.0' in metrics  # and FRESH's
        assert "scholar_stats_store_scholar_requests_1h 1.0" in metrics
        assert "scholar_stats_fetch_outcomes_total{" not in metrics  # this worker fetched nothing

        # an author added through one worker is tracked by all of them after a poll
        auth = {"Authorization": f"Bearer {TOKEN}"}
        added = httpx.post(f"{base}/authors", json={"ids": [UNTRACKED]}, headers=auth)
        assert added.status_code == 200
        time.sleep(0.5)
        badge = f"/authors/{UNTRACKED}/gs_data_shieldsio.json"
        assert {r.json()["message"] for r in answers(badge)} == {"no data yet"}

        # an admin refresh in a worker is handed to the supervisor's scheduler through the store
        with Store(url) as store:
            record_outcome(store, success(UNTRACKED, {"P00000000001": 1}, now()), now())
            assert store.get_author(UNTRACKED).next_due > now()  # type: ignore[union-attr]
        queued = httpx.post(f"{base}/authors/{UNTRACKED}/refresh", headers=auth)
        assert queued.status_code == 202
        with Store(url) as store:
            assert store.get_author(UNTRACKED).next_due <= now() + timedelta(seconds=1)  # type: ignore[union-attr]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert TOKEN.encode() not in err


def test_serve_with_workers_and_no_scheduler(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholar_stats", "serve", "--port", str(port), "--db", db_url,
         "--workers", "2", "--no-scheduler"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    try:
        def health() -> dict[str, object] | None:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            except httpx.TransportError:
                return None

        wait_until(lambda: health() is not None, "serve --workers 2 came up")
        assert [health()["scheduler"] for _ in range(6)] == ["disabled"] * 6  # type: ignore[index]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_fuzz_finds_no_server_errors(db_url: str, fake_scholar) -> None:
    """schemathesis generates requests for every operation in the OpenAPI schema (admin ones
    with and without the token); none may answer 5xx. Bounded: 25 examples per operation."""
    from hypothesis import given

    app = create_app(ServiceSettings(db_url=db_url, scheduler=False, poll_seconds=0,
                                     admin_token=TOKEN))
    with running_server(app) as base:
        api = schemathesis.openapi.from_url(f"{base}/openapi.json")
        operations = [result.ok() for result in api.get_all_operations()]
        assert len(operations) >= 12
        failures: list[str] = []
        statuses: set[int] = set()
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case: schemathesis.Case) -> None:
                for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
                    response = case.call(base_url=base, headers=headers, timeout=10)
                    statuses.add(response.status_code)
                    if response.status_code >= 500:
                        failures.append(
                            f"{case.method} {case.formatted_path}: {response.status_code}")

            run()
    assert not failures, failures[:10]
    assert {200, 400, 401, 404} <= statuses  # the fuzzer reached real answers, not only errors
