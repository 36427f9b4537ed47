"""Citations per year as an SVG chart for a README or homepage. Pure functions, no I/O.

Drawn at 520 x 220 px (always, so a page does not jump when it loads): a bar per year on the left
axis and the running total as a line on the right axis, round gridlines and year labels, so it
stays readable at the size GitHub shows images in a README. Colours live in a ``<style>`` with a
``prefers-color-scheme: dark`` rule, so the same file reads on light and dark pages (an ``<img>``
follows the viewer's setting). Every text (the author's name) is cleaned and XML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

from scholar_stats.outputs.badges import picture_text, text_width

WIDTH = 520
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 48, 34, 40
_FONT = 'font-family="Verdana,Geneva,DejaVu Sans,sans-serif"'
# Light colours first; the dark rule swaps them when the viewer prefers dark.
STYLE = (
    "<style>"
    ".bg{fill:#fff}.tt{fill:#333}.lb{fill:#555}.gr{stroke:#e5e5e5}.ax{stroke:#999}"
    ".bar{fill:#4a90d9}.cum{stroke:#e8710a;fill:none}.dot{fill:#e8710a}"
    "@media (prefers-color-scheme: dark){.bg{fill:#0d1117}.tt{fill:#e6edf3}.lb{fill:#9da7b3}"
    ".gr{stroke:#30363d}.ax{stroke:#6e7681}.bar{fill:#58a6ff}.cum{stroke:#f0883e}"
    ".dot{fill:#f0883e}}"
    "</style>"
)


def fit(text: str, width: float, size: float, bold: bool = False) -> str:
    """``text`` cleaned and cut (with "…") so that it is at most ``width`` px at ``size`` px."""
    text = picture_text(text, 2000)
    factor = size / 11 * (1.1 if bold else 1.0)
    if text_width(text) * factor <= width:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis
    while low < high:
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + "…") * factor <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


def nice_step(maximum: int, ticks: int = 4) -> int:
    """A 1/2/5 x 10^k step giving about ``ticks`` gridlines up to ``maximum``."""
    raw = max(maximum, 1) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return max(int(factor * power), 1)
    return int(10 * power)


def covering_step(total: int, ticks: int) -> int:
    """The smallest 1/2/5 x 10^k step whose ``ticks`` steps reach ``total``: round labels for
    the right axis, whose gridlines are the left axis's."""
    power = 1
    while True:
        for factor in (1, 2, 5):
            if factor * power * ticks >= total:
                return factor * power
        power *= 10


def short_number(value: int) -> str:
    """1234 → 1.2k, so axis labels fit the margins."""
    if value >= 10_000_000:
        return f"{value / 1_000_000:.0f}M"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return str(value)


def sorted_years(cites_per_year: Mapping[str, int] | Mapping[int, int]) -> list[tuple[int, int]]:
    return sorted((int(year), int(count)) for year, count in cites_per_year.items())


def render_citations_chart(
    cites_per_year: Mapping[str, int] | Mapping[int, int], title: str
) -> bytes:
    """SVG bytes: a bar per year (sorted), the count above each bar when bars are wide enough,
    and the cumulative total as a line on its own axis (right)."""
    years = sorted_years(cites_per_year)
    esc_title = html.escape(fit(title, WIDTH - 20, 13), quote=True)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc_title}">'
        f"<title>{esc_title}</title>{STYLE}"
        f'<rect class="bg" width="{WIDTH}" height="{HEIGHT}"/>'
        f'<text class="tt" x="{WIDTH / 2:.0f}" y="20" text-anchor="middle" {_FONT} '
        f'font-size="13">{esc_title}</text>'
    ]
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    base_y = _TOP + plot_h
    if not years:
        parts.append(
            f'<text class="lb" x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" '
            f'{_FONT} font-size="12">no citations yet</text></svg>'
        )
        return "".join(parts).encode("utf-8")
    top = max(count for _, count in years)
    step = nice_step(top)
    scale_max = max(step * math.ceil(max(top, 1) / step), step)
    total = sum(count for _, count in years)
    cum_max = covering_step(max(total, 1), scale_max // step) * (scale_max // step)
    for tick in range(0, scale_max + 1, step):
        fraction = tick / scale_max
        y = base_y - fraction * plot_h
        parts.append(
            f'<line class="{"ax" if tick == 0 else "gr"}" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}" stroke-width="1"/>'
            f'<text class="lb" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {_FONT} '
            f'font-size="11">{short_number(tick)}</text>'
            f'<text class="lb" x="{WIDTH - _RIGHT + 6}" y="{y + 4:.1f}" {_FONT} '
            f'font-size="11">{short_number(round(fraction * cum_max))}</text>'
        )
    slot = plot_w / len(years)
    bar_w = max(slot * 0.7, 1.0)
    label_every = max(1, math.ceil(34 / slot))  # a 4-digit year needs ~34 px
    running = 0
    points = []
    for index, (year, count) in enumerate(years):
        x = _LEFT + index * slot + (slot - bar_w) / 2
        h = count / scale_max * plot_h
        running += count
        points.append((x + bar_w / 2, base_y - running / cum_max * plot_h))
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}"><title>{year}: {count} (total {running})</title></rect>'
        )
        if slot >= 30 and count:
            parts.append(
                f'<text class="tt" x="{x + bar_w / 2:.1f}" y="{base_y - h - 3:.1f}" '
                f'text-anchor="middle" {_FONT} font-size="9">{short_number(count)}</text>'
            )
        if (len(years) - 1 - index) % label_every == 0:
            parts.append(
                f'<text class="lb" x="{x + bar_w / 2:.1f}" y="{base_y + 15}" '
                f'text-anchor="middle" {_FONT} font-size="11">{year}</text>'
            )
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    last_x, last_y = points[-1]
    parts.append(
        f'<polyline class="cum" points="{line}" stroke-width="2" stroke-linejoin="round"/>'
        f'<circle class="dot" cx="{last_x:.1f}" cy="{last_y:.1f}" r="3"/>'
        f'<rect class="bar" x="{_LEFT}" y="{HEIGHT - 10}" width="9" height="7"/>'
        f'<text class="lb" x="{_LEFT + 13}" y="{HEIGHT - 3}" {_FONT} font-size="10">per year'
        f"</text>"
        f'<line class="cum" x1="{_LEFT + 80}" x2="{_LEFT + 94}" y1="{HEIGHT - 6.5}" '
        f'y2="{HEIGHT - 6.5}" stroke-width="2"/>'
        f'<text class="lb" x="{_LEFT + 98}" y="{HEIGHT - 3}" {_FONT} font-size="10">total '
        f"(right axis)</text></svg>"
    )
    return "".join(parts).encode("utf-8")
