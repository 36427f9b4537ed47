"""``site`` benchmark: the theme files of one author with many papers, drawn the first time and
checked on an unchanged run (the daily case: the file is read back and compared, not
rewritten), with the site's files read by libyaml's safe loader (what ``site`` uses when PyYAML
has it) against PyYAML's pure-Python one, in the same run.

    python benchmarks/site.py [--pubs 10000] [--rounds 3]

Prints, per theme, the best of ``rounds`` for each and the ratio pure / libyaml.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from scholar_stats.core.model import AuthorData
from scholar_stats.outputs import themes

SID = "BENCHAUTHOR1"


def author(pubs: int) -> AuthorData:
    publications = {}
    for n in range(pubs):
        pub_id = f"{SID}:PAPER{n:07d}"
        publications[pub_id] = {
            "bib": {"title": f"On the {n}th problem: methods & results", "pub_year": "2020"},
            "author_pub_id": pub_id, "num_citations": n % 500}
    record = {"scholar_id": SID, "name": "Bench", "citedby": 9, "citedby5y": 8, "hindex": 7,
              "hindex5y": 6, "i10index": 5, "i10index5y": 4, "cites_per_year": {},
              "publications": publications, "updated": "2026-12-01T00:00:00+00:00"}
    return AuthorData(SID, record, None)


def best(rounds: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pubs", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = [author(args.pubs)]
    pure_load = lambda raw: yaml.load(raw, Loader=yaml.SafeLoader)  # noqa: E731
    for theme in themes.THEMES.values():
        drawn = themes.draw_site(theme, data, {})
        first = best(args.rounds, lambda theme=theme: themes.draw_site(theme, data, {}))
        fast = best(args.rounds, lambda theme=theme, drawn=drawn: themes.draw_site(
            theme, data, drawn))
        saved = themes.load_yaml
        themes.load_yaml = pure_load
        try:
            slow = best(args.rounds, lambda theme=theme, drawn=drawn: themes.draw_site(
                theme, data, drawn))
        finally:
            themes.load_yaml = saved
        size = sum(len(body) for body in drawn.values())
        print(f"{theme.name:9} {args.pubs} papers, {size / 1e6:.1f} MB: first run {first:.2f} s;"
              f" unchanged run {fast:.2f} s (libyaml) vs {slow:.2f} s (pure), "
              f"ratio {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
