"""The homepage kit: the pictures and small files beside ``gs_data.json`` that let a homepage
show its numbers without the live service. Pure functions, no I/O (the page script is a file of
this package, read once).

Per author folder: ``badges/<metric>.svg`` (the badge renderer's flat badge with the Scholar
logo, grey when stale), ``chart.svg``, ``card.svg`` and ``papers/<id>.json`` (a shields endpoint
per publication). At the root of the output folder: ``scholar-stats.js``. The service serves the
same bytes, rendered by these same functions.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Mapping
from typing import Any

from scholar_stats.core.model import AuthorData
from scholar_stats.outputs import badges
from scholar_stats.outputs.card import render_card
from scholar_stats.outputs.chart import render_citations_chart
from scholar_stats.outputs.render import dump_json, endpoint_json, shield_endpoints

BADGES_DIR = "badges"
PAPERS_DIR = "papers"
CHART = "chart.svg"
CARD = "card.svg"
SCRIPT = "scholar-stats.js"
# The part of ``author_pub_id`` after the colon becomes a file name: only Scholar's characters.
PAPER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def metric_badge(label: str, value: int, *, stale: bool) -> bytes:
    """The static badge of one metric: flat, the Scholar logo, blue, or grey when stale."""
    color = badges.STALE_COLOR if stale else None
    return badges.render_badge(badges.make_badge(label, str(value), color=color, logo=True))


def paper_endpoint(count: int) -> bytes:
    """One paper's shields endpoint file: label "citations", its count."""
    return dump_json(endpoint_json("citations", str(count)))


def chart_svg(cites_per_year: Mapping[str, int], name: str) -> bytes:
    return render_citations_chart(cites_per_year, f"{name}: citations per year")


def paper_counts(scholar_id: str, gs_data: Mapping[str, Any]) -> dict[str, int]:
    """Paper id after the colon → citations, for the ids that can be file names."""
    prefix = scholar_id + ":"
    counts = {}
    for key, pub in (gs_data.get("publications") or {}).items():
        short = str(key).removeprefix(prefix)
        if PAPER_ID_RE.fullmatch(short):
            counts[short] = int(pub.get("num_citations") or 0)
    return counts


def card_svg(gs_data: Mapping[str, Any], *, stale: bool) -> bytes:
    return render_card(gs_data, stale=stale)


def kit_files(data: AuthorData, *, stale: bool = False) -> dict[str, bytes]:
    """Relative path → bytes of an author's kit (everything but the data files)."""
    values = data.metrics.as_dict()
    files = {
        f"{BADGES_DIR}/{metric}.svg": metric_badge(endpoint["label"], values[metric], stale=stale)
        for metric, endpoint in shield_endpoints(data).items()
    }
    gs = data.gs_data
    files[CHART] = chart_svg(gs.get("cites_per_year") or {}, data.name)
    files[CARD] = card_svg(gs, stale=stale)
    for short, count in paper_counts(data.scholar_id, gs).items():
        files[f"{PAPERS_DIR}/{short}.json"] = paper_endpoint(count)
    return files


def is_kit_file(relpath: str) -> bool:
    """Whether ``relpath`` (of an author folder) is a kit file, derived from the data files."""
    return relpath in (CHART, CARD) or relpath.startswith((BADGES_DIR + "/", PAPERS_DIR + "/"))


@functools.lru_cache(maxsize=1)
def page_script() -> bytes:
    """``scholar-stats.js``: the homepage's include (see the file itself)."""
    return importlib.resources.files(__package__).joinpath(SCRIPT).read_bytes()
