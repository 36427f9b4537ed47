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

from scholar_stats.service import ServiceSettings, create_app
from scholar_stats.snapshot import Snapshot, resolve
from scholar_stats.store import Store
from service_helpers import (
    EMPTY, FRESH, TOKEN, UNTRACKED, fill_store, free_port, now, running_server,
)
from store_helpers import success

ROOT = Path(__file__).resolve().parent.parent


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
                                  headers={"If-None-Match": r.headers["etag"], "Accept-Encoding": "gzip"})
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
            store.record_outcome(success(FRESH, {f"X{i:011d}": 1000 + i for i in range(40)}, t), t)
        entry_b = service.build(FRESH)
        assert entry_a is not None and entry_b is not None and entry_a.version != entry_b.version
        expected: dict[str, dict[bytes, str]] = {}
        for path in paths:
            for name, entry in (("a", entry_a), ("b", entry_b)):
                reply = resolve(Snapshot(3600, {FRESH: entry}), FRESH, path, {})
                expected.setdefault(path, {})[reply.body] = name
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


def test_scheduler_runs_in_the_same_process(tmp_path: Path, fake_scholar) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'sched.db'}"
    with Store(url) as store:
        store.add_authors([EMPTY], 86400, now())
    fake_scholar.add_profile(EMPTY, pubs=25, citations=2468)
    app = create_app(ServiceSettings(db_url=url, scheduler=True, poll_seconds=0))
    with running_server(app) as base, httpx.Client(base_url=base) as client:
        deadline = time.monotonic() + 30
        while client.get(f"/authors/{EMPTY}/shields/citations.json").status_code != 200:
            assert time.monotonic() < deadline, "the scheduler never landed a refresh"
            time.sleep(0.1)
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
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert r.json()["scheduler"] == "disabled" and r.json()["authors"] == 4
        badge = httpx.get(f"http://127.0.0.1:{port}/authors/{FRESH}/badges/citations.svg")
        assert badge.status_code == 200 and badge.content.startswith(b"<svg")
        denied = httpx.post(f"http://127.0.0.1:{port}/authors", json={"ids": [FRESH]})
        assert denied.status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert TOKEN.encode() not in err


def test_fuzz_finds_no_server_errors(db_url: str, fake_scholar) -> None:  # type: ignore[no-untyped-def]
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
                        failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

            run()
    assert not failures, failures[:10]
    assert {200, 400, 401, 404} <= statuses  # the fuzzer reached real answers, not only errors
