"""Throughput and latency of ``scholar-stats serve`` against nginx serving identical bytes.

In one run, on 127.0.0.1 only:

1. builds a SQLite store with N synthetic authors (default 10,000; each 20-40 publications, one
   with 300) through ``refresh.record.record_outcomes``, the path real fetches take;
2. for each worker count (``--workers``, default 1 and 2) starts ``scholar-stats serve
   --workers N --no-scheduler`` (uvicorn, uvloop + httptools, store poll every second), nginx
   with N worker processes serving the bytes the service sends, and a bare ASGI app under the
   same uvicorn with N workers sending them, headers included (the ceiling of an ASGI app;
   the service answers the paths it remembers in uvicorn's protocol, below ASGI);
3. drives all three with wrk (64 connections, one thread, a separate process), in turn, for:
   endpoint JSON, SVG badge, ``gs_data.json`` of the 300-publication author; prints requests/s,
   p99 and the ratios;
4. times the first answer (a badge's endpoint JSON of the last author in the store) from the
   moment the process starts, asks once for every author's endpoint JSON, SVG badge and
   ``gs_data.json``, and reads the service's resident memory (all its processes) after the run;
5. compares p99 while another process records a refresh of 100 authors (the service's poll
   rebuilds them under load) with the idle p99.

With ``--pg-url URL`` (a PostgreSQL database the script may create a schema in) the same is
measured with the store in PostgreSQL after SQLite.

Needs: wrk and nginx on PATH (apt-get install -y wrk nginx). Without nginx the ratios are
skipped; without wrk the script stops.

Usage: python benchmarks/serve.py [--authors 10000] [--duration 5] [--connections 64] [--repeat 3]
                                  [--workers 1,2] [--pg-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scholar_stats.core.model import AuthorData, FetchStatus
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.refresh.record import record_outcomes
from scholar_stats.store.database import Store

ROOT = Path(__file__).resolve().parents[1]
BIG = "BIGAUTHOR300"


def author_id(index: int) -> str:
    return f"SYN{index:09d}"


def synthetic(scholar_id: str, n_pubs: int, at: datetime, bump: int = 0) -> FetchOutcome:
    """A success shaped like scholarly's record (docs/architecture.md, "The gs_data.json
    record"), deterministic per id."""
    rng = random.Random(f"{scholar_id}{bump}")
    pubs = {}
    for i in range(n_pubs):
        key = f"{scholar_id}:{rng.getrandbits(48):012x}"[: len(scholar_id) + 13]
        cites = int(rng.paretovariate(1.2)) - 1 + bump
        pub: dict[str, Any] = {
            "container_type": "Publication", "source": "AUTHOR_PUBLICATION_ENTRY",
            "bib": {"title": f"On the synthetic study of topic {i} in large collections",
                    "pub_year": str(2000 + i % 25),
                    "citation": f"Journal of Examples {i % 40}, 2020"},
            "filled": False, "author_pub_id": key, "num_citations": cites,
        }
        if cites:
            pub["citedby_url"] = f"/scholar?oi=bibs&hl=en&cites={rng.getrandbits(60)}"
            pub["cites_id"] = [str(rng.getrandbits(60))]
        pubs[key] = pub
    total = sum(p["num_citations"] for p in pubs.values())
    gs = {
        "container_type": "Author", "filled": ["basics", "indices", "counts", "publications"],
        "scholar_id": scholar_id, "source": "AUTHOR_PROFILE_PAGE", "name": f"Author {scholar_id}",
        "url_picture": "https://scholar.googleusercontent.com/citations?view_op=view_photo",
        "affiliation": "University of Examples", "organization": 1234567890123456789,
        "interests": ["Bibliometrics", "Examples"], "email_domain": "@example.edu",
        "citedby": total, "citedby5y": total // 2, "hindex": min(n_pubs, 12), "hindex5y": 9,
        "i10index": min(n_pubs, 20), "i10index5y": 11,
        "cites_per_year": {str(y): (y - 2005) * 7 + bump for y in range(2010, 2027)},
        "publications": pubs, "updated": at.isoformat(sep=" "),
    }
    stamp = at.isoformat(timespec="seconds")
    status = FetchStatus(scholar_id, "ok", 0, f"{scholar_id}: ok", stamp, stamp, 1, 1.0, 2021)
    return FetchOutcome(scholar_id, AuthorData(scholar_id, gs, 2021), status, None)


