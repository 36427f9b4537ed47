"""Shields-style SVG badges rendered locally. Pure functions, no I/O after the font table loads.

Text widths come from badgepy's precalculated Verdana/DejaVu tables (a maintained fork of
Google's pybadges), so no text is hand-measured and nothing is fetched at run time. The SVG is
written here, in the geometry of shields.io's badge-maker, because badgepy draws only the flat
styles and always uses white text (unreadable on AcadHomepage's ``labelColor=f6f6f6``).

Every string that reaches the SVG is cleaned (control characters dropped, length clamped) and
XML-escaped; colours are validated against shields' names or hex, so a query parameter can never
inject markup.

The ``social`` style follows badge-maker's ``social`` renderer (see :func:`_render_social`).
"""

from __future__ import annotations

import functools
import html
import importlib.util
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from scholar_stats.core.text import without_bidi

STYLES = ("flat", "flat-square", "plastic", "for-the-badge", "social")
MAX_TEXT = 64
DEFAULT_LABEL_COLOR = "#555"
DEFAULT_COLOR = "#007ec6"
STALE_COLOR = "#9f9f9f"
ERROR_COLOR = "#e05d44"
# Google Scholar's mark (Simple Icons, CC0), 24 x 24: a cap over a circle.
SCHOLAR_LOGO_PATH = (
    "M5.242 13.769L0 9.5 12 0l12 9.5-5.242 4.269C17.548 11.249 14.978 9.5 12 9.5c-2.977 "
    "0-5.548 1.748-6.758 4.269zM12 10a7 7 0 1 0 0 14 7 7 0 0 0 0-14z"
)
SCHOLAR_BLUE = "#4285f4"
_LOGO_SPACE = 17  # 14 px logo and 3 px before the text, as shields lays a logo out

# shields.io badge-maker's named colours (and aliases); anything else must be hex.
NAMED_COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellow": "#dfb317",
    "yellowgreen": "#a4a61d",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "grey": "#555",
    "gray": "#555",
    "lightgrey": "#9f9f9f",
    "lightgray": "#9f9f9f",
    "critical": "#e05d44",
    "important": "#fe7d37",
    "success": "#4c1",
    "informational": "#007ec6",
    "inactive": "#9f9f9f",
    "white": "#fff",
    "black": "#000",
}
_HEX_RE = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


class BadgeParamError(ValueError):
    """A badge parameter (colour, style) that cannot be drawn; the message names it."""


def parse_color(value: str) -> str:
    """A shields colour name or hex (with or without ``#``) → ``#hex``; anything else raises.

    Only these two forms are accepted so the value can be placed in an attribute as is.
    """
    key = value.strip().lower()
    if key in NAMED_COLORS:
        return NAMED_COLORS[key]
    match = _HEX_RE.fullmatch(key)
    if not match:
        raise BadgeParamError(
            f"unknown colour {value[:20]!r}: use a shields name (e.g. blue) or hex (e.g. 9cf)"
        )
    return "#" + match.group(1)


def parse_style(value: str) -> str:
    if value not in STYLES:
        raise BadgeParamError(f"unknown style {value[:20]!r}: use one of {', '.join(STYLES)}")
    return value


def picture_text(text: str, limit: int = MAX_TEXT) -> str:
    """Text as a picture or a page shows it: one line, without the characters XML cannot carry
    (controls, surrogates, non-characters) or bidi overrides, clamped to ``limit`` with "…"."""
    kept = "".join(
        ch
        for ch in without_bidi(text)
        if unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn") or ch == " "
    )
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


@dataclass(frozen=True)
class _Widths:
    """badgepy's precalculated table: px x 10 of each character, and of each kerning pair."""

    mean: float  # a character the table does not hold
    characters: dict[str, float]
    kerning: dict[str, float]


