"""The homepage kit's files (outputs/kit.py): well-formed SVG whatever the scraped text says,
stable sizes, grey when stale, one endpoint file per paper, and what publish makes of them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.fake_scholar import FakeScholar
from support.store_helpers import gs_data

from scholar_stats.cli import main
from scholar_stats.commands.fetch import stale_kit, write_page_script
from scholar_stats.core.model import METRIC_NAMES, AuthorData, FetchStatus
from scholar_stats.files import write_files
from scholar_stats.outputs import badges, catalogue
from scholar_stats.outputs.card import HEIGHT, WIDTH, render_card
from scholar_stats.outputs.catalogue import render_author_files
from scholar_stats.outputs.chart import fit, render_citations_chart
from scholar_stats.publish.results import build_tree_files, only_volatile_changes

SVG_NS = "{http://www.w3.org/2000/svg}"
SID = "HOSTILEAAAAJ"
HOSTILE = [
    "<script>alert(1)</script>",
    "Tom & Jerry's \"lab\"",
    "]]><x/><![CDATA[",
    "\u202eevil\u202c \u2066isolated\u2069 name",
    "x" * 2000,
    "<!-- comment --> &amp; &#x3c; \x00\x1b[31m",
]


def hostile_data(text: str, pubs: int = 7) -> AuthorData:
    record = gs_data(SID, {f"P{i:011d}": i * 3 for i in range(pubs)})
    record["name"] = text
    record["affiliation"] = text
    for index, pub in enumerate(record["publications"].values()):
        pub["bib"]["title"] = f"{text} {index}"
    return AuthorData(SID, record, since_year=2021)


def texts(svg: bytes) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG_NS}text")]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("stale", [False, True])
def test_every_svg_is_well_formed_and_shows_hostile_text_as_text(text: str, stale: bool) -> None:
    files = catalogue.kit_files(hostile_data(text), stale=stale)
    svgs = {name: body for name, body in files.items() if name.endswith(".svg")}
    assert set(svgs) == {f"badges/{m}.svg" for m in METRIC_NAMES} | {"chart.svg", "card.svg"}
    for name, body in svgs.items():
        root = ET.fromstring(body)  # well-formed XML, or this raises
        assert root.tag == f"{SVG_NS}svg", name
        tags = {element.tag for element in root.iter()}
        assert not {t for t in tags if not t.startswith(SVG_NS)}, (name, tags)  # no injected tags
        assert f"{SVG_NS}script" not in tags and f"{SVG_NS}foreignObject" not in tags
        raw = body.decode()
        for control in ("\u202e", "\u2066", "\x00", "\x1b"):
            assert control not in raw, name
    card = files["card.svg"]
    shown = " ".join(texts(card))
    if text.startswith("<script>"):
        assert "<script>alert(1)</script>" in shown  # shown as text, escaped in the file
        assert b"<script>" not in card
    if len(text) == 2000:
        for picture in (card, files["chart.svg"]):
            assert max(len(t) for t in texts(picture)) < 120  # cut to its box with "…"
            assert "…" in " ".join(texts(picture))


def test_sizes_do_not_depend_on_the_data() -> None:
    """A page reserves the space: the card and the chart keep their size whatever they show."""
    sizes = set()
    for text in ["A", *HOSTILE]:
        for pubs in (0, 1, 300):
            files = catalogue.kit_files(hostile_data(text, pubs))
            for name in ("card.svg", "chart.svg"):
                root = ET.fromstring(files[name])
                sizes.add((name, root.attrib["width"], root.attrib["height"]))
    assert sizes == {("card.svg", str(WIDTH), str(HEIGHT)), ("chart.svg", "520", "220")}


def test_badges_carry_the_logo_and_turn_grey_when_stale() -> None:
    data = hostile_data("Ada")
    fresh = catalogue.kit_files(data)["badges/h-index.svg"]
    stale = catalogue.kit_files(data, stale=True)["badges/h-index.svg"]
    for body in (fresh, stale):
        paths = [p.attrib["d"] for p in ET.fromstring(body).iter(f"{SVG_NS}path")]
        assert badges.SCHOLAR_LOGO_PATH in paths
        assert ET.fromstring(body).find(f"{SVG_NS}title").text == "h-index: 5"  # type: ignore[union-attr]
    fills = lambda body: {r.attrib.get("fill") for r in ET.fromstring(body).iter(f"{SVG_NS}rect")}  # noqa: E731
    assert badges.DEFAULT_COLOR in fills(fresh) and badges.STALE_COLOR not in fills(fresh)
    assert badges.STALE_COLOR in fills(stale) and badges.DEFAULT_COLOR not in fills(stale)
    kit = catalogue.kit_files(data)
    labels = {m: ET.fromstring(kit[f"badges/{m}.svg"]).find(f"{SVG_NS}title").text  # type: ignore[union-attr]
              for m in METRIC_NAMES}
    assert labels["citations-5y"] == f"citations since 2021: {data.gs_data['citedby5y']}"


def test_one_endpoint_file_per_paper_named_after_the_colon() -> None:
    data = hostile_data("Ada", pubs=4)
    data.gs_data["publications"]["OTHERAAAAAAJ:../../x"] = {"num_citations": 5}  # never a path
    files = catalogue.kit_files(data)
    papers = {name: json.loads(body) for name, body in files.items() if name.startswith("papers/")}
    assert set(papers) == {f"papers/P{i:011d}.json" for i in range(4)}
    assert papers["papers/P00000000002.json"] == {"schemaVersion": 1, "label": "citations",
                                                  "message": "6", "color": badges.DEFAULT_COLOR}
    grey = json.loads(catalogue.kit_files(data, stale=True)["papers/P00000000002.json"])
    assert grey["color"] == badges.STALE_COLOR and grey["message"] == "6"
    assert papers["papers/P00000000000.json"]["message"] == "0"  # uncited: "0", a string


def test_chart_draws_the_running_total_on_round_right_axis_labels() -> None:
    svg = render_citations_chart({"2023": 10, "2024": 40, "2025": 20}, "Ada")
    root = ET.fromstring(svg)
    line = root.find(f"{SVG_NS}polyline")
    assert line is not None
    ys = [float(point.split(",")[1]) for point in line.attrib["points"].split()]
    assert ys == sorted(ys, reverse=True) and len(ys) == 3  # rising: y grows downwards
    right = [t.text for t in root.iter(f"{SVG_NS}text") if float(t.attrib["x"]) > 470]
    assert right == ["0", "20", "40", "60", "80"]  # round steps covering the total of 70
    assert "prefers-color-scheme: dark" in svg.decode()


def test_card_ranks_the_most_cited_and_marks_stale() -> None:
    data = hostile_data("Ada", pubs=9)
    card = render_card(data.gs_data)
    shown = texts(card)
    ranked = [t for t in shown if t.startswith("Ada ")]
    assert ranked == ["Ada 8", "Ada 7", "Ada 6", "Ada 5", "Ada 4"]
    assert "not updated recently" not in shown
    assert "not updated recently" in texts(render_card(data.gs_data, stale=True))
    assert "prefers-color-scheme: dark" in card.decode()


def test_fit_cuts_to_the_pixel_width() -> None:
    assert fit("short", 200, 12) == "short"
    cut = fit("W" * 500, 200, 12)
    assert cut.endswith("…") and 10 < len(cut) < 40


def test_fetch_files_include_the_kit_and_publish_treats_them_as_data(tmp_path: Path) -> None:
    data = hostile_data("Ada")
    files = render_author_files(data)
    assert {"chart.svg", "card.svg", "badges/citations.svg",
            "papers/P00000000001.json"} <= set(files)
    tree = build_tree_files({}, {f"{SID}/{k}": v for k, v in files.items()}, "2026-01-01")
    assert f"{SID}/papers/P00000000001.json" in tree and f"{SID}/history.csv" in tree
    again = render_author_files(data)
    assert only_volatile_changes(files, again)  # no time in any kit file: no daily commit
    more = hostile_data("Ada")
    more.gs_data["publications"][f"{SID}:P00000000001"]["num_citations"] += 1
    assert not only_volatile_changes(files, render_author_files(more))


def test_a_failed_fetch_greys_the_kept_kit_once_it_is_stale(tmp_path: Path) -> None:
    data = hostile_data("Ada")
    write_files(tmp_path, render_author_files(data))
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)

    def status(days: float) -> FetchStatus:  # a failure names no since-year: the kept files do
        return FetchStatus(SID, "blocked", 3, "blocked", now.isoformat(),
                           (now - timedelta(days=days)).isoformat())

    assert stale_kit(tmp_path, status(2), now) == {}
    grey = stale_kit(tmp_path, status(8), now)
    assert grey == catalogue.stale_files(data)
    assert set(grey) == set(catalogue.kit_files(data)) | {
        "gs_data_shieldsio.json", *(f"shields/{m}.json" for m in METRIC_NAMES)}
    fresh = render_author_files(data)
    for name in ("gs_data_shieldsio.json", "shields/h-index.json", "papers/P00000000001.json"):
        kept, redrawn = json.loads(fresh[name]), json.loads(grey[name])
        assert (kept["color"], redrawn["color"]) == (badges.DEFAULT_COLOR, badges.STALE_COLOR)
        assert redrawn == {**kept, "color": badges.STALE_COLOR}  # the numbers stay
    assert stale_kit(tmp_path / "nothing", status(8), now) == {}


def test_the_page_script_is_written_once(tmp_path: Path) -> None:
    write_page_script(tmp_path)
    script = tmp_path / catalogue.SCRIPT.name
    assert script.read_bytes() == catalogue.page_script()
    assert b"data-scholar-stats" in script.read_bytes()
    before = script.stat().st_ino
    write_page_script(tmp_path)
    assert script.stat().st_ino == before  # current already: not rewritten


def test_a_blocked_fetch_a_week_after_the_last_success_turns_the_badges_grey(
    fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    real = "LZ5D_p4AAAAJ"
    assert main(["fetch", real, "--out", str(tmp_path)]) == 0
    fresh = (tmp_path / "badges" / "citations.svg").read_bytes()
    assert badges.STALE_COLOR.encode() not in fresh
    fake_scholar.mode = "403"
    assert main(["fetch", real, "--out", str(tmp_path)]) == 3
    assert (tmp_path / "badges" / "citations.svg").read_bytes() == fresh  # a day old: unchanged
    status = json.loads((tmp_path / "status.json").read_text())
    status["last_success"] = (datetime.now(timezone.utc) - timedelta(days=8)).isoformat()
    (tmp_path / "status.json").write_text(json.dumps(status))
    assert main(["fetch", real, "--out", str(tmp_path)]) == 3
    grey = (tmp_path / "badges" / "citations.svg").read_bytes()
    assert badges.STALE_COLOR.encode() in grey and grey != fresh
    title = ET.fromstring((tmp_path / "badges" / "citations-5y.svg").read_bytes()).find(
        f"{SVG_NS}title")
    assert title is not None and "since" in (title.text or "")  # the label kept its year
    assert b"not updated recently" in (tmp_path / "card.svg").read_bytes()


def test_the_service_takes_an_authors_name_and_numbers_from_its_data() -> None:
    from scholar_stats.outputs.catalogue import AuthorState
    from scholar_stats.service.snapshot import build_entry

    data = hostile_data(HOSTILE[1])
    entry = build_entry(AuthorState(SID, data), max_age=60, rebuild_at=0.0)
    assert entry.name == HOSTILE[1] and entry.values == tuple(data.metrics.as_dict().values())
    assert entry.labels["citations-5y"] == "citations since 2021"
    assert entry.data() == data  # what the kit and the pages are drawn from when asked
