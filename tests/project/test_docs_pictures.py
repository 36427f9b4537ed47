"""The documentation's pictures are the project's own, and current: docs/make_pictures.py (a
fake Scholar serving saved pages, ``fetch``, a store, a real ``serve`` and headless Chromium)
draws them again here; every SVG must be byte for byte the committed one, every screenshot a
real picture (light and dark), and every picture a page shows must exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.browser_helpers import CHROMIUM, png_stats
from support.docs import DOCS, every_page
from support.paths import ROOT

IMAGES = DOCS / "images"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install "
                                "chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pictures")
    done = subprocess.run([sys.executable, str(DOCS / "make_pictures.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return out


def test_the_script_draws_exactly_the_committed_pictures(drawn: Path) -> None:
    assert sorted(p.name for p in drawn.iterdir()) == sorted(p.name for p in IMAGES.iterdir())


def test_every_svg_is_what_the_project_draws_today(drawn: Path) -> None:
    """On a mismatch, run python docs/make_pictures.py and commit docs/images/."""
    svgs = sorted(drawn.glob("*.svg"))
    assert len(svgs) == 7 + 5 + 4  # seven metrics, five styles, chart and card light and dark
    changed = [p.name for p in svgs if p.read_bytes() != (IMAGES / p.name).read_bytes()]
    assert not changed, f"docs/images/ is not current: {changed}"


@pytest.mark.parametrize("name", ["index", "author", "group"])
def test_the_screenshots_show_the_page_in_light_and_dark(drawn: Path, name: str) -> None:
    for folder in (drawn, IMAGES):
        light = png_stats(folder / f"{name}-light.png")
        dark = png_stats(folder / f"{name}-dark.png")
        assert light.width == dark.width == 1100
        assert light.mean > 200 and dark.mean < 80, (folder, light.mean, dark.mean)
        assert light.variance > 100 and dark.variance > 100 and light.colors > 20


def test_every_picture_a_page_shows_exists() -> None:
    shown = 0
    for path, text in every_page().items():
        for target in re.findall(r'(?:\]\(|src=")([^)"]*images/[^)"]+)', text):
            assert (path.parent / target).is_file(), (path.name, target)
            shown += 1
    assert shown >= 20
