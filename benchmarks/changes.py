"""Changes and groups benchmark: a day's events for 1,000 authors x 200 publications, and the
totals of a group of 100 authors.

The day follows the change model of ``benchmarks/store.py`` (seeded): ~30 % of authors have
their counts recomputed by Scholar; on such a day each of the 20 % "active" papers gains
citations with probability 0.15 and each other one with 0.01, and one author in 50 gets a new
paper. Prints the time to turn records into snapshots, to compute the events, and to render
``changes.json`` + ``changes.xml`` for every author (the whole of ``fetch``'s extra work),
then the group totals (20 % of each member's papers co-authored with another member, their
titles written differently).

    python benchmarks/changes.py [--authors 1000] [--pubs 200] [--group 100]
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scholar_stats.core.changes import compute_events
from scholar_stats.core.groups import group_totals
from scholar_stats.core.model import AuthorData
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.outputs.changes import change_files_after
from scholar_stats.outputs.groups import render_group_files

DAY0 = "2026-03-01T06:17:00+00:00"
DAY1 = "2026-03-02T06:17:00+00:00"


def make_record(scholar_id: str, pubs: int, rng: random.Random) -> dict[str, Any]:
    publications = {}
    for i in range(pubs):
        pub_id = f"{scholar_id}:{i:012d}"
        publications[pub_id] = {
            "bib": {"title": f"A study of topic {i} with a title of typical length for a paper",
                    "pub_year": str(2000 + i % 25), "citation": f"Journal {i % 40}"},
            "author_pub_id": pub_id, "num_citations": rng.randint(0, 50),
        }
    total = sum(p["num_citations"] for p in publications.values())
    return {"scholar_id": scholar_id, "name": f"Author {scholar_id}", "updated": DAY0,
            "citedby": total, "citedby5y": total // 2, "hindex": 20, "hindex5y": 15,
            "i10index": 40, "i10index5y": 30, "publications": publications}


def next_day(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    new = copy.deepcopy(record)
    new["updated"] = DAY1
    if rng.random() < 0.3:
        for n, pub in enumerate(new["publications"].values()):
            if rng.random() < (0.15 if n % 5 == 0 else 0.01):
                pub["num_citations"] += rng.randint(1, 3)
        new["citedby"] = sum(p["num_citations"] for p in new["publications"].values())
    if rng.random() < 0.02:
        pub_id = f"{record['scholar_id']}:new000000000"
        new["publications"][pub_id] = {"bib": {"title": "A brand new paper"},
                                       "author_pub_id": pub_id, "num_citations": 0}
    return new


def day_of_events(authors: int, pubs: int) -> None:
    rng = random.Random(13)
    before = [make_record(f"BENCH{n:07d}", pubs, rng) for n in range(authors)]
    after = [next_day(record, rng) for record in before]

    started = time.perf_counter()
    old_snaps = [ProfileSnapshot.from_gs_data(record) for record in before]
    new_snaps = [ProfileSnapshot.from_gs_data(record) for record in after]
    snap_seconds = time.perf_counter() - started

    started = time.perf_counter()
    events = [compute_events(old, new) for old, new in zip(old_snaps, new_snaps, strict=True)]
    event_seconds = time.perf_counter() - started

    started = time.perf_counter()
    written = 0
    for old, new in zip(before, after, strict=True):
        update = change_files_after(old, None, AuthorData(new["scholar_id"], new, 2021))
        written += sum(len(data) for data in update.files.values())
    file_seconds = time.perf_counter() - started

    count = sum(len(day) for day in events)
    changed = sum(1 for day in events if day)
    print(f"a day of {authors:,} authors x {pubs} papers: {count:,} events for {changed:,} "
          f"authors")
    print(f"  records -> snapshots (both days): {snap_seconds:.2f} s")
    print(f"  compute_events:                   {event_seconds:.3f} s "
          f"({event_seconds / authors * 1e6:.0f} us per author)")
    print(f"  changes.json + changes.xml (fetch's whole extra work, parse included): "
          f"{file_seconds:.2f} s, {written / 1024:.0f} KiB")


def a_group(members: int, pubs: int) -> None:
    rng = random.Random(7)
    profiles = {}
    for n in range(members):
        scholar_id = f"GROUP{n:07d}"
        record = make_record(scholar_id, pubs, rng)
        for i, pub in enumerate(record["publications"].values()):
            pub["bib"]["title"] = f"Work {n}.{i} of member {n}, on topic {i}"
            if i % 5 == 0:  # co-authored with the next member: the same paper, written otherwise
                shared = (n // 2) * 1000 + i
                title = f"Shared work {shared}: on merging"
                pub["bib"]["title"] = title.upper() if n % 2 else title.replace(":", " —")
                pub["bib"]["pub_year"] = "2020"
        profiles[scholar_id] = ProfileSnapshot.from_gs_data(record)
    started = time.perf_counter()
    totals = group_totals("bench", profiles)
    total_seconds = time.perf_counter() - started
    started = time.perf_counter()
    files = render_group_files(totals)
    render_seconds = time.perf_counter() - started
    print(f"a group of {members} authors x {pubs} papers: {totals.publications:,} papers "
          f"({totals.shared_papers:,} shared), {totals.citations:,} citations, h-index "
          f"{totals.h_index}")
    print(f"  group_totals: {total_seconds * 1000:.0f} ms; its files: {render_seconds * 1000:.0f} "
          f"ms, {sum(len(d) for d in files.values()) / 1024:.0f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors", type=int, default=1000)
    parser.add_argument("--pubs", type=int, default=200)
    parser.add_argument("--group", type=int, default=100)
    args = parser.parse_args()
    day_of_events(args.authors, args.pubs)
    a_group(args.group, args.pubs)


if __name__ == "__main__":
    main()