@functools.lru_cache(maxsize=1)
def _widths() -> _Widths:
    """badgepy's ``default-widths.json``, read once on first use (not at import time), from
    badgepy's folder without importing the package: its ``__init__`` imports requests, jinja2
    and more for the drawing done here (9 MB of the service's memory)."""
    spec = importlib.util.find_spec("badgepy")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'badgepy'", name="badgepy")
    table = json.loads((Path(spec.submodule_search_locations[0]) / "default-widths.json")
                       .read_text("utf-8"))
    return _Widths(table["mean-character-length"], table["character-lengths"],
                   table["kerning-pairs"])


def text_width(text: str) -> float:
    """Width in px of ``text`` in 11 px Verdana, as shields measures it (badgepy's
    ``PrecalculatedTextMeasurer.text_width``, on its table)."""
    table = _widths()
    width = 0.0
    for index, char in enumerate(text):
        width += table.characters.get(char, table.mean)
        width -= table.kerning.get(text[index:index + 2], 0)
    return width / 10.0


def _rgb(color: str) -> tuple[int, int, int]:
    digits = color.lstrip("#")
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits[:3])
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _text_colors(background: str) -> tuple[str, str]:
    """(text, shadow) colours readable on ``background``: shields' brightness rule."""
    r, g, b = _rgb(background)
    brightness = (r * 299 + g * 587 + b * 114) / 1000 / 255
    return ("#333", "#ccc") if brightness >= 0.69 else ("#fff", "#010101")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


@dataclass(frozen=True)
class Badge:
    """What to draw; build it with :func:`make_badge` so every field is validated."""

    label: str
    message: str
    color: str
    label_color: str
    style: str
    logo: bool = False  # Google Scholar's mark left of the label


def make_badge(
    label: str,
    message: str,
    *,
    color: str | None = None,
    label_color: str | None = None,
    style: str | None = None,
    logo: bool = False,
) -> Badge:
    """Validate user input into a :class:`Badge`; raises :class:`BadgeParamError`."""
    return Badge(
        label=picture_text(label),
        message=picture_text(message) or "?",
        color=parse_color(color) if color else DEFAULT_COLOR,
        label_color=parse_color(label_color) if label_color else DEFAULT_LABEL_COLOR,
        style=parse_style(style) if style else "flat",
        logo=logo,
    )


def scholar_logo(x: float, y: float, size: float, background: str) -> str:
    """The Scholar mark as a nested SVG (no external image: it draws inside ``<img>``), blue on
    light backgrounds and white on dark ones."""
    fill = SCHOLAR_BLUE if _text_colors(background)[0] == "#333" else "#fff"
    return (
        f'<svg x="{_num(x)}" y="{_num(y)}" width="{_num(size)}" height="{_num(size)}" '
        f'viewBox="0 0 24 24"><path fill="{fill}" d="{SCHOLAR_LOGO_PATH}"/></svg>'
    )


def _part(x: float, width: float, text: str, fill: str, y: int, big: bool, bold: bool) -> str:
    """One text run in shields' scale(.1) layout, with its shadow when the style has one."""
    fg, shadow = _text_colors(fill)
    weight = ' font-weight="bold"' if bold else ""
    center = (x + width / 2) * 10
    length = max(width - (24 if big else 10), 0) * 10
    text = _esc(text)
    shadow_run = (
        f'<text aria-hidden="true" x="{center:.0f}" y="{y + 10}" fill="{shadow}" '
        f'fill-opacity=".3" transform="scale(.1)" textLength="{length:.0f}"{weight}>{text}</text>'
        if not big
        else ""
    )
    return (
        f"{shadow_run}<text x=\"{center:.0f}\" y=\"{y}\" transform=\"scale(.1)\" fill=\"{fg}\" "
        f'textLength="{length:.0f}"{weight}>{text}</text>'
    )


