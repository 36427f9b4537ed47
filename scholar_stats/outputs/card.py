"""A profile card as SVG: name, affiliation, the three main numbers, a small per-year chart and
the five most-cited papers. Pure function, no I/O.

Always 480 x 300 px, whatever the data, so a page does not jump when it loads. Text is measured
with the badge renderer's width table and cut with "…" to its box; every scraped string is
cleaned and XML-escaped. Colours follow ``prefers-color-scheme`` inside the SVG.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from scholar_stats.outputs.badges import scholar_logo, text_width
from scholar_stats.outputs.chart import fit, short_number, sorted_years

WIDTH = 480
HEIGHT = 300
TOP_PAPERS = 5
_FONT = 'font-family="Verdana,Geneva,DejaVu Sans,sans-serif"'
STYLE = (
    "<style>"
    ".bg{fill:#fff;stroke:#d0d7de}.tt{fill:#1f2328}.lb{fill:#59636e}.num{fill:#1f2328}"
    ".sep{stroke:#d0d7de}.bar{fill:#4a90d9}.stale .num{fill:#9f9f9f}.warn{fill:#9a6700}"
    "@media (prefers-color-scheme: dark){.bg{fill:#0d1117;stroke:#30363d}.tt{fill:#e6edf3}"
    ".lb{fill:#9da7b3}.num{fill:#e6edf3}.sep{stroke:#30363d}.bar{fill:#58a6ff}"
    ".stale .num{fill:#6e7681}.warn{fill:#d29922}}"
    "</style>"
)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def top_papers(gs_data: Mapping[str, Any], count: int = TOP_PAPERS) -> list[tuple[str, int]]:
    """(title, citations) of the most-cited papers, ties in the profile's order."""
    pubs = (gs_data.get("publications") or {}).values()
    ranked = sorted(
        (
            (str((pub.get("bib") or {}).get("title") or "untitled"),
             int(pub.get("num_citations") or 0))
            for pub in pubs
        ),
        key=lambda item: -item[1],
    )
    return ranked[:count]


def _spark(cites_per_year: Mapping[str, int], x0: int, y0: int, w: int, h: int) -> str:
    years = sorted_years(cites_per_year)[-15:]
    if not years:
        return ""
    top = max(max(count for _, count in years), 1)
    slot = w / len(years)
    bars = "".join(
        f'<rect class="bar" x="{x0 + i * slot + slot * 0.15:.1f}" '
        f'y="{y0 + h - count / top * h:.1f}" width="{slot * 0.7:.1f}" '
        f'height="{count / top * h:.1f}"><title>{year}: {count}</title></rect>'
        for i, (year, count) in enumerate(years)
    )
    first, last = years[0][0], years[-1][0]
    return (
        f"{bars}"
        f'<text class="lb" x="{x0}" y="{y0 + h + 12}" {_FONT} font-size="9">{first}</text>'
        f'<text class="lb" x="{x0 + w}" y="{y0 + h + 12}" text-anchor="end" {_FONT} '
        f'font-size="9">{last}</text>'
    )


def render_card(gs_data: Mapping[str, Any], *, stale: bool = False) -> bytes:
    """SVG bytes of the profile card for a ``gs_data.json`` record."""
    name = fit(str(gs_data.get("name") or gs_data.get("scholar_id") or ""), 400, 18, bold=True)
    affiliation = fit(str(gs_data.get("affiliation") or ""), 420, 12)
    title = _esc(f"{name}: Google Scholar")
    numbers = (
        ("citations", gs_data.get("citedby")),
        ("h-index", gs_data.get("hindex")),
        ("i10-index", gs_data.get("i10index")),
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}"><title>{title}</title>'
        f'{STYLE}<rect class="bg" x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}" '
        f'rx="8"/>{scholar_logo(18, 16, 24, "#fff")}'
        f'<text class="tt" x="50" y="34" {_FONT} font-size="18" font-weight="bold">'
        f"{_esc(name)}</text>"
        f'<text class="lb" x="50" y="54" {_FONT} font-size="12">{_esc(affiliation)}</text>'
        f'<g class="{"stale" if stale else "fresh"}">'
    ]
    for index, (label, value) in enumerate(numbers):
        x = 20 + index * 95
        shown = short_number(int(value)) if isinstance(value, int) else "\u2013"
        parts.append(
            f'<text class="num" x="{x}" y="98" {_FONT} font-size="24" font-weight="bold">'
            f"{shown}</text>"
            f'<text class="lb" x="{x}" y="116" {_FONT} font-size="11">{label}</text>'
        )
    parts.append("</g>")
    parts.append(_spark(gs_data.get("cites_per_year") or {}, 310, 70, 150, 36))
    parts.append(
        f'<line class="sep" x1="20" x2="{WIDTH - 20}" y1="132.5" y2="132.5"/>'
        f'<text class="tt" x="20" y="154" {_FONT} font-size="12" font-weight="bold">'
        f"Most cited</text>"
    )
    for index, (paper, count) in enumerate(top_papers(gs_data)):
        y = 178 + index * 22
        counted = short_number(count)
        room = WIDTH - 40 - text_width(counted) - 16
        parts.append(
            f'<text class="tt" x="20" y="{y}" {_FONT} font-size="12">'
            f"{_esc(fit(paper, room, 12))}</text>"
            f'<text class="lb" x="{WIDTH - 20}" y="{y}" text-anchor="end" {_FONT} '
            f'font-size="11">{counted}</text>'
        )
    if stale:
        parts.append(
            f'<text class="warn" x="{WIDTH - 20}" y="154" text-anchor="end" {_FONT} '
            'font-size="11">not updated recently</text>'
        )
    parts.append("</svg>")
    return "".join(parts).encode("utf-8")