def build_store(url: str, count: int) -> None:
    now = datetime.now(timezone.utc) - timedelta(hours=1)
    ids = [BIG] + [author_id(i) for i in range(count - 1)]
    with Store(url) as store:
        store.add_authors(ids, 86400, now)
        batch: list[FetchOutcome] = []
        for scholar_id in ids:
            n = 300 if scholar_id == BIG else random.Random(scholar_id).randint(20, 40)
            batch.append(synthetic(scholar_id, n, now))
            if len(batch) == 500:
                record_outcomes(store, batch, now)
                batch = []
        if batch:
            record_outcomes(store, batch, now)


def refresh_authors(url: str, count: int, bump: int) -> None:
    """What a refresh landing looks like from another process: ``count`` new profiles recorded
    (``bump`` changes every citation count, so every entry really is rebuilt)."""
    now = datetime.now(timezone.utc)
    with Store(url) as store:
        batch = [synthetic(author_id(i), 25, now, bump=bump) for i in range(count)]
        record_outcomes(store, batch, now)


def start_service(db: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """``scholar-stats serve`` itself, without the scheduler (the refresh below is recorded by
    another process and picked up by the poll, every second here)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHOLAR_STATS_POLL_SECONDS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "scholar_stats", "serve", "--db", db, "--port", str(port),
         "--no-scheduler", "--workers", str(workers)], env=env)


HEADERS = ".headers.json"  # beside each file the bare app serves: the service's headers for it


def bare_app() -> Any:
    """The ceiling of an ASGI app (``--bare``): a pure ASGI app under the same uvicorn settings,
    answering each path with the bytes the service sends for it, status line, headers (but the
    date uvicorn adds) and body, prepared, and doing nothing else (no lookup, no negotiation)."""
    root = Path(os.environ["BENCH_STATIC"])
    files = {"/" + str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
             if p.is_file() and not p.name.endswith(HEADERS)}
    starts = {
        path: {"type": "http.response.start", "status": 200, "headers": [
            (name.encode(), value.encode())
            for name, value in json.loads((root / (path[1:] + HEADERS)).read_text())]}
        for path in files
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        await send(starts[path])
        await send({"type": "http.response.body", "body": files[path]})

    return app


def bare(static: str, port: int, workers: int) -> None:
    import uvicorn

    from scholar_stats.service.server import UVICORN_OPTIONS

    os.environ["BENCH_STATIC"] = static
    sys.path.insert(0, str(Path(__file__).parent))
    uvicorn.run("serve:bare_app", factory=True, host="127.0.0.1", port=port, workers=workers,
                **UVICORN_OPTIONS)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not come up within {timeout:.0f} s")
        time.sleep(0.2)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, duration: float, connections: int, threads: int = 1) -> tuple[float, float]:
    """(requests/s, p99 ms) from wrk --latency."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:.0f}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors for {url}:\n{out}")
    return rps, float(value) * _UNITS[unit]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (the workers of ``--workers``)."""
    total = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) / 1024
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        total += sum(rss_mb(int(c)) for c in child.read_text().split())
    return total


def start_nginx(root: Path, port: int, work: Path, workers: int) -> subprocess.Popen[bytes]:
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes {workers};
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    types {{ application/json json; image/svg+xml svg; }}
    keepalive_requests 1000000;
    client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
    uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        etag on;
        add_header Cache-Control "public, max-age=3600";
        add_header Access-Control-Allow-Origin "*";
    }}
}}
""")
    (work / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--authors", type=int, default=10000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="wrk runs per figure (median)")
    parser.add_argument("--workers", default="1,2",
                        help="worker counts to measure, comma-separated (nginx and the bare "
                        "ASGI app get the same count)")
    parser.add_argument("--pg-url", help="also measure with the store in this PostgreSQL "
                        "database (in a schema of its own, dropped afterwards)")
    parser.add_argument("--bare", nargs=3, metavar=("DIR", "PORT", "WORKERS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare(args.bare[0], int(args.bare[1]), int(args.bare[2]))
        return 0
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install -y wrk): nothing to measure", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="scholar-stats-bench-"))
    work.chmod(0o755)  # nginx workers (user nobody when started as root) must read it
    try:
        measure_store(args, work, f"sqlite:///{work / 'bench.db'}", "SQLite")
        if args.pg_url:
            with pg_schema(args.pg_url) as url:
                measure_store(args, work, url, "PostgreSQL")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def measure_store(args: argparse.Namespace, work: Path, db: str, kind: str) -> None:
    started = time.perf_counter()
    build_store(db, args.authors)
    print(f"\n=== {kind} store: {args.authors} authors recorded in "
          f"{time.perf_counter() - started:.1f} s")
    for count, workers in enumerate(int(w) for w in args.workers.split(",")):
        measure_workers(args, work, db, workers, bump=count + 1)


@contextlib.contextmanager
def pg_schema(base: str) -> Iterator[str]:
    """A URL whose connections use a fresh PostgreSQL schema, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"bench_{os.getpid()}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def first_answer(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait (polling every 10 ms) until ``url`` answers 200."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the service exited before answering")
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.01)


def ask_everyone(base: str, count: int, threads: int = 4) -> float:
    """Every author's endpoint JSON, SVG badge and gs_data.json once (gzip accepted, as
    browsers send); returns the seconds it took."""
    import concurrent.futures

    import httpx

    ids = [BIG] + [author_id(i) for i in range(count - 1)]
    started = time.perf_counter()

    def ask(part: list[str]) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            for scholar_id in part:
                for name in ("shields/citations.json", "badges/citations.svg", "gs_data.json"):
                    r = client.get(f"/authors/{scholar_id}/{name}")
                    if r.status_code != 200:
                        raise SystemExit(f"{scholar_id}/{name}: {r.status_code}")

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(ask, [ids[i::threads] for i in range(threads)]))
    return time.perf_counter() - started


def measure_workers(args: argparse.Namespace, work: Path, db: str, workers: int, bump: int) -> None:
    """One configuration: the service, nginx and the bare app, each with ``workers`` processes."""
    port = free_port()
    started = time.perf_counter()
    server = start_service(db, port, workers)
    nginx = bare_server = None
    try:
        base = f"http://127.0.0.1:{port}"
        last = author_id(args.authors - 2)  # the last author in the store
        first_answer(f"{base}/authors/{last}/shields/citations.json", server, timeout=600)
        first = time.perf_counter() - started
        wait_http(f"{base}/healthz", timeout=600)
        up = time.perf_counter() - started
        print(f"\n== serve --workers {workers}: first answer with {args.authors} authors in "
              f"{first:.1f} s (/healthz answers after {up:.1f} s)")
        asked = ask_everyone(base, args.authors)
        print(f"every author's endpoint JSON, badge and gs_data.json asked once in {asked:.1f} s")
        probe = author_id(42)
        paths = {
            "endpoint JSON": f"/authors/{probe}/shields/citations.json",
            "SVG badge": f"/authors/{probe}/badges/citations.svg",
            "gs_data.json (300 pubs)": f"/authors/{BIG}/gs_data.json",
        }
        import httpx

        static = work / f"static-{workers}"
        for path in paths.values():  # nginx and the bare app send the bytes the service sends
            answer = httpx.get(base + path, headers={"Accept-Encoding": "identity"})
            target = static / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(answer.content)
            sent = [[name.decode(), value.decode()] for name, value in answer.headers.raw
                    if name.lower() != b"date"]  # uvicorn adds its own, to the bare app's too
            target.with_name(target.name + HEADERS).write_text(json.dumps(sent))
        if shutil.which("nginx"):
            nginx_port = free_port()
            nginx = start_nginx(static, nginx_port, work, workers)
            wait_http(f"http://127.0.0.1:{nginx_port}{paths['endpoint JSON']}", timeout=10)
        else:
            print("nginx is not installed: no static baseline, no ratios")
        bare_port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        bare_server = subprocess.Popen([sys.executable, __file__, "--bare", str(static),
                                        str(bare_port), str(workers)], env=env)
        wait_http(f"http://127.0.0.1:{bare_port}{paths['endpoint JSON']}", timeout=30)
        wrk(base + paths["endpoint JSON"], 2, args.connections)  # warm up
        print(f"req/s and p99 (ms) with wrk, {args.connections} connections; 'bare' is a pure "
              "ASGI app under the same uvicorn\nsending the same bytes, headers included (the "
              "ceiling of an ASGI app), nginx the static baseline; all three with\n"
              f"{workers} worker process(es).")
        print(f"\n{'path':24} {'service':>8} {'p99':>5} {'bare':>8} {'p99':>5} {'nginx':>8} "
              f"{'p99':>5} {'/nginx':>7} {'/bare':>6}")
        idle_p99 = 0.0

        def measure(*urls: str) -> list[tuple[float, float]]:
            """Median req/s and median p99 of ``--repeat`` runs of each of ``urls``, taken in
            turn (service, bare, nginx, service, ...): single runs on a 2-core machine shared
            with wrk vary by tens of percent, and a machine that slows down or speeds up
            meanwhile then moves all three alike, not the ratios."""
            runs: list[list[tuple[float, float]]] = [[] for _ in urls]
            for _ in range(args.repeat):
                for url, kept in zip(urls, runs, strict=True):
                    kept.append(wrk(url, args.duration, args.connections))
            return [(statistics.median(r[0] for r in kept), statistics.median(r[1] for r in kept))
                    for kept in runs]

        for name, path in paths.items():
            urls = [base + path, f"http://127.0.0.1:{bare_port}{path}"]
            if nginx is not None:
                urls.append(f"http://127.0.0.1:{nginx_port}{path}")
            (rps, p99), (b_rps, b_p99), *static_run = measure(*urls)
            if name == "endpoint JSON":
                idle_p99 = p99
            n_rps, n_p99 = static_run[0] if static_run else (float("nan"), float("nan"))
            print(f"{name:24} {rps:8.0f} {p99:5.1f} {b_rps:8.0f} {b_p99:5.1f} {n_rps:8.0f} "
                  f"{n_p99:5.1f} {rps / n_rps:7.1%} {rps / b_rps:6.1%}")
        print(f"\nfirst answer with {args.authors} authors in {first:.1f} s")
        print(f"RSS of the service with {args.authors} authors: {rss_mb(server.pid):.0f} MB"
              + ("" if workers == 1 else " (supervisor and workers together)"))

        # p99 while a refresh of 100 authors lands (another process writes, the poll rebuilds)
        import threading

        def land(round_: int) -> None:
            time.sleep(args.duration / 4)
            refresh_authors(db, 100, bump * 10 + round_)

        busy = []
        for round_ in range(args.repeat):
            writer = threading.Thread(target=land, args=(round_,))
            writer.start()
            busy.append(wrk(base + paths["endpoint JSON"], args.duration, args.connections))
            writer.join()
        rps = statistics.median(b[0] for b in busy)
        busy_p99 = statistics.median(b[1] for b in busy)
        changed = httpx.get(base + f"/authors/{author_id(99)}/status.json").json()["last_attempt"]
        print(f"p99 during a refresh of 100 authors: {busy_p99:.2f} ms ({rps:.0f} req/s) vs idle "
              f"{idle_p99:.2f} ms: {busy_p99 / idle_p99:.2f}x (last refreshed author now shows "
              f"last_attempt {changed})")
    finally:
        for proc in (server, nginx, bare_server):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    sys.exit(main())
