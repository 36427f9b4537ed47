"""Citations per year as an SVG bar chart for a README or homepage. Pure function, no I/O.

Drawn at 520 x 220 px with an axis, round gridlines and year labels, so it stays readable at
the size GitHub shows images in a README. Every text (the author's name) is XML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

from scholar_stats.outputs.badges import clean_text

WIDTH = 520
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 34, 28
_BAR = "#4a90d9"
_FONT = 'font-family="Verdana,Geneva,DejaVu Sans,sans-serif"'


def _nice_step(maximum: int, ticks: int = 4) -> int:
    """A 1/2/5 x 10^k step giving about ``ticks`` gridlines up to ``maximum``."""
    raw = max(maximum, 1) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return max(int(factor * power), 1)
    return int(10 * power)


def _short(value: int) -> str:
    """1234 → 1.2k, so axis labels fit the left margin."""
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return str(value)


def render_citations_chart(
    cites_per_year: Mapping[str, int] | Mapping[int, int], title: str
) -> bytes:
    """SVG bytes of a bar per year (sorted), the count above each bar when bars are wide enough."""
    years = sorted((int(year), int(count)) for year, count in cites_per_year.items())
    esc_title = html.escape(clean_text(title, 80), quote=True)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc_title}">'
        f"<title>{esc_title}</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
        f'<text x="{WIDTH / 2:.0f}" y="20" text-anchor="middle" {_FONT} font-size="13" '
        f'fill="#333">{esc_title}</text>'
    ]
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    base_y = _TOP + plot_h
    if not years:
        parts.append(
            f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" {_FONT} '
            'font-size="12" fill="#777">no citations yet</text></svg>'
        )
        return "".join(parts).encode("utf-8")
    top = max(count for _, count in years)
    step = _nice_step(top)
    scale_max = max(step * math.ceil(max(top, 1) / step), step)
    for tick in range(0, scale_max + 1, step):
        y = base_y - tick / scale_max * plot_h
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{"#999" if tick == 0 else "#e5e5e5"}" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {_FONT} font-size="11" '
            f'fill="#555">{_short(tick)}</text>'
        )
    slot = plot_w / len(years)
    bar_w = max(slot * 0.7, 1.0)
    label_every = max(1, math.ceil(34 / slot))  # a 4-digit year needs ~34 px
    for index, (year, count) in enumerate(years):
        x = _LEFT + index * slot + (slot - bar_w) / 2
        h = count / scale_max * plot_h
        parts.append(
            f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{_BAR}"><title>{year}: {count}</title></rect>'
        )
        if slot >= 30 and count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{base_y - h - 3:.1f}" text-anchor="middle" '
                f'{_FONT} font-size="9" fill="#333">{_short(count)}</text>'
            )
        if (len(years) - 1 - index) % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{base_y + 15}" text-anchor="middle" {_FONT} '
                f'font-size="11" fill="#555">{year}</text>'
            )
    parts.append("</svg>")
    return "".join(parts).encode("utf-8")
