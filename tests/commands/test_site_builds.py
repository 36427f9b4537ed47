"""``scholar-stats site`` proved by the themes' own tools (issue 20, item 2): real Jekyll and Hugo
build sites from what it writes, and every number of the real saved profile is in the HTML they
produce; a paper title made of YAML, Liquid, Go-template and HTML syntax comes out as text.

The data is the saved Scholar page of LZ5D_p4AAAAJ (56 citations, 12 papers) fetched from the
fake Scholar, one of its titles replaced by ``support.site_builds.HOSTILE``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support.cli_helpers import run_main
from support.fake_scholar import REAL_ID, FakeScholar
from support.site_builds import (
    HOSTILE,
    HOSTILE_PAPER,
    hostile_results,
    hugo_build,
    jekyll_build,
    read_page,
)

# The lookup of al-folio's _layouts/bib.liquid since its citations come from
# _data/citations.yml (bin/update_scholar_citations.py, al-folio PR #3177): the entry's key is
# the site's scholar_userid, a colon and the entry's google_scholar_id; its count is that paper's
# `citations` in site.data.citations.papers, shown in a shields badge, "N/A" when missing.
AL_FOLIO_LOOKUP = """\
{% assign entry_has_google_scholar_badge = false %}
{% if entry.google_scholar_id %}
  {% assign entry_has_google_scholar_badge = true %}
{% endif %}
{% if site.enable_publication_badges.google_scholar and entry_has_google_scholar_badge %}
  {% assign citation_key = site.data.socials.scholar_userid | append: ':' | append: entry.google_scholar_id %}
  {% assign citation_count = site.data.citations.papers[citation_key].citations | default: 'N/A' %}
  <a
    href="https://scholar.google.com/citations?view_op=view_citation&hl=en&user={{ site.data.socials.scholar_userid }}&citation_for_view={{ site.data.socials.scholar_userid }}:{{ entry.google_scholar_id }}"
    aria-label="Google Scholar link"
    role="button"
  >
    <img
      src="https://img.shields.io/badge/scholar-{{ citation_count }}-4285F4?logo=googlescholar&labelColor=beige"
      alt="{{ citation_count }} Google Scholar citations"
    >
  </a>
{% endif %}
"""  # noqa: E501 - al-folio's lines, as they are


@pytest.fixture
def results(fake_scholar: FakeScholar, tmp_path: Path) -> dict[str, Any]:
    return hostile_results(fake_scholar, tmp_path / "results")


def papers(record: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Paper id (after the colon) -> (citations, title), from the record."""
    return {pub_id.split(":", 1)[1]: (pub["num_citations"], pub["bib"]["title"])
            for pub_id, pub in record["publications"].items()}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")


def assert_inert(page_tags: list[str]) -> None:
    """No markup came from the data: the test pages have no script of their own."""
    assert "script" not in page_tags