def render_badge(badge: Badge) -> bytes:
    """The SVG bytes of ``badge`` (UTF-8)."""
    style = badge.style
    if style == "social":
        return _render_social(badge)
    label, message = badge.label, badge.message
    extra = _LOGO_SPACE if badge.logo else 0
    if style == "for-the-badge":
        label, message = label.upper(), message.upper()
        height, pad, y = 28, 12.0, 175
        # 10 px text with 1.25 px letter spacing; bold messages are ~10 % wider.
        lw = text_width(label) * 10 / 11 + 1.25 * len(label) + 2 * pad if label else 0
        mw = text_width(message) * 10 / 11 * 1.1 + 1.25 * len(message) + 2 * pad
    else:
        height, y = (18, 130) if style == "plastic" else (20, 140)
        lw = text_width(label) + 10 if label else 0
        mw = text_width(message) + 10
    if badge.logo:
        lw = lw + extra if label else 24 + (8 if style == "for-the-badge" else 0)
    lw, mw = round(lw), round(mw)
    total = lw + mw
    title = _esc(f"{label}: {message}" if label else message)
    if style == "flat":
        defs = (
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
            'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
            f'<clipPath id="r"><rect width="{total}" height="{height}" rx="3" fill="#fff"/>'
            "</clipPath>"
        )
        group = '<g clip-path="url(#r)">'
        overlay = f'<rect width="{total}" height="{height}" fill="url(#s)"/>'
    elif style == "plastic":
        defs = (
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#fff" '
            'stop-opacity=".7"/><stop offset=".1" stop-color="#aaa" stop-opacity=".1"/>'
            '<stop offset=".9" stop-color="#000" stop-opacity=".3"/><stop offset="1" '
            'stop-color="#000" stop-opacity=".5"/></linearGradient>'
            f'<clipPath id="r"><rect width="{total}" height="{height}" rx="4" fill="#fff"/>'
            "</clipPath>"
        )
        group = '<g clip-path="url(#r)">'
        overlay = f'<rect width="{total}" height="{height}" fill="url(#s)"/>'
    else:  # flat-square, for-the-badge: square corners, solid colours
        defs, group, overlay = "", '<g shape-rendering="crispEdges">', ""
    font_size = 100 if style == "for-the-badge" else 110
    big = style == "for-the-badge"
    texts = _part(extra, lw - extra, label, badge.label_color, y, big, False) if label else ""
    if badge.logo:
        texts = scholar_logo(9 if big else 5, 7 if big else (2 if style == "plastic" else 3), 14,
                             badge.label_color) + texts
    texts += _part(lw, mw, message, badge.color, y, big, big)
    spacing = ' letter-spacing="12.5"' if big else ""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" '
        f'role="img" aria-label="{title}"><title>{title}</title>{defs}{group}'
        f'<rect width="{lw}" height="{height}" fill="{badge.label_color}"/>'
        f'<rect x="{lw}" width="{mw}" height="{height}" fill="{badge.color}"/>{overlay}</g>'
        f'<g text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        f'text-rendering="geometricPrecision" font-size="{font_size}"{spacing}>{texts}</g></svg>'
    )
    return svg.encode("utf-8")


