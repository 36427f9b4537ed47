"""The homepage kit in a real browser (headless Chromium): ``scholar-stats.js`` on
AcadHomepage-style pages against a folder ``fetch`` wrote (served like jsDelivr: another origin,
CORS open) and against the live service, and the service's pages, screenshotted in light and
dark mode and checked to show something.

Every page installs hooks before anything else: uncaught errors (``window.onerror``), unhandled
promise rejections and ``console.error`` are collected, ``console.warn`` counted, and the result
written into the page after the script had time to finish; an inline script *after* the include
proves the rest of the page kept running.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.browser_helpers import (
    CHROMIUM,
    Elements,
    Misbehave,
    png_stats,
    rendered_dom,
    screenshot,
    static_site,
)
from support.fake_scholar import FakeScholar
from support.service_helpers import FRESH, STALE, fill_store, free_port, now, pubs, running_server
from support.store_helpers import success

from scholar_stats.cli import main
from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.refresh.record import record_outcome
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.store.database import Store

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")

REAL = "LZ5D_p4AAAAJ"  # a real saved profile page the fake Scholar serves (12 publications)
UNKNOWN = f"{REAL}:NOSUCHPAPER0"
HOSTILE = "HOSTILE12345"
PAYLOAD = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'

HOOKS = """<script>
  window.__errors = []; window.__warnings = 0;
  window.addEventListener("error", function (e) { __errors.push("error: " + e.message); });
  window.addEventListener("unhandledrejection",
                          function (e) { __errors.push("rejection: " + e.reason); });
  var realError = console.error, realWarn = console.warn;
  console.error = function () { __errors.push("console: " + [].join.call(arguments, " ")); };
  console.warn = function () { __warnings += 1; realWarn.apply(console, arguments); };
  setTimeout(function () {
    document.getElementById("report").textContent =
      JSON.stringify({errors: __errors, warnings: __warnings});
  }, 4000);
