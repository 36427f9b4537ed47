"""An AcadHomepage-style page in a real browser (headless Chromium), reading the live service.

The whole path: a real saved Scholar page served by the fake Scholar, ``refresh`` into a SQLite
store, ``serve``'s app under a real uvicorn, and a homepage on another origin whose script does
what AcadHomepage's ``fetch_google_scholar_stats.html`` does (docs/architecture.md, "What an
AcadHomepage page reads") with the service's base URL: ``citedby`` into ``#total_cit``,
``publications[<data>].num_citations`` into every ``.show_paper_citations``. The page also shows
the service's SVG badge and chart as images.

``.ci/run`` installs Chromium (Debian's package) for this test.
"""

from __future__ import annotations

import functools
import html
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.fake_scholar import FakeScholar
from support.service_helpers import running_server

from scholar_stats.cli import main
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.store.database import Store

REAL = "LZ5D_p4AAAAJ"  # a real saved profile page the fake Scholar serves (12 publications)
CHROMIUM = (shutil.which("chromium") or shutil.which("chromium-browser")
            or shutil.which("google-chrome"))

# What the homepage's include does, with the service as the data source (vanilla JS, no jQuery:
# nothing here can be loaded from a CDN). The images report their drawn size when they load.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Homepage</title></head><body>
<p>Citations: <span id="total_cit">?</span></p>
{spans}
<img id="badge" src="{base}/authors/{sid}/badges/citations.svg?labelColor=f6f6f6&amp;color=9cf"
     onload="this.dataset.loaded = this.naturalWidth + 'x' + this.naturalHeight">
<img id="chart" src="{base}/authors/{sid}/chart.svg"
     onload="this.dataset.loaded = this.naturalWidth + 'x' + this.naturalHeight">
<p id="origin"></p>
<script>
  document.getElementById("origin").textContent = location.origin;
  fetch("{base}/authors/{sid}/gs_data.json").then(r => r.json()).then(data => {{
    document.getElementById("total_cit").innerHTML = data["citedby"];
    for (const element of document.getElementsByClassName("show_paper_citations")) {{
      const paperId = element.getAttribute("data");
      element.innerHTML = "| Citations: " + data["publications"][paperId]["num_citations"];
    }}
  }});
</script>
</body></html>
"""


@contextmanager
def static_site(root: Path) -> Iterator[str]:
    """A plain static file server on its own loopback port: the homepage's origin."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def rendered_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran and its images loaded, from headless Chromium."""
    assert CHROMIUM is not None
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return out.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_an_acadhomepage_page_reads_the_service(
    fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["authors", "add", REAL, "--db", db]) == 0
    assert main(["refresh", "--db", db]) == 0
    with Store(db) as store:
        profile = store.latest(REAL)
    assert profile is not None
    publications = profile.gs_data["publications"]
    chosen = list(publications)[:3] + list(publications)[-2:]

    app = create_app(ServiceSettings(db_url=db, scheduler=False, poll_seconds=0))
    site = tmp_path / "site"
    site.mkdir()
    with running_server(app) as base, static_site(site) as homepage:
        spans = "\n".join(
            f'<p>Paper <span class="show_paper_citations" data="{html.escape(pub_id)}"></span></p>'
            for pub_id in chosen
        )
        (site / "index.html").write_text(PAGE.format(spans=spans, base=base, sid=REAL))
        dom = rendered_dom(f"{homepage}/index.html", tmp_path / "chromium-profile")

    assert f'<p id="origin">{homepage}</p>' in dom and homepage != base  # a cross-origin read
    total = re.search(r'<span id="total_cit">([^<]*)</span>', dom)
    assert total is not None and total.group(1) == str(profile.gs_data["citedby"]), dom
    shown = dict(re.findall(r'data="([^"]+)">\| Citations: (\d+)</span>', dom))
    expected = {html.escape(p): str(publications[p]["num_citations"]) for p in chosen}
    assert shown == expected, dom
    for image in ("badge", "chart"):
        size = re.search(rf'id="{image}"[^>]*data-loaded="(\d+)x(\d+)"', dom)
        assert size is not None, f"the {image} did not load: {dom}"
        width, height = map(int, size.groups())
        assert width > 40 and height >= 20
