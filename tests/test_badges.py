"""Badges and the chart: escaped input, valid XML, validated colours, readable text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from scholar_stats import badges
from scholar_stats.chart import render_citations_chart

SVG_NS = "{http://www.w3.org/2000/svg}"
HOSTILE = [
    "<script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "' onload='alert(1)",
    "&amp; &lt; &#x3C;script&#x3E; &unknown;",
    "]]><x/><![CDATA[",
    "a\x00b\x1bc\ufffe\ud800",
]


def texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    return [el.text or "" for el in root.iter(f"{SVG_NS}text")]


@pytest.mark.parametrize("style", badges.STYLES)
@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_labels_stay_text(style: str, label: str) -> None:
    svg = badges.render_badge(badges.make_badge(label, "12", style=style))
    root = ET.fromstring(svg)
    assert {el.tag for el in root.iter()} <= {
        f"{SVG_NS}{t}" for t in ("svg", "title", "linearGradient", "stop", "clipPath", "rect", "g", "text")
    }
    assert b"<script" not in svg
    assert not [a for el in root.iter() for a in el.attrib if a.lower().startswith("on")]
    shown = texts(svg)[0 if style == "for-the-badge" else 1]
    expected = badges.clean_text(label)
    assert shown == (expected.upper() if style == "for-the-badge" else expected)


def test_quotes_cannot_leave_attributes() -> None:
    svg = badges.render_badge(badges.make_badge('x" onload="evil', "1"))
    root = ET.fromstring(svg)
    assert "onload" not in root.attrib
    assert root.attrib["aria-label"] == 'x" onload="evil: 1'


@pytest.mark.parametrize(
    ("value", "expected"),
    [("9cf", "#9cf"), ("#f6f6f6", "#f6f6f6"), ("FFAA0080", "#ffaa0080"), ("brightgreen", "#4c1"),
     ("Gray", "#555"), ("lightgrey", "#9f9f9f")],
)
def test_colors_named_or_hex(value: str, expected: str) -> None:
    assert badges.parse_color(value) == expected


@pytest.mark.parametrize(
    "value", ["red;x", '"><script>', "url(#a)", "12345", "#ggg", "rgb(1,2,3)", "", "#"]
)
def test_bad_colors_refused(value: str) -> None:
    with pytest.raises(badges.BadgeParamError):
        badges.parse_color(value)


def test_unknown_style_refused() -> None:
    with pytest.raises(badges.BadgeParamError, match="unknown style"):
        badges.make_badge("a", "1", style="social<")


def test_label_is_clamped() -> None:
    badge = badges.make_badge("x" * 500, "1")
    assert len(badge.label) == badges.MAX_TEXT and badge.label.endswith("…")
    width = int(ET.fromstring(badges.render_badge(badge)).attrib["width"])
    assert width < 600


def test_text_is_dark_on_light_backgrounds() -> None:
    # AcadHomepage's badge: labelColor=f6f6f6, color=9cf; white text would be invisible.
    svg = badges.render_badge(badges.make_badge("citations", "1234", color="9cf", label_color="f6f6f6"))
    fills = [el.attrib["fill"] for el in ET.fromstring(svg).iter(f"{SVG_NS}text")
             if "fill-opacity" not in el.attrib]
    assert fills == ["#333", "#333"]
    dark = badges.render_badge(badges.make_badge("citations", "1234"))
    assert [el.attrib["fill"] for el in ET.fromstring(dark).iter(f"{SVG_NS}text")
            if "fill-opacity" not in el.attrib] == ["#fff", "#fff"]


def test_width_follows_measured_text() -> None:
    short = ET.fromstring(badges.render_badge(badges.make_badge("h-index", "7")))
    long = ET.fromstring(badges.render_badge(badges.make_badge("h-index", "1234567")))
    assert int(long.attrib["width"]) > int(short.attrib["width"]) + 30
    assert 40 < badges.text_width("citations") < 55  # shields measures 47 px


def test_error_badge_is_red_and_says_why() -> None:
    svg = badges.error_badge("not tracked")
    assert badges.ERROR_COLOR.encode() in svg
    assert "not tracked" in texts(svg)


def test_chart_escapes_and_scales() -> None:
    svg = render_citations_chart({"2023": 10, "2024": 40, 2025: 20}, "<b>Zoë</b> & \"co\"")
    root = ET.fromstring(svg)
    assert root.find(f"{SVG_NS}title").text == '<b>Zoë</b> & "co"'  # type: ignore[union-attr]
    bars = [el for el in root.iter(f"{SVG_NS}rect") if el.find(f"{SVG_NS}title") is not None]
    heights = {el.find(f"{SVG_NS}title").text: float(el.attrib["height"]) for el in bars}  # type: ignore[union-attr]
    assert heights["2024: 40"] == pytest.approx(4 * heights["2023: 10"], rel=0.01)
    assert {"2023", "2024", "2025"} <= set(texts(svg))
    assert 400 <= int(root.attrib["width"]) <= 600


def test_chart_without_data_and_with_many_years() -> None:
    empty = render_citations_chart({}, "nobody")
    assert "no citations yet" in texts(empty)
    many = render_citations_chart({str(y): y - 1950 for y in range(1960, 2027)}, "long career")
    year_labels = [t for t in texts(many) if len(t) == 4 and t.isdigit()]
    assert "2026" in year_labels and 5 <= len(year_labels) <= 20  # thinned, never overlapping
