"""The service's pages under their Content-Security-Policy in headless Chromium: nothing they
need is refused (Chromium logs every refusal to the console, which it prints to stderr) and
their style applies (a dark page in dark mode). That every picture they show is there is
checked in ``test_service_pages.py``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.browser_helpers import _FLAGS, CHROMIUM, png_stats, screenshot, static_site
from support.service_helpers import EMPTY, FRESH, STALE, fill_store, running_server

from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.store.database import Store

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
REFUSED = "Content Security Policy"  # in each line Chromium logs for a refusal


def console(url: str, profile: Path) -> tuple[str, list[str]]:
    """The page's DOM, and what it logged to the console, after it loaded."""
    assert CHROMIUM is not None
    out = subprocess.run(
        [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True)
    return out.stdout, [line for line in out.stderr.splitlines() if ":CONSOLE" in line]


def test_chromium_reports_what_a_policy_refuses(tmp_path: Path) -> None:
    """The check below can fail: a page whose policy refuses its style and picture is
    reported."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "x.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')
    (site / "refused.html").write_text(
        "<!doctype html><html><head><meta http-equiv=\"Content-Security-Policy\" "
        "content=\"default-src 'none'\"><style>p { color: red }</style></head>"
        "<body><p>text</p><img src=\"x.svg\"></body></html>")
    with static_site(site) as base:
        _dom, logged = console(f"{base}/refused.html", tmp_path / "profile")
    refused = [line for line in logged if REFUSED in line]
    assert any("style" in line for line in refused), logged
    assert any("x.svg" in line for line in refused), logged


def test_the_pages_work_under_their_policy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    fill_store(url)
    with Store(url) as store:
        store.add_to_group("lab", [FRESH, STALE])
    app = create_app(ServiceSettings(db_url=url, scheduler=False, poll_seconds=0))
    pages = ["/", f"/authors/{FRESH}/", f"/authors/{STALE}/", f"/authors/{EMPTY}/",
             "/groups/lab/"]
    with running_server(app) as base:
        for n, path in enumerate(pages):
            dom, logged = console(base + path, tmp_path / f"profile-{n}")
            assert "</table>" in dom or "No data yet" in dom, path
            assert not [line for line in logged if REFUSED in line], (path, logged)
            shot = screenshot(base + path, tmp_path / f"page-{n}.png", tmp_path / f"shot-{n}",
                              dark=True)
            stats = png_stats(shot)
            assert stats.mean < 90 and stats.colors > 20, (path, stats)  # styled, dark