def test_al_folio_shows_every_papers_count_through_its_own_lookup(
    results: dict[str, Any], fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    site = tmp_path / "al-folio"
    entries = "".join(f"- key: entry{n}\n  google_scholar_id: {pub}\n"
                      for n, pub in enumerate([*papers(results), "NOTAPAPER000"]))
    write(site, {
        "_config.yml": "title: al-folio\nenable_publication_badges:\n  google_scholar: true\n",
        "_data/socials.yml": f"scholar_userid: {REAL_ID}\n",
        "_data/entries.yml": entries,
        "_includes/bib.liquid": '<div id="{{ entry.key }}">\n' + AL_FOLIO_LOOKUP
        # the test's own line: the title as al-folio's file holds it, escaped as a page would
        + '<span id="{{ entry.key }}-title">{{ site.data.citations.papers[citation_key].title'
          ' | escape }}</span>\n</div>\n',
        "index.html": "---\n---\n{% for entry in site.data.entries %}{% include bib.liquid %}"
                      "{% endfor %}\n",
    })
    fake_scholar.requests.clear()
    code, _out, err = run_main(["site", "al-folio", "--site", str(site), "--from",
                               str(tmp_path / "results")])  # the id: from _data/socials.yml
    assert code == 0, err
    assert fake_scholar.requests == []
    jekyll_build(site, tmp_path / "built", tmp_path)
    built = (tmp_path / "built" / "index.html").read_text("utf-8")
    page = read_page(tmp_path / "built" / "index.html")
    for n, (pub, (count, title)) in enumerate(papers(results).items()):
        block = built.split(f'<div id="entry{n}">', 1)[1].split("</div>", 1)[0]
        assert f"img.shields.io/badge/scholar-{count}-4285F4" in block, pub
        assert f"citation_for_view={REAL_ID}:{pub}" in block
        assert page.text[f"entry{n}-title"] == title
    unknown = built.split(f'<div id="entry{len(papers(results))}">', 1)[1]
    assert "badge/scholar-N/A-4285F4" in unknown.split("</div>", 1)[0]
    hostile = list(papers(results)).index(HOSTILE_PAPER)
    assert page.text[f"entry{hostile}-title"] == HOSTILE
    assert_inert(page.tags)


METRICS = {"citations": "citedby", "citations-5y": "citedby5y", "h-index": "hindex",
           "h-index-5y": "hindex5y", "i10-index": "i10index", "i10-index-5y": "i10index5y"}


def expected_numbers(record: dict[str, Any]) -> dict[str, str]:
    """Element id -> the text the include or shortcode must print there."""
    numbers = {f"m-{metric}": str(record[key]) for metric, key in METRICS.items()}
    numbers["m-publications"] = str(len(record["publications"]))
    for pub, (count, title) in papers(record).items():
        numbers[f"p-{pub}"] = str(count)
        numbers[f"w-{pub}"] = str(count)  # by its whole USERID:PUBID
        numbers[f"t-{pub}"] = title
    numbers["unknown-paper"] = numbers["unknown-author"] = numbers["unknown-metric"] = ""
    return numbers


def calls(record: dict[str, Any], call: str) -> str:
    """A page of one element per number, each filled by ``call`` (the include or shortcode
    with the parameters given)."""
    asks = {f"m-{metric}": f'metric="{metric}"' for metric in [*METRICS, "publications"]}
    for pub in papers(record):
        asks[f"p-{pub}"] = f'paper="{pub}"'
        asks[f"w-{pub}"] = f'paper="{REAL_ID}:{pub}"'
        asks[f"t-{pub}"] = f'paper="{pub}" field="title"'
    asks["unknown-paper"] = 'paper="NOTAPAPER000"'
    asks["unknown-author"] = 'id="AAAAAAAAAAAA" metric="citations"'
    asks["unknown-metric"] = 'metric="g-index"'
    return "".join(f'<p id="{ident}">{call.format(ask)}</p>\n' for ident, ask in asks.items())


def test_a_jekyll_site_prints_every_number_with_the_include(
    results: dict[str, Any], tmp_path: Path,
) -> None:
    site = tmp_path / "jekyll"
    write(site, {
        # academicpages names the author by a profile URL
        "_config.yml": "title: academic\nauthor:\n  name: Doaa\n  googlescholar: "
                       f'"https://scholar.google.com/citations?user={REAL_ID}&hl=en"\n',
        "index.html": "---\n---\n" + calls(results, "{{% include scholar-stats.html {} %}}"),
    })
    code, _out, err = run_main(["site", "jekyll", "--site", str(site), "--from",
                                str(tmp_path / "results")])
    assert code == 0, err
    jekyll_build(site, tmp_path / "built", tmp_path)
    page = read_page(tmp_path / "built" / "index.html")
    assert {k: page.text.get(k) for k in expected_numbers(results)} == expected_numbers(results)
    assert page.text[f"t-{HOSTILE_PAPER}"] == HOSTILE
    assert_inert(page.tags)
    assert re.search(r"&lt;script&gt;", (tmp_path / "built" / "index.html").read_text())


def test_a_hugo_site_prints_every_number_with_the_shortcode(
    results: dict[str, Any], tmp_path: Path,
) -> None:
    site = tmp_path / "hugo"
    write(site, {
        "hugo.toml": 'baseURL = "https://example.org/"\ntitle = "hugo"\n'
                     'disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404"]\n'
                     "[markup.goldmark.renderer]\n  unsafe = true\n"
                     f'[params]\n  scholar = "https://scholar.google.com/citations?user={REAL_ID}"\n',
        "layouts/_default/single.html": "<html><body>{{ .Content }}</body></html>\n",
        "layouts/_default/list.html": "<html><body>{{ .Content }}</body></html>\n",
        "content/stats.md": "---\ntitle: stats\n---\n\n"
                            + calls(results, "{{{{< scholar-stats {} >}}}}"),
    })
    code, _out, err = run_main(["site", "hugo", "--site", str(site), "--from",
                                str(tmp_path / "results")])  # the id: from hugo.toml
    assert code == 0, err
    hugo_build(site, tmp_path / "built", tmp_path)
    page = read_page(tmp_path / "built" / "stats" / "index.html")
    assert {k: page.text.get(k) for k in expected_numbers(results)} == expected_numbers(results)
    assert page.text[f"t-{HOSTILE_PAPER}"] == HOSTILE
    assert_inert(page.tags)