def _num(value: float) -> str:
    """A coordinate as badge-maker prints it: ``12``, ``12.5`` (never ``12.0``)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def _social_width(text: str) -> int:
    """badge-maker's ``preferredWidthOf`` for the social font, rounded up to odd.

    badge-maker measures social text as bold 11 px Helvetica; badgepy has no Helvetica table, so
    this uses the same 11 px Verdana table as every other style. Verdana runs a few per cent wider
    than Helvetica Bold (digits ~7.0 px against ~6.1 px, lower case within ~5 %), so social badges
    come out slightly wider than shields.io's, never too narrow: ``textLength`` fits the text in.
    """
    width = int(text_width(text))
    return width + 1 if width % 2 == 0 else width


def _render_social(badge: Badge) -> bytes:
    """badge-maker's ``social`` template (without logo and links), height 20.

    A light rounded label box (``#fcfcfc`` under a faint gradient, ``#d5d5d5`` stroke) holds the
    label with its first letter capitalised; the message sits in a separate white bubble with a
    small left-pointing arrow, 6 px to the right. Text is bold 11 px, ``#333`` over a white shadow.

    As on shields.io, ``color`` and ``labelColor`` do not change the look, with one exception:
    the stale grey (:data:`STALE_COLOR`, also what ``lightgrey``/``inactive`` name), which the
    service sets on data too old to trust. Then the number is kept, as in every other style, but
    its bubble and arrow are filled grey with white text, so a stale social badge stays
    recognisable.
    """
    label = badge.label[:1].upper() + badge.label[1:]
    message = badge.message
    external_height, internal_height = 20, 19
    label_pad, message_pad, gutter = 5, 4, 6
    label_text_width = _social_width(label)  # 1 for no label, as in badge-maker
    message_text_width = _social_width(message)
    shift = _LOGO_SPACE if badge.logo else 0
    label_rect = label_text_width + 2 * label_pad + shift
    message_rect = message_text_width + 2 * message_pad
    total = label_rect + 1 + gutter + message_rect
    stale = badge.color == STALE_COLOR
    bubble = STALE_COLOR if stale else "#fafafa"
    title = _esc(f"{label}: {message}" if label else message)

    bubble_x = label_rect + gutter + 0.5
    notch_x = label_rect + gutter
    shapes = (
        f'<g stroke="#d5d5d5"><rect stroke="none" fill="#fcfcfc" x="0.5" y="0.5" '
        f'width="{label_rect}" height="{internal_height}" rx="2"/>'
        f'<rect x="{_num(bubble_x)}" y="0.5" width="{message_rect}" height="{internal_height}" '
        f'rx="2" fill="{bubble}"/>'
        f'<rect x="{_num(notch_x)}" y="7.5" width="0.5" height="5" stroke="{bubble}"/>'
        f'<path d="M{_num(bubble_x)} 6.5 l-3 3v1 l3 3" stroke="#d5d5d5" fill="{bubble}"/></g>'
    )

    def run(x: float, length: int, text: str, on_grey: bool = False) -> str:
        """A text and its shadow 1 px below; white on grey for the stale bubble."""
        text = _esc(text)
        x_at, scaled = f'x="{_num(x)}"', f'transform="scale(.1)" textLength="{length}"'
        shadow = 'fill="#010101" fill-opacity=".3"' if on_grey else 'fill="#fff"'
        fill = ' fill="#fff"' if on_grey else ""
        return (
            f'<text aria-hidden="true" {x_at} y="150" {shadow} {scaled}>{text}</text>'
            f'<text {x_at} y="140"{fill} {scaled}>{text}</text>'
        )

    label_run = (
        f'<rect stroke="#d5d5d5" fill="url(#a)" x=".5" y=".5" width="{label_rect}" '
        f'height="{internal_height}" rx="2"/>'
    )
    if label:
        label_run += run(10 * (label_text_width / 2 + label_pad + shift), 10 * label_text_width,
                         label)
    if badge.logo:
        label_run += scholar_logo(5, 3, 14, "#fcfcfc")
    message_x = 10 * (label_rect + gutter + message_rect / 2)
    message_run = run(message_x, 10 * message_text_width, message, on_grey=stale)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{external_height}" '
        f'role="img" aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="a" x2="0" y2="100%"><stop offset="0" stop-color="#fcfcfc" '
        'stop-opacity="0"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f"{shapes}"
        '<g aria-hidden="true" fill="#333" text-anchor="middle" '
        'font-family="Helvetica Neue,Helvetica,Arial,sans-serif" '
        'text-rendering="geometricPrecision" font-weight="700" font-size="110px" '
        f'line-height="14px">{label_run}{message_run}</g></svg>'
    )
    return svg.encode("utf-8")


def error_badge(message: str, label: str = "scholar") -> bytes:
    """A red flat badge for "there is no data to show" (untracked, malformed request)."""
    return render_badge(make_badge(label, message, color=ERROR_COLOR))
