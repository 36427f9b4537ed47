"""Homepages built by their own tools: Debian's ``jekyll`` and ``hugo`` (``.ci/run`` installs
them), a results folder of real data with a hostile paper title in it, and a reader of the HTML
they produce (the text of each element by id, and every tag, so markup smuggled in a title would
show as a tag).
"""

from __future__ import annotations

import html
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

from support.cli_helpers import run_main
from support.fake_scholar import REAL_ID, FakeScholar

# Everything YAML, Liquid, Go templates and HTML could take for something else.
HOSTILE = ("<script>alert('x')</script> \"quoted\": a #hash &anchor *alias "
           "!!python/object:os.system {{ site.title }} {% raw %} \u2013 \u00e9")
HOSTILE_PAPER = "W7OEmFMy1HYC"  # the real page's paper whose title is replaced


def hostile_results(fake: FakeScholar, out: Path) -> dict[str, object]:
    """``fetch`` of the real saved profile into ``out``, one paper's title replaced by
    :data:`HOSTILE` in the page Scholar serves (so it comes through the parser like any title);
    the record written."""
    import json

    def doctor(_scholar_id: str, page: str) -> str:
        start = page.index(f"citation_for_view={REAL_ID}:{HOSTILE_PAPER}")
        link_end = page.index(">", start) + 1
        title_end = page.index("</a>", link_end)
        return page[:link_end] + html.escape(HOSTILE) + page[title_end:]

    fake.doctor = doctor
    code, _out, err = run_main(["fetch", REAL_ID, "--out", str(out)])
    fake.doctor = None
    assert code == 0, err
    record: dict[str, object] = json.loads((out / "gs_data.json").read_text("utf-8"))
    pubs = record["publications"]
    assert isinstance(pubs, dict)
    assert pubs[f"{REAL_ID}:{HOSTILE_PAPER}"]["bib"]["title"] == HOSTILE
    return record


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: .ci/run installs Debian's jekyll and hugo"
    return path


def jekyll_build(source: Path, dest: Path, home: Path) -> None:
    """``jekyll build --safe`` (GitHub Pages' mode: no plugins), as Debian ships it."""
    run = subprocess.run([tool("jekyll"), "build", "--safe", "-q", "-s", str(source), "-d",
                          str(dest)], capture_output=True, text=True, timeout=180, check=False,
                         env={"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                              "JEKYLL_ENV": "production"})
    assert run.returncode == 0, run.stdout + run.stderr


def hugo_build(source: Path, dest: Path, home: Path) -> None:
    run = subprocess.run([tool("hugo"), "-s", str(source), "-d", str(dest), "--quiet"],
                         capture_output=True, text=True, timeout=180, check=False,
                         env={"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert run.returncode == 0, run.stdout + run.stderr


class Page(HTMLParser):
    """A built page: the text inside each element with an id, and every start tag seen."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("img", "meta", "link", "br", "input"):
            return
        ident = dict(attrs).get("id")
        self._open.append(ident)
        if ident:
            self.text[ident] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag not in ("img", "meta", "link", "br", "input"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for ident in self._open:
            if ident:
                self.text[ident] += data


def read_page(path: Path) -> Page:
    return Page(path.read_text("utf-8"))
