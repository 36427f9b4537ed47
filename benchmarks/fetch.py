"""Requests and wall time of `scholar-stats fetch` against the old recipe, on the fake Scholar.

For profiles of 12, 250 and 1114 publications (real rows, served by
tests/support/fake_scholar.py on 127.0.0.1), it runs in the same process:

* scholar-stats' fetch path with the politeness delay at 0;
* the AcadHomepage recipe, ``scholarly.search_author_id(id)`` + ``scholarly.fill(author,
  sections=[basics, indices, counts, publications])``, unmodified except that its hard-coded
  ``https://scholar.google.com`` is pointed at the fake (``--baseline`` off skips it: scholarly
  sleeps 1-2 s before every request by design, so it takes a while).

Usage: python benchmarks/fetch.py [--sizes 12,250,1114] [--no-baseline]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.fake_scholar import running_fake_scholar

from scholar_stats.net.deadline import Deadline
from scholar_stats.refresh.attempt import attempt_fetch
from scholar_stats.settings import FetchSettings


def ours(url: str, scholar_id: str) -> tuple[int, float, int]:
    settings = FetchSettings(scholar_url=url, delay=0)
    started = time.perf_counter()
    outcome = attempt_fetch(scholar_id, settings, Deadline(300), previous=None,
                            now=datetime.now(timezone.utc))
    elapsed = time.perf_counter() - started
    assert outcome.data is not None, outcome.status.message
    return outcome.status.requests, elapsed, outcome.data.metrics.publications


def old_recipe(url: str, scholar_id: str) -> tuple[float, int]:
    from scholarly import _navigator, scholarly

    original = _navigator.Navigator._get_page

    def pointed_at_fake(self, pagerequest: str, premium: bool = False) -> str:
        return original(self, pagerequest.replace("https://scholar.google.com", url), premium)

    _navigator.Navigator._get_page = pointed_at_fake
    try:
        started = time.perf_counter()
        author = scholarly.search_author_id(scholar_id)
        scholarly.fill(author, sections=["basics", "indices", "counts", "publications"])
        return time.perf_counter() - started, len(author["publications"])
    finally:
        _navigator.Navigator._get_page = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12,250,1114")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'pubs':>5} | {'ours: requests':>14} {'time':>7} | "
          f"{'recipe: requests':>16} {'time':>7} | {'expected ours':>13}")
    with running_fake_scholar() as fake:
        for pubs in sizes:
            scholar_id = f"Bench{pubs:07d}"[:12]
            fake.add_profile(scholar_id, pubs)
            fake.requests.clear()
            requests, elapsed, got = ours(fake.url, scholar_id)
            assert got == pubs and requests == len(fake.requests)
            baseline = "(skipped)"
            if not args.no_baseline:
                fake.requests.clear()
                old_elapsed, old_got = old_recipe(fake.url, scholar_id)
                assert old_got == pubs
                baseline = f"{len(fake.requests):>16} {old_elapsed:>6.2f}s"
            expected = max(1, math.ceil(pubs / 100))
            print(f"{pubs:>5} | {requests:>14} {elapsed:>6.2f}s | {baseline:>24} | "
                  f"{expected:>13}")


if __name__ == "__main__":
    main()