</script>"""


def page(include: str, body: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>home</title>{HOOKS}</head>'
            f'<body>{body}<p id="after"></p><pre id="report"></pre>{include}'
            f'<script>document.getElementById("after").textContent = "ran";</script></body></html>')


def include(src: str, base: str) -> str:
    return f'<script src="{html.escape(src)}" data-base="{html.escape(base)}"></script>'


def acad_body(paper_ids: list[str], total: bool = True) -> str:
    spans = "".join(
        f'<p>Paper <span class="show_paper_citations" id="paper{i}" data="{html.escape(p)}">'
        f"keep</span></p>" for i, p in enumerate(paper_ids)
    )
    metrics = "".join(f'<span id="m-{m}" data-scholar-stats="{m}">?</span>' for m in METRIC_NAMES)
    extra = ('<span id="m-updated" data-scholar-stats="updated">?</span>'
             '<span id="m-bogus" data-scholar-stats="bogus">?</span>')
    cit = '<p>Citations: <span id="total_cit">?</span></p>' if total else ""
    return cit + spans + metrics + extra


def run_page(site: Path, homepage: str, name: str, content: str, tmp_path: Path) -> Elements:
    (site / name).write_text(content, encoding="utf-8")
    dom = rendered_dom(f"{homepage}/{name}", tmp_path / f"profile-{name}")
    found = Elements(dom)
    assert found.text("after") == "ran", dom  # the page went on after the include
    return found


def report(found: Elements) -> dict:
    return json.loads(found.text("report"))


@pytest.fixture
def results(fake_scholar: FakeScholar, tmp_path: Path) -> Path:
    """What ``fetch`` writes for one real profile (the branch's content), plus a stale copy
    (fetched 30 days ago) and a broken one (malformed JSON)."""
    data = tmp_path / "data"
    assert main(["fetch", REAL, "--out", str(data / "fresh")]) == 0
    shutil.copytree(data / "fresh", data / "stale")
    record = json.loads((data / "stale" / "gs_data.json").read_text())
    old = datetime.now(timezone.utc) - timedelta(days=30)
    record["updated"] = old.isoformat(timespec="seconds")
    (data / "stale" / "gs_data.json").write_text(json.dumps(record))
    shutil.copytree(data / "fresh", data / "broken")
    (data / "broken" / "gs_data.json").write_text('{"citedby": 12, "publications": {')
    return data


def test_the_script_fills_an_acadhomepage_page_and_survives_everything(
    results: Path, tmp_path: Path
) -> None:
    record = json.loads((results / "fresh" / "gs_data.json").read_text())
    known = list(record["publications"])[:3]
    site = tmp_path / "site"
    site.mkdir()
    with static_site(results) as cdn, static_site(site) as homepage:
        script = f"{cdn}/fresh/scholar-stats.js"

        # 1. the AcadHomepage page, with an unknown paper id and an unknown metric
        found = run_page(site, homepage, "acad.html",
                         page(include(script, f"{cdn}/fresh/"), acad_body([*known, UNKNOWN])),
                         tmp_path)
        assert report(found) == {"errors": [], "warnings": 2}  # the unknown paper, the bogus metric
        assert found.text("total_cit") == str(record["citedby"])
        for i, pub_id in enumerate(known):
            count = record["publications"][pub_id]["num_citations"]
            assert found.text(f"paper{i}") == f"| Citations: {count}"
        assert found.text("paper3") == "keep"  # the unknown id: left alone
        values = {"citations": "citedby", "citations-5y": "citedby5y", "h-index": "hindex",
                  "h-index-5y": "hindex5y", "i10-index": "i10index", "i10-index-5y": "i10index5y"}
        for metric, key in values.items():
            assert found.text(f"m-{metric}") == str(record[key])
        assert found.text("m-publications") == str(len(record["publications"]))
        assert re.fullmatch(r"just now|\d+ minutes ago", found.text("m-updated"))
        assert found.text("m-bogus") == "?"
        assert "scholar-stats-stale" not in found.root_class
        assert "scholar-stats-stale" not in found.classes("total_cit")

        # 2. no #total_cit; the script found by its own folder (no data-base)
        found = run_page(site, homepage, "nototal.html",
                         page(f'<script src="{script}"></script>', acad_body(known, total=False)),
                         tmp_path)
        assert report(found)["errors"] == []
        assert found.text("paper0").startswith("| Citations: ")

        # 3. a dead base URL: nothing filled, nothing thrown
        dead = f"http://127.0.0.1:{free_port()}/"
        found = run_page(site, homepage, "dead.html", page(include(script, dead), acad_body(known)),
                         tmp_path)
        assert report(found)["errors"] == [] and report(found)["warnings"] >= 1
        assert found.text("total_cit") == "?" and found.text("paper0") == "keep"

        # 4. malformed JSON: the same
        found = run_page(site, homepage, "broken.html",
                         page(include(script, f"{cdn}/broken/"), acad_body(known)), tmp_path)
        assert report(found)["errors"] == [] and found.text("total_cit") == "?"

        # 5. stale data (30 days old): numbers shown, marked for the page to style
        found = run_page(site, homepage, "stale.html",
                         page(include(script, f"{cdn}/stale"), acad_body(known)), tmp_path)
        assert report(found)["errors"] == []
        assert found.text("total_cit") == str(record["citedby"])
        assert "scholar-stats-stale" in found.root_class
        assert {"scholar-stats-stale"} <= found.classes("total_cit") & found.classes("paper0")
        assert found.text("m-updated") == "30 days ago"


# The order things happen in, seen from the page: the status.json request answered (or failed),
# the numbers filled (#total_cit), the stale mark put on <html>.
ORDER = """<script>
  window.__events = [];
  var realFetch = window.fetch;
  window.fetch = function (url, init) {
    var answer = realFetch.call(window, url, init);
    if (/status\\.json$/.test(String(url))) {
      answer.then(function () { __events.push("status answered"); },
                  function () { __events.push("status failed"); });
    }
    return answer;
  };
  function seen(what) { if (__events.indexOf(what) < 0) { __events.push(what); } }
  new MutationObserver(function () {
    var total = document.getElementById("total_cit");
    if (total && total.textContent !== "?") { seen("numbers"); }
    if (/scholar-stats-stale/.test(document.documentElement.className)) { seen("stale"); }
  }).observe(document.documentElement,
             {subtree: true, childList: true, characterData: true, attributes: true});
  setTimeout(function () {
    document.getElementById("events").textContent = JSON.stringify(__events);
  }, 4000);
</script>"""


def test_the_numbers_do_not_wait_for_a_slow_or_failing_status(
    results: Path, tmp_path: Path
) -> None:
    """status.json answering 3 s late, failing with a 500, or dropping the connection: the
    numbers are filled from gs_data.json first, and the stale mark follows status.json's
    answer (its own "stale", else the age of the data: 30 days here)."""
    record = json.loads((results / "fresh" / "gs_data.json").read_text())
    known = list(record["publications"])[:1]
    status = json.loads((results / "fresh" / "status.json").read_text())
    cases = {  # folder: (the data, what status.json says, what the page sees)
        "late-stale": ("fresh", {**status, "stale": True},
                       ["numbers", "status answered", "stale"]),
        "late-fresh": ("stale", {**status, "stale": False}, ["numbers", "status answered"]),
        "failing": ("stale", status, ["numbers", "status answered", "stale"]),
        "dropped": ("stale", status, ["numbers", "status failed", "stale"]),
    }
    for folder, (data, answer, _seen) in cases.items():
        shutil.copytree(results / data, results / folder)
        (results / folder / "status.json").write_text(json.dumps(answer))
    misbehave = {"/late-stale/status.json": Misbehave(wait=3),
                 "/late-fresh/status.json": Misbehave(wait=3),
                 "/failing/status.json": Misbehave(wait=3, status=500),
                 "/dropped/status.json": Misbehave(wait=3, drop=True)}
    site = tmp_path / "site"
    site.mkdir()
    with static_site(results, misbehave) as cdn, static_site(site) as homepage:
        script = f"{cdn}/fresh/scholar-stats.js"
        for folder, (_data, _answer, seen) in cases.items():
            content = page(include(script, f"{cdn}/{folder}/"), acad_body(known))
            content = content.replace("</head>", ORDER + "</head>").replace(
                '<pre id="report">', '<pre id="events"></pre><pre id="report">')
            found = run_page(site, homepage, f"{folder}.html", content, tmp_path)
            assert report(found)["errors"] == [], folder
            assert json.loads(found.text("events")) == seen, folder
            assert found.text("total_cit") == str(record["citedby"]), folder
            count = record["publications"][known[0]]["num_citations"]
            assert found.text("paper0") == f"| Citations: {count}", folder
            marked = "stale" in seen
            assert ("scholar-stats-stale" in found.root_class) is marked, folder
            for element in ("total_cit", "paper0", "m-citations", "m-updated"):
                assert ("scholar-stats-stale" in found.classes(element)) is marked, folder


@pytest.fixture
def service_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    fill_store(url)
    with Store(url) as store:
        t = now()
        store.add_authors([HOSTILE], 86400, t)
        outcome = success(HOSTILE, pubs(8), t)
        assert outcome.data is not None
        outcome.data.gs_data["name"] = PAYLOAD + " & \u202eevil"
        outcome.data.gs_data["affiliation"] = "]]> \" ' <b>bold</b>"
        for pub in outcome.data.gs_data["publications"].values():
            pub["bib"]["title"] = PAYLOAD + "x" * 2000
        record_outcome(store, outcome, t)
    return url


def test_the_script_reads_the_service_and_its_stale_status(service_db: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    app = create_app(ServiceSettings(db_url=service_db, scheduler=False, poll_seconds=0))
    with running_server(app) as base, static_site(site) as homepage:
        fresh = run_page(site, homepage, "fresh.html", page(
            include(f"{base}/scholar-stats.js", f"{base}/authors/{FRESH}/"),
            acad_body([f"{FRESH}:P00000000005", f"{FRESH}:NOSUCHPAPER0"])), tmp_path)
        stale = run_page(site, homepage, "stale.html", page(
            include(f"{base}/scholar-stats.js", f"{base}/authors/{STALE}/"),
            acad_body([f"{STALE}:P00000000001"])), tmp_path)
    assert report(fresh)["errors"] == [] and report(stale)["errors"] == []
    assert fresh.text("total_cit") == str(sum(pubs(12).values()))
    assert fresh.text("paper0") == f"| Citations: {pubs(12)['P00000000005']}"
    assert fresh.text("paper1") == "keep"
    assert "scholar-stats-stale" not in fresh.root_class
    assert "scholar-stats-stale" in stale.root_class  # status.json says stale
    assert stale.text("paper0") == f"| Citations: {pubs(5)['P00000000001']}"


def test_the_service_pages_render_escaped_in_light_and_dark(
    service_db: str, tmp_path: Path
) -> None:
    app = create_app(ServiceSettings(db_url=service_db, scheduler=False, poll_seconds=0))
    shots = {}
    with running_server(app) as base:
        index = Elements(rendered_dom(f"{base}/", tmp_path / "p-index"))
        hostile_dom = rendered_dom(f"{base}/authors/{HOSTILE}/", tmp_path / "p-hostile")
        hostile = Elements(hostile_dom)
        for name, path in (("index", "/"), ("author", f"/authors/{FRESH}/"),
                           ("hostile", f"/authors/{HOSTILE}/"), ("stale", f"/authors/{STALE}/")):
            for dark in (False, True):
                shot = tmp_path / f"{name}-{'dark' if dark else 'light'}.png"
                shots[shot.stem] = screenshot(f"{base}{path}", shot, tmp_path / f"s-{shot.stem}",
                                              dark=dark)
    assert index.title.startswith("scholar-stats: 5 authors")
    # the name is text (bidi overrides dropped), never markup: nothing ran, nothing was added
    assert hostile.title == f"{PAYLOAD} & evil: Google Scholar stats"
    assert "<script" not in hostile_dom and "<img src=\"x\"" not in hostile_dom
    assert "&lt;script&gt;" in hostile_dom
    for stem, shot in shots.items():
        stats = png_stats(shot)
        assert (stats.width, stats.height) == (1100, 1400), stem
        assert stats.variance > 100 and stats.colors > 20, (stem, stats)  # not blank
        if stem.endswith("-dark"):
            assert stats.mean < 90, (stem, stats)  # the page follows prefers-color-scheme
        else:
            assert stats.mean > 170, (stem, stats)
