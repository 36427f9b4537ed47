"""Requests per fetch for each ``--source``, on the fake Scholar and the fake SerpApi.

For profiles of several sizes (real rows and real articles, served on 127.0.0.1 by
tests/support/fake_scholar.py and tests/support/fake_serpapi.py), one fetch each way:

* ``scholar``: Scholar answers;
* ``serpapi``: SerpApi alone;
* ``auto``, Scholar blocking the first page (403): one Scholar request, then SerpApi;
* ``auto``, Scholar blocking the second page: the first page is spent, then SerpApi from 0.

Usage: python benchmarks/sources.py [--sizes 20,100,101,250,1114]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.fake_scholar import running_fake_scholar
from support.fake_serpapi import running_fake_serpapi

from scholar_stats.net.deadline import Deadline
from scholar_stats.refresh.attempt import attempt_fetch
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.choice import SourceSettings, open_sources
from scholar_stats.sources.serpapi.source import SerpApiOptions


def count(scholar_url: str, serpapi_url: str, key: str, choice: str, scholar_id: str,
          fakes: tuple) -> tuple[int, int, str]:
    """(Scholar requests, SerpApi searches, the source of the data) for one fetch."""
    scholar, serpapi = fakes
    scholar.requests.clear()
    serpapi.requests.clear()
    settings = FetchSettings(scholar_url=scholar_url, delay=0, deadline=60)
    deadline = Deadline(60)
    choices = SourceSettings.of(choice, serpapi=SerpApiOptions(url=serpapi_url, key=key))
    sources = open_sources(choices, settings, deadline)
    try:
        outcome = attempt_fetch(scholar_id, settings, deadline, previous=None, sources=sources)
    finally:
        for source in sources:
            source.close()
    assert outcome.ok, outcome.status.message
    return len(scholar.requests), len(serpapi.requests), str(outcome.status.source)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20,100,101,250,1114")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    print("| publications | scholar | serpapi | auto, blocked at page 1 "
          "| auto, blocked at page 2 |")
    print("| --- | --- | --- | --- | --- |")
    with running_fake_scholar() as scholar, running_fake_serpapi() as serpapi:
        fakes = (scholar, serpapi)
        for size in sizes:
            scholar_id = f"BENCH{size:05d}AJ"
            scholar.add_profile(scholar_id, pubs=size)
            serpapi.add_profile(scholar_id, pubs=size)
            cells = []
            for choice, modes in (("scholar", []), ("serpapi", []), ("auto", ["403"]),
                                  ("auto", ["ok", "403"])):
                if choice == "auto" and len(modes) == 2 and size <= 100:
                    cells.append("n/a")  # one page only: nothing to block at page 2
                    continue
                scholar.queue = list(modes)
                s, p, used = count(scholar.url, serpapi.url, serpapi.key, choice, scholar_id,
                                   fakes)
                cells.append(f"{s} Scholar + {p} SerpApi ({used})" if choice == "auto"
                             else str(s or p))
            print(f"| {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
