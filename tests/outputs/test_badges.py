"""Badges and the chart: escaped input, valid XML, validated colours, readable text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from scholar_stats.outputs import badges
from scholar_stats.outputs.chart import render_citations_chart

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
        f"{SVG_NS}{t}"
        for t in ("svg", "title", "linearGradient", "stop", "clipPath", "rect", "g", "text", "path")
    }
    assert b"<script" not in svg
    assert not [a for el in root.iter() for a in el.attrib if a.lower().startswith("on")]
    shown = texts(svg)[0 if style == "for-the-badge" else 1]
    expected = badges.picture_text(label)
    if style == "for-the-badge":
        expected = expected.upper()
    elif style == "social":
        expected = expected[:1].upper() + expected[1:]
    assert shown == expected


@pytest.mark.parametrize("style", badges.STYLES)
@pytest.mark.parametrize("message", HOSTILE)
def test_hostile_messages_stay_text(style: str, message: str) -> None:
    svg = badges.render_badge(badges.make_badge("a", message, style=style))
    assert b"<script" not in svg
    expected = badges.picture_text(message)
    assert texts(svg)[-1] == (expected.upper() if style == "for-the-badge" else expected)


@pytest.mark.parametrize("style", badges.STYLES)
def test_quotes_cannot_leave_attributes(style: str) -> None:
    svg = badges.render_badge(badges.make_badge('x" onload="evil', "1", style=style))
    root = ET.fromstring(svg)
    assert "onload" not in root.attrib
    shown = {"for-the-badge": 'X" ONLOAD="EVIL: 1', "social": 'X" onload="evil: 1'}.get(
        style, 'x" onload="evil: 1')
    assert root.attrib["aria-label"] == shown
    assert root.find(f"{SVG_NS}title").text == shown  # type: ignore[union-attr]


def social(label: str, message: str, **kw: str) -> ET.Element:
    badge = badges.make_badge(label, message, style="social", **kw)
    return ET.fromstring(badges.render_badge(badge))


def test_social_badge_is_badge_makers_template() -> None:
    root = social("citations", "1234")
    assert root.attrib["height"] == "20"
    assert root.attrib["aria-label"] == "Citations: 1234"
    shown = [(el.text, el.attrib.get("aria-hidden")) for el in root.iter(f"{SVG_NS}text")]
    # each run is a white shadow 1 px below, then the text in the group's dark grey
    assert shown == [("Citations", "true"), ("Citations", None), ("1234", "true"), ("1234", None)]
    shadows = [el for el in root.iter(f"{SVG_NS}text") if el.attrib.get("aria-hidden")]
    assert {el.attrib["fill"] for el in shadows} == {"#fff"}
    group = next(g for g in root.iter(f"{SVG_NS}g") if g.find(f"{SVG_NS}text") is not None)
    assert group.attrib["fill"] == "#333" and group.attrib["font-weight"] == "700"
    assert group.attrib["font-size"] == "110px"
    rects = list(root.iter(f"{SVG_NS}rect"))
    label_box = next(r for r in rects if r.attrib.get("fill") == "url(#a)")
    assert label_box.attrib["stroke"] == "#d5d5d5" and label_box.attrib["rx"] == "2"
    bubble = next(r for r in rects if r.attrib.get("fill") == "#fafafa" and r.attrib.get("rx"))
    assert root.find(f".//{SVG_NS}path") is not None  # the bubble's arrow
    # geometry: label box, 1 px, 6 px gutter, message bubble; text widths from the table, odd
    label_w, bubble_w = int(label_box.attrib["width"]), int(bubble.attrib["width"])
    assert label_w % 2 == 1 and bubble_w % 2 == 1
    assert float(bubble.attrib["x"]) == label_w + 6.5
    assert int(root.attrib["width"]) == label_w + 1 + 6 + bubble_w
    assert label_w - 10 == int(badges.text_width("Citations")) | 1


def test_social_capitalises_only_the_first_letter() -> None:
    assert [el.text for el in social("h-index", "7").iter(f"{SVG_NS}text")][1] == "H-index"
    assert [el.text for el in social("citations since 2020", "7").iter(f"{SVG_NS}text")][1] == (
        "Citations since 2020")
    no_label = social("", "7")
    assert [el.text for el in no_label.iter(f"{SVG_NS}text")] == ["7", "7"]
    assert no_label.attrib["aria-label"] == "7"


def test_social_width_grows_with_text() -> None:
    short, long = social("h-index", "7"), social("h-index", "1234567")
    assert int(long.attrib["width"]) > int(short.attrib["width"]) + 30
    long_width = int(social("citations since 2020", "7").attrib["width"])
    assert long_width > int(short.attrib["width"]) + 50


def test_social_ignores_colours_but_shows_stale_grey() -> None:
    plain = badges.render_badge(badges.make_badge("citations", "12", style="social"))
    for kw in ({"color": "red"}, {"label_color": "f6f6f6"}, {"color": "9cf", "label_color": "000"}):
        badge = badges.make_badge("citations", "12", style="social", **kw)
        assert badges.render_badge(badge) == plain
    stale = badges.render_badge(
        badges.Badge("citations", "12", badges.STALE_COLOR, badges.DEFAULT_LABEL_COLOR, "social"))
    assert stale != plain
    root = ET.fromstring(stale)
    assert [el.text for el in root.iter(f"{SVG_NS}text")][-1] == "12"  # the number is kept
    assert badges.STALE_COLOR in {el.attrib.get("fill") for el in root.iter(f"{SVG_NS}rect")}
    assert root.attrib["width"] == ET.fromstring(plain).attrib["width"]


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
    svg = badges.render_badge(
        badges.make_badge("citations", "1234", color="9cf", label_color="f6f6f6"))
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


def test_widths_are_badgepys_measure_of_its_table() -> None:
    """The width table is read from badgepy's file without importing badgepy (whose package
    imports requests and jinja2): every width is what badgepy's own measurer gives."""
    import importlib.resources
    import random
    import subprocess
    import sys

    from badgepy.precalculated_text_measurer import PrecalculatedTextMeasurer

    table = importlib.resources.files("badgepy").joinpath("default-widths.json")
    with table.open(encoding="utf-8") as stream:
        measurer = PrecalculatedTextMeasurer.from_json(stream)
    rng = random.Random(7)
    texts = ["citations", "h-index since 2021", "AVATAR To Wa", "Ωμέγα ☃ 東京 é", "", *HOSTILE]
    texts += ["".join(chr(rng.randint(32, 0x3000)) for _ in range(20)) for _ in range(500)]
    for text in texts:
        assert badges.text_width(text) == float(measurer.text_width(text)) / 10.0, text
    drawn = subprocess.run(
        [sys.executable, "-c", "import sys; from scholar_stats.outputs import badges; "
         "badges.render_badge(badges.make_badge('citations', '12')); "
         "print(sorted(m for m in ('badgepy', 'requests', 'jinja2') if m in sys.modules))"],
        capture_output=True, text=True, check=True)
    assert drawn.stdout.strip() == "[]"


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
    assert heights["2024: 40 (total 50)"] == pytest.approx(4 * heights["2023: 10 (total 10)"],
                                                           rel=0.01)
    assert {"2023", "2024", "2025"} <= set(texts(svg))
    assert 400 <= int(root.attrib["width"]) <= 600


def test_chart_without_data_and_with_many_years() -> None:
    empty = render_citations_chart({}, "nobody")
    assert "no citations yet" in texts(empty)
    many = render_citations_chart({str(y): y - 1950 for y in range(1960, 2027)}, "long career")
    year_labels = [t for t in texts(many) if len(t) == 4 and t.isdigit()]
    assert "2026" in year_labels and 5 <= len(year_labels) <= 20  # thinned, never overlapping
