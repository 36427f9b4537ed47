"""Every public answer of the service, recorded: the golden file the service's answers are
compared with (``tests/service/test_answers_unchanged.py``).

A deterministic store (authors fetched at fixed moments: a fresh one with a change log, one of
300 papers, a stale one, one whose last fetch failed, one never fetched, and a group) is served by
``scholar-stats serve`` as a process under ``faketime`` (its clock starts at :data:`CLOCK`), and
every route is asked for: each answer's status, headers (but ``date`` and ``server``) and the
SHA-256 of its body, with and without gzip, HEAD too, and what an ``If-None-Match`` of its ETag
gets back.

Regenerate the file (after a deliberate change of answers) with:

    PYTHONPATH=tests .venv/bin/python -m support.golden_answers
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.errors import NetworkFailure
from scholar_stats.refresh.record import record_outcome
from scholar_stats.store.database import Store
from support.paths import FIXTURES
from support.service_helpers import running_serve
from support.store_helpers import failure, success

GOLDEN = FIXTURES / "service" / "answers.json"
CLOCK = "2026-01-05 12:00:00"  # the service's clock starts here (faketime)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)

FRESH = "FRESHAUTHOR1"
BIG = "BIGAUTHOR300"
STALE = "STALEAUTHOR1"
FAILED = "FAILEDAUTHR1"
EMPTY = "EMPTYAUTHOR1"
UNTRACKED = "NOTTRACKED12"
AUTHORS = (FRESH, BIG, STALE, FAILED, EMPTY)
GROUP = "lab"
HOST = "stats.example.org"
SKIPPED_HEADERS = frozenset({"date", "server"})


def pubs(n: int, base: int = 3) -> dict[str, int]:
    return {f"P{i:011d}": (i * base) % 97 for i in range(n)}


def fill_store(url: str) -> None:
    """The authors above, at fixed moments before :data:`CLOCK`, and the group ``lab``."""
    with Store(url) as store:
        store.add_authors(AUTHORS, 86400, T0)
        record_outcome(store, success(FRESH, pubs(12), T0), T0)
        later = T0 + timedelta(days=2)
        grown = {**pubs(12), "P00000000003": 40, "P00000000099": 2}
        record_outcome(store, success(FRESH, grown, later, hindex=6), later)
        record_outcome(store, success(BIG, pubs(300), T0), T0)
        old = datetime(2025, 10, 1, tzinfo=timezone.utc)
        record_outcome(store, success(STALE, pubs(5), old), old)
        record_outcome(store, success(FAILED, pubs(7, 5), T0 - timedelta(days=1)),
                       T0 - timedelta(days=1))
        gone = T0 + timedelta(days=3)
        record_outcome(store, failure(FAILED, NetworkFailure("Scholar did not answer"),
                                      gone), gone)
        store.add_to_group(GROUP, [FRESH, STALE, EMPTY])


def author_paths(scholar_id: str) -> list[str]:
    """Every route of one author's, and the errors on them."""
    names = ["gs_data.json", "gs_data_shieldsio.json", "status.json", "history.csv",
             "changes.json", "changes.xml", "chart.svg", "card.svg", "nothing.txt"]
    names += [f"shields/{m}.json" for m in (*METRIC_NAMES, "nope")]
    names += [f"badges/{m}.svg" for m in (*METRIC_NAMES, "nope")]
    names += ["badges/citations.svg?label=cited%20by&color=9cf&labelColor=f6f6f6&style=plastic",
              "badges/h-index.svg?style=social", "badges/citations.svg?style=for-the-badge",
              "badges/citations.svg?color=red;x", "badges/citations.svg?label=" + "x" * 300]
    names += ["papers/P00000000005.json", f"papers/{scholar_id}:P00000000005/shields.json",
              "papers/P00000000005/shields.json", "papers/NOSUCHPAPER1.json",
              "papers/NOSUCHPAPER1/shields.json"]
    return [f"/authors/{scholar_id}/{name}" for name in names] + [f"/authors/{scholar_id}/"]


def all_paths() -> list[str]:
    paths = ["/", "/scholar-stats.js", "/healthz", "/openapi.json", "/docs",
             f"/authors/{FRESH}", "/authors/not-an-id/gs_data.json",
             "/authors/not-an-id/badges/citations.svg", "/authors/not-an-id/",
             f"/authors/{FRESH}/shields/citations.json?" + "q=1&" * 700]
    for scholar_id in (*AUTHORS, UNTRACKED):
        paths += author_paths(scholar_id)
    group = f"/groups/{GROUP}/"
    paths += [group, group + "gs_data.json", group + "gs_data_shieldsio.json",
              group + "shields/citations.json", group + "shields/h-index.json",
              group + "badges/citations.svg", group + "badges/publications.svg",
              group + "shields/nope.json", group + "nothing", "/groups/nosuch/gs_data.json",
              "/groups/Bad%20Name/gs_data.json"]
    return paths


def _answer(response: httpx.Response) -> dict[str, Any]:
    headers = {k: v for k, v in response.headers.items() if k not in SKIPPED_HEADERS}
    return {"status": response.status_code, "headers": dict(sorted(headers.items())),
            "sha256": hashlib.sha256(response.content).hexdigest(),
            "length": len(response.content)}


def ask(base: str, path: str) -> dict[str, Any]:
    """What the service answers on ``path``: plain, gzipped, HEAD, and If-None-Match."""
    out: dict[str, Any] = {}
    # the pages name the service as the Host header does: one name, whatever the port
    with httpx.Client(base_url=base, timeout=30, headers={"host": HOST}) as client:
        for name, method, encoding in (("get", "GET", "identity"), ("gzip", "GET", "gzip"),
                                       ("head", "HEAD", "identity")):
            r = client.request(method, path, headers={"accept-encoding": encoding})
            out[name] = _answer(r)
            etag = r.headers.get("etag")
            if etag and name != "head":
                again = client.request(method, path, headers={"accept-encoding": encoding,
                                                              "if-none-match": etag})
                out[name + " if-none-match"] = _answer(again)
    return out


@contextmanager
def golden_service(tmp_path: Path) -> Iterator[str]:
    """The deterministic store served under faketime; yields the base URL."""
    url = f"sqlite:///{tmp_path / 'golden.db'}"
    fill_store(url)
    env = {"FAKETIME": "@" + CLOCK, "LD_PRELOAD": faketime_library(),
           "FAKETIME_NO_CACHE": "1", "SCHOLAR_STATS_POLL_SECONDS": "0"}
    with running_serve(url, tmp_path, env) as (base, _proc):
        yield base


def faketime_library() -> str:
    """libfaketime's preload library (Debian's faketime package)."""
    for candidate in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                      "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                      "/usr/lib/faketime/libfaketime.so.1"):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError("libfaketime is not installed (apt-get install -y faketime)")


def record(base: str) -> dict[str, Any]:
    return {path: ask(base, path) for path in all_paths()}


def main() -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, golden_service(Path(tmp)) as base:
        answers = record(base)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(answers, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{len(answers)} paths recorded in {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
