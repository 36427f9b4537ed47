"""Store benchmark: a year of daily refreshes for 1,000 authors x 200 publications.

Every fetch goes through ``refresh.record.record_outcomes`` (the path the engine uses), one
transaction per batch of 100 authors, from ``--workers`` processes writing the same database
(as ``schedule`` and a cron ``refresh`` may). Change model (seeded, so
runs compare): Scholar recomputes an author's counts on ~30 % of days; on such a day each of the
20 % "active" papers gains citations with probability 0.15 and each other paper with 0.01 —
about 2.3 changed counts per author per day, ~840 a year, most papers unchanged on most days.

Prints the database size, the time of a full-history query for one author (daily metric rows
plus every publication's change list) and, for comparison, a naive layout that stores every
day x publication (measured on a sample of authors and scaled up).

    python benchmarks/store.py [--authors 1000] [--pubs 200] [--days 365] [--db URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scholar_stats.core.model import AuthorData, FetchStatus
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.refresh.record import record_outcomes
from scholar_stats.store.database import Store

START = datetime(2025, 1, 1, 6, 0, tzinfo=timezone.utc)


def author_id(n: int) -> str:
    return f"BENCH{n:07d}"


def make_profile(scholar_id: str, pubs: int, rng: random.Random) -> dict[str, Any]:
    """A gs_data record of realistic size (~350 bytes per publication)."""
    publications = {}
    for i in range(pubs):
        pub_id = f"{scholar_id}:{i:012d}"
        publications[pub_id] = {
            "container_type": "Publication",
            "source": "AUTHOR_PUBLICATION_ENTRY",
            "bib": {
                "title": f"A study of topic {i} with a title of typical length for a paper",
                "pub_year": str(2000 + i % 25),
                "citation": f"Journal of Examples {i % 40}, {i % 12 + 1}({i % 4 + 1}), 1-{i + 10}",
            },
            "filled": False,
            "author_pub_id": pub_id,
            "num_citations": rng.randint(0, 50),
            "citedby_url": f"/scholar?oi=bibs&hl=en&cites={rng.getrandbits(60)}",
            "cites_id": [str(rng.getrandbits(60))],
        }
    return {
        "container_type": "Author", "filled": ["basics", "indices", "counts", "publications"],
        "scholar_id": scholar_id, "source": "AUTHOR_PROFILE_PAGE", "name": "Bench Author",
        "url_picture": "https://scholar.googleusercontent.com/citations?view_op=view_photo",
        "affiliation": "Example University", "organization": 1234567890123456789,
        "interests": ["Examples"], "email_domain": "@example.edu",
        "citedby": 0, "citedby5y": 0, "hindex": 0, "hindex5y": 0, "i10index": 0, "i10index5y": 0,
        "cites_per_year": {str(y): 10 * (y - 2015) for y in range(2016, 2026)},
        "publications": publications, "updated": "",
    }


def refresh_metrics(gs: dict[str, Any]) -> None:
    counts = sorted((p["num_citations"] for p in gs["publications"].values()), reverse=True)
    total = sum(counts)
    gs["citedby"], gs["citedby5y"] = total, total * 6 // 10
    gs["hindex"] = sum(1 for i, c in enumerate(counts) if c >= i + 1)
    gs["hindex5y"] = gs["hindex"] * 8 // 10
    gs["i10index"] = sum(1 for c in counts if c >= 10)
    gs["i10index5y"] = gs["i10index"] * 7 // 10


class Author:
    """One simulated author: mutates a copy of its profile as Scholar's counts move."""

    def __init__(self, n: int, pubs: int, rng: random.Random) -> None:
        self.scholar_id = author_id(n)
        self.gs = make_profile(self.scholar_id, pubs, rng)
        self.pub_ids = list(self.gs["publications"])
        self.active = set(rng.sample(range(pubs), max(1, pubs // 5)))
        refresh_metrics(self.gs)

    def day(self, rng: random.Random, when: datetime) -> FetchOutcome:
        if rng.random() < 0.3:  # Scholar recomputed this author today
            pubs = dict(self.gs["publications"])
            changed = False
            for i, pub_id in enumerate(self.pub_ids):
                if rng.random() < (0.15 if i in self.active else 0.01):
                    pub = dict(pubs[pub_id])
                    pub["num_citations"] += 1 + int(rng.random() < 0.3)
                    pubs[pub_id] = pub
                    changed = True
            if changed:
                self.gs = {**self.gs, "publications": pubs}
                refresh_metrics(self.gs)
        gs = {**self.gs, "updated": when.strftime("%Y-%m-%d %H:%M:%S.%f")}
        stamp = when.isoformat(timespec="seconds")
        status = FetchStatus(self.scholar_id, "ok", 0, "ok", stamp, stamp, requests=2,
                             duration_seconds=11.0, since_year=2021)
        return FetchOutcome(self.scholar_id, AuthorData(self.scholar_id, gs, 2021), status, None)


def sqlite_size(url: str) -> int:
    path = url.removeprefix("sqlite:///")
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def naive_baseline(sample: list[Author], days: int, path: Path) -> tuple[int, float]:
    """Bytes and one-author query time when every day x publication is a row (SQLite)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE daily (scholar_id TEXT, pub_id TEXT, day INTEGER, num_citations INTEGER, "
        "PRIMARY KEY (scholar_id, pub_id, day)) WITHOUT ROWID"
    )
    for author in sample:
        counts = {p: author.gs["publications"][p]["num_citations"] for p in author.pub_ids}
        rows = [(author.scholar_id, p, day, counts[p]) for day in range(days) for p in counts]
        conn.executemany("INSERT INTO daily VALUES (?, ?, ?, ?)", rows)
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    started = time.perf_counter()
    conn.execute("SELECT pub_id, day, num_citations FROM daily WHERE scholar_id = ? "
                 "ORDER BY pub_id, day", (sample[0].scholar_id,)).fetchall()
    elapsed = time.perf_counter() - started
    conn.close()
    return path.stat().st_size, elapsed


def simulate(url: str, worker: int, workers: int, total: int, pubs: int, days: int,
             seed: int) -> list[float]:
    """One worker process: every ``workers``-th author, a year of days, its own Store."""
    rng = random.Random(seed * 1000 + worker)
    authors = [Author(n, pubs, rng) for n in range(worker, total, workers)]
    per_day = []
    with Store(url) as store:
        for day in range(days):
            when = START + timedelta(days=day)
            started = time.perf_counter()
            for chunk in range(0, len(authors), 100):
                at = when + timedelta(seconds=chunk + worker)
                batch = [a.day(rng, at) for a in authors[chunk:chunk + 100]]
                record_outcomes(store, batch, at)
            per_day.append(time.perf_counter() - started)
            if worker == 0 and (day % 30 == 0 or day == days - 1):
                print(f"  day {day + 1:3d}: {per_day[-1]:.2f} s", flush=True)
    return per_day


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors", type=int, default=1000)
    parser.add_argument("--pubs", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--db", help="SQLAlchemy URL (default: a fresh SQLite file in a temp dir)")
    parser.add_argument("--baseline-sample", type=int, default=10,
                        help="authors stored naively to measure the baseline (scaled up)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2,
                        help="writer processes sharing the database (default 2, for 2 cores)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="scholar-stats-bench-"))
    url = args.db or f"sqlite:///{tmp / 'bench.db'}"
    print(f"{args.authors} authors x {args.pubs} publications x {args.days} days, "
          f"{args.workers} writer processes -> {url}")
    with Store(url) as store:
        store.add_authors([author_id(n) for n in range(args.authors)], 86400, START)

    wall = time.perf_counter()
    jobs = [(url, k, args.workers, args.authors, args.pubs, args.days, args.seed)
            for k in range(args.workers)]
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        per_day = [max(day) for day in zip(*pool.starmap(simulate, jobs), strict=True)]
    simulated = time.perf_counter() - wall

    with Store(url) as store:
        with store.engine.connect() as conn:
            counts = {
                table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
                for table in ("metric_history", "pub_citations", "publications", "profiles",
                              "attempts")
            }
        target = author_id(args.authors // 2)
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            rows = store.history(target)
            pubs = store.publication_history(target)
            timings.append(time.perf_counter() - started)
        changes = sum(len(v) for v in pubs.values())
    size = None
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sqlite_size(url)

    rng = random.Random(args.seed)
    sample = [Author(n, args.pubs, rng) for n in range(max(1, min(args.baseline_sample,
                                                                    args.authors)))]
    naive_bytes, naive_query = naive_baseline(sample, args.days, tmp / "naive.db")
    naive_total = naive_bytes * args.authors / len(sample)
    snapshot_total = sum(len(str(a.gs)) for a in sample) / len(sample) * args.authors * args.days

    mb = 1024 * 1024
    print(f"\nsimulated {args.authors * args.days:,} fetches in {simulated:.0f} s "
          f"({statistics.median(per_day):.2f} s per simulated day of {args.authors} authors, "
          "median)")
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if size is not None:
        print(f"database size: {size / mb:.1f} MiB "
              f"(change-only history {counts['pub_citations'] / args.authors:.0f} "
              f"publication rows per author-year)")
    print(f"full history of one author ({len(rows)} daily rows, {len(pubs)} publications, "
          f"{changes} changes): {statistics.median(timings) * 1000:.1f} ms (median of 5)")
    print(f"naive baseline, every day x publication: {naive_total / mb:,.0f} MiB "
          f"({args.authors * args.pubs * args.days:,} rows; measured on {len(sample)} authors, "
          f"scaled), one-author query {naive_query * 1000:.1f} ms")
    print(f"daily full-profile snapshots (the old recipe's git history): "
          f"~{snapshot_total / mb:,.0f} MiB")
    if size is not None:
        print(f"change-only store is {naive_total / size:.1f}x smaller than the naive layout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
