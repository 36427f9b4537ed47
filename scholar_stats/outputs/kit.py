"""The homepage kit's drawings: the pictures and small files beside the data that let a homepage
show its numbers without the live service. Pure functions, no I/O.

Each is drawn here once and used by the catalogue (``outputs/catalogue.py``: the kit's files,
which ``fetch`` and ``export`` write) and by the service (the same bytes, drawn when asked; a
badge also with the query's label, colours and style).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from scholar_stats.outputs import badges
from scholar_stats.outputs.card import render_card
from scholar_stats.outputs.chart import render_citations_chart
from scholar_stats.outputs.render import data_endpoint, dump_json


def metric_badge(
    label: str, value: int, *, stale: bool, color: str | None = None,
    label_color: str | None = None, style: str | None = None,
) -> bytes:
    """The badge of one metric, with the Scholar logo: flat and blue unless asked otherwise,
    grey when stale whatever the colour asked (the number is kept: the data is old). Raises
    ``badges.BadgeParamError`` for a colour or style that cannot be drawn."""
    badge = badges.make_badge(label, str(value), color=color, label_color=label_color,
                              style=style, logo=True)
    if stale:
        badge = dataclasses.replace(badge, color=badges.STALE_COLOR)
    return badges.render_badge(badge)


def paper_endpoint(count: int, *, stale: bool, cache_seconds: int | None = None) -> bytes:
    """One paper's shields endpoint: label "citations", its count, grey when stale."""
    return dump_json(data_endpoint("citations", str(count), stale=stale,
                                   cache_seconds=cache_seconds))


def chart_svg(cites_per_year: Mapping[str, int], name: str) -> bytes:
    return render_citations_chart(cites_per_year, f"{name}: citations per year")


def card_svg(gs_data: Mapping[str, Any], *, stale: bool) -> bytes:
    return render_card(gs_data, stale=stale)
