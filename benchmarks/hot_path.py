"""Instructions per request of the service's fast path against a bare ASGI app, under callgrind.

``benchmarks/serve.py`` measures requests per second with wrk, which on a shared 2-core virtual
machine moves by a tenth between runs: too much to tell a change of a few percent. This counts
the machine instructions the interpreter executes per request instead (valgrind's callgrind),
which are the same run after run whatever else the machine does, for:

* the bare app: an ASGI callable that sends prepared bytes (``serve.py``'s ``--bare`` app);
* the service's fast path (``app.served``, what uvicorn runs) answering an endpoint JSON, an SVG
  badge and a ``gs_data.json`` from memory, with the counting of requests the service does;
* the endpoint JSON asked for on 1,400 paths in turn (every author's seven metrics), more
  than the fast path remembers (``fastpath.PATHS_KNOWN``): traffic spread over many authors.

Each figure is (instructions of 5,000 requests - instructions of 1,000) / 4,000, in a fresh
process whose every author was prepared first (no warm-up thread running meanwhile); requests
are driven by calling the app with a no-op ``send`` (no socket, no uvicorn: what is left is the
app's own work). Each request's path is a new string, as uvicorn makes it (hashing it is part
of the cost). ``PYTHONHASHSEED=0`` fixes string hashes, so dict layouts are the same too.

Needs: valgrind on PATH (apt-get install -y valgrind). Takes a few minutes.

Usage: python benchmarks/hot_path.py [--authors 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PROBE = 42  # the author whose files are asked for (serve.author_id)
TARGETS = {
    "bare": "shields/citations.json",
    "endpoint JSON": "shields/citations.json",
    "SVG badge": "badges/citations.svg",
    "gs_data.json": "gs_data.json",
    "endpoint, spread": "shields/{metric}.json",  # on every author, each metric in turn
}
FEW, MANY = 1000, 5000


def child(db: str, target: str, count: int) -> None:
    """Answer ``count`` requests for ``target`` (run under callgrind)."""
    import serve

    from scholar_stats.core.model import METRIC_NAMES
    from scholar_stats.service.app import create_app, served
    from scholar_stats.service.settings import ServiceSettings

    app = create_app(ServiceSettings(db_url=db, scheduler=False))
    service = app.state.service
    service.start()
    for thread in threading.enumerate():  # every author prepared, by the warm-up alone
        if thread.name == "scholar-stats-warm-up":
            thread.join()
    file = TARGETS[target]
    if "{metric}" in file:
        paths = [f"/authors/{scholar_id}/{file.format(metric=metric)}".encode()
                 for scholar_id in sorted(service.snapshot.authors) for metric in METRIC_NAMES]
    else:
        paths = [f"/authors/{serve.author_id(PROBE)}/{file}".encode()]
    fast_path = served(app)

    async def send(message: Any) -> None:
        pass

    async def receive() -> Any:
        return {}

    scope = {"type": "http", "method": "GET", "path": "", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk")]}
    async def ask_each() -> None:  # kept (a badge is drawn when first asked)
        for raw_path in paths:
            await fast_path({**scope, "path": raw_path.decode()}, receive, send)

    asyncio.run(ask_each())
    # as serve.py's bare app: the messages of each path, prepared
    starts = {path.decode(): {"type": "http.response.start", "status": 200, "headers": []}
              for path in paths}
    bodies = {path.decode(): {"type": "http.response.body", "body": b"x" * 100} for path in paths}

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        await send(starts[path])
        await send(bodies[path])

    app_under_test = bare if target == "bare" else fast_path
    gc.freeze()
    for number in range(count):
        request = dict(scope)
        request["path"] = paths[number % len(paths)].decode()  # a new string, as uvicorn's
        coroutine = app_under_test(request, receive, send)
        # SIM105: suppress() would add a context manager to every answer measured
        try:  # noqa: SIM105  see above
            coroutine.send(None)
        except StopIteration:
            pass


def instructions(db: str, target: str, count: int) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--child", db, target, str(count)],
        env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--authors", type=int, default=200)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install -y valgrind)", file=sys.stderr)
        return 1
    import serve

    with tempfile.TemporaryDirectory(prefix="scholar-stats-hot-path-") as work:
        db = f"sqlite:///{Path(work) / 'bench.db'}"
        serve.build_store(db, args.authors)
        runs = [(target, count) for target in TARGETS for count in (FEW, MANY)]
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            counted = dict(zip(runs, pool.map(lambda run: instructions(db, *run), runs),
                               strict=True))
    per_request = {t: (counted[t, MANY] - counted[t, FEW]) / (MANY - FEW) for t in TARGETS}
    bare = per_request["bare"]
    print(f"instructions per request, {args.authors} authors (callgrind, {MANY} - {FEW} "
          "requests):")
    print(f"{'':16} {'instructions':>12} {'over bare':>10}")
    for target, count in per_request.items():
        print(f"{target:16} {count:12,.0f} {count - bare:10,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
