"""The files ``site`` writes for each theme (``outputs/themes.py``), as bytes: al-folio's
``_data/citations.yml`` exactly as al-folio's own script writes it, every scraped string read
back by a safe YAML loader as the same string, the marker that tells scholar-stats' files from a
person's, and the theme table as the one place their paths are spelled."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.paths import ROOT

from scholar_stats.core.model import AuthorData
from scholar_stats.outputs.themes import (
    MARKER,
    THEMES,
    draw_site,
    is_al_folio_file,
    owned,
    site_data,
)

SID = "THEMEAUTHOR1"
HOSTILE = [
    "<script>alert('x')</script>", 'say "hi"', "key: value", "a # comment", "# comment",
    "&anchor", "*alias", "!!python/object:os.system", "!!python/object/apply:os.system ['ls']",
    "!!binary aGk=", "yes", "no", "null", "~", "2020", "0x1F", "1e3", ".inf", "- item",
    "[a, b]", "{a: b}", "|", ">", "%TAG ! tag:x", "@at", "`tick`", "'single'", " leading",
    "trailing ", "tab\there", "{{ site.title }}", "{% raw %}", "caf\u00e9 \u2013 \u4e2d\u6587",
    "line\u2028separator", "bom\ufeffhere", "emoji \U0001f600", "",
]


def record(titles: list[str], citations: int = 5, updated: str = "2026-12-01T06:00:00+00:00",
           scholar_id: str = SID) -> dict[str, Any]:
    pubs = {}
    for n, title in enumerate(titles):
        pub_id = f"{scholar_id}:PAPER{n:07d}"
        bib: dict[str, str] = {"title": title, "citation": "Journal, 2020"}
        if n % 3:
            bib["pub_year"] = str(2000 + n)
        pubs[pub_id] = {"container_type": "Publication", "source": "AUTHOR_PUBLICATION_ENTRY",
                        "bib": bib, "filled": False, "author_pub_id": pub_id,
                        "num_citations": citations + n}
    return {"container_type": "Author", "scholar_id": scholar_id, "name": "Ada <b>Lovelace</b>",
            "citedby": 120, "citedby5y": 80, "hindex": 6, "hindex5y": 5, "i10index": 4,
            "i10index5y": 3, "cites_per_year": {2025: 40}, "publications": pubs,
            "updated": updated}


def author(gs_data: dict[str, Any]) -> AuthorData:
    return AuthorData(gs_data["scholar_id"], gs_data, None)


def al_folio_script_bytes(gs_data: dict[str, Any], today: str) -> bytes:
    """What al-folio's bin/update_scholar_citations.py writes for this author, by its own
    code: its loop over scholarly's publications and its ``yaml.dump`` call."""
    citation_data: dict[str, Any] = {"metadata": {"last_updated": today}, "papers": {}}
    for pub in gs_data["publications"].values():
        pub_id = pub.get("pub_id") or pub.get("author_pub_id")
        citation_data["papers"][pub_id] = {
            "title": pub.get("bib", {}).get("title", "Unknown Title"),
            "year": pub.get("bib", {}).get("pub_year", "Unknown Year"),
            "citations": pub.get("num_citations", 0),
        }
    return yaml.dump(citation_data, width=1000, sort_keys=True).encode()


def test_al_folio_citations_yml_is_byte_for_byte_what_its_script_writes() -> None:
    gs_data = record(["A plain title", "Deep nets: a survey", "caf\u00e9 <i>x</i>"])
    drawn = draw_site(THEMES["al-folio"], [author(gs_data)], {})["_data/citations.yml"]
    first, body = drawn.split(b"\n", 1)
    assert MARKER.encode() in first and first.startswith(b"# ")
    assert body == al_folio_script_bytes(gs_data, "2026-12-01")
    papers = yaml.safe_load(drawn)["papers"]
    assert papers[f"{SID}:PAPER0000000"] == {"citations": 5, "title": "A plain title",
                                             "year": "Unknown Year"}
    assert papers[f"{SID}:PAPER0000001"]["year"] == "2001"  # a string, as scholarly has it


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_every_hostile_title_is_read_back_as_the_same_string(theme: str) -> None:
    gs_data = record(HOSTILE)
    drawn = draw_site(THEMES[theme], [author(gs_data)], {})
    data_file = next(path for path in drawn if path.endswith((".yml", ".yaml")))
    value = yaml.safe_load(drawn[data_file])  # the safe loader: a tag would raise here
    if theme == "al-folio":
        titles = [value["papers"][f"{SID}:PAPER{n:07d}"]["title"] for n in range(len(HOSTILE))]
    else:
        papers = value["authors"][SID]["papers"]
        titles = [papers[f"PAPER{n:07d}"]["title"] for n in range(len(HOSTILE))]
    assert titles == HOSTILE
    assert drawn[data_file].isascii()  # every other character escaped, as al-folio's are
    for text in HOSTILE:
        assert yaml.safe_load(yaml.safe_dump({"t": text}))["t"] == text


def test_last_updated_moves_only_when_a_paper_changed() -> None:
    theme = THEMES["al-folio"]
    before = draw_site(theme, [author(record(["T"]))], {})["_data/citations.yml"]
    later = author(record(["T"], updated="2026-12-03T06:00:00+00:00"))
    assert draw_site(theme, [later], {"_data/citations.yml": before}) == {
        "_data/citations.yml": before}
    cited = author(record(["T"], citations=6, updated="2026-12-03T06:00:00+00:00"))
    after = draw_site(theme, [cited], {"_data/citations.yml": before})["_data/citations.yml"]
    assert yaml.safe_load(after)["metadata"] == {"last_updated": "2026-12-03"}
    assert yaml.safe_load(before)["metadata"] == {"last_updated": "2026-12-01"}


@pytest.mark.parametrize("theme", ["jekyll", "hugo"])
def test_a_new_fetch_of_the_same_numbers_changes_no_data_file(theme: str) -> None:
    drawn = draw_site(THEMES[theme], [author(record(["T"]))], {})
    later = author(record(["T"], updated="2026-12-03T06:00:00+00:00"))
    assert draw_site(THEMES[theme], [later], drawn) == drawn
    cited = author(record(["T"], citations=9, updated="2026-12-03T06:00:00+00:00"))
    after = draw_site(THEMES[theme], [cited], drawn)
    data_file = next(path for path in after if path.startswith(("_data/", "data/")))
    assert yaml.safe_load(after[data_file])["authors"][SID]["updated"].startswith("2026-12-03")
    assert after[data_file] != drawn[data_file]


def test_al_folios_own_file_is_taken_over_and_any_other_is_not() -> None:
    gs_data = record(["T", "U"])
    script_file = al_folio_script_bytes(gs_data, "2025-01-01")
    assert is_al_folio_file(script_file) and not owned(script_file)
    assert is_al_folio_file(b"metadata:\n  last_updated: '2025-01-01'\npapers: {}\n")
    edited = yaml.safe_load(script_file)
    edited["papers"][f"{SID}:PAPER0000000"]["note"] = "mine"
    for other in [yaml.safe_dump(edited).encode(), b"papers: {}\n", b"- a list\n",
                  b"key: [unclosed\n", b"\xff\xfe", b"", b"metadata: {last_updated: x}\n"]:
        assert not is_al_folio_file(other), other


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_every_file_drawn_carries_the_marker(theme: str) -> None:
    drawn = draw_site(THEMES[theme], [author(record(["T"]))], {})
    assert set(drawn) == {file.path for file in THEMES[theme].files}
    assert all(owned(body) for body in drawn.values())
    assert not owned(b"title: my site\n# " + MARKER.encode() + b"\n")  # the first line only


def test_the_site_data_has_every_metric_and_paper_of_every_author() -> None:
    first, second = record(["T"]), record(["U", "V"], scholar_id="SECONDAUTHOR")
    data = site_data([author(first), author(second)])
    assert data["default"] == SID
    assert data["authors"][SID]["metrics"] == {
        "citations": 120, "citations-5y": 80, "h-index": 6, "h-index-5y": 5, "i10-index": 4,
        "i10-index-5y": 3, "publications": 1}
    assert data["authors"]["SECONDAUTHOR"]["papers"]["PAPER0000001"] == {
        "citations": 6, "title": "V", "year": "2001"}
    assert data["authors"][SID]["name"] == "Ada <b>Lovelace</b>"  # data: the page escapes it


def test_an_unchanged_author_draws_the_same_bytes() -> None:
    gs_data = record(HOSTILE)
    for theme in THEMES.values():
        once = draw_site(theme, [author(gs_data)], {})
        again = draw_site(theme, [author(copy.deepcopy(gs_data))], once)
        assert once == again


def code_strings(tree: ast.Module) -> list[str]:
    """The string constants of a module but its help texts (``help=``, ``description=``)."""
    helps = {id(part) for node in ast.walk(tree) if isinstance(node, ast.Call)
             for keyword in node.keywords if keyword.arg in ("help", "description")
             for part in ast.walk(keyword.value)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in helps]


def test_no_module_but_the_theme_table_spells_a_theme_file() -> None:
    paths = {file.path for theme in THEMES.values() for file in theme.files}
    package = ROOT / "scholar_stats"
    assert code_strings(ast.parse('f(help="_data/citations.yml")\nX = "data/a.yaml"\n')) == [
        "data/a.yaml"]
    for path in package.rglob("*.py"):
        if path == package / "outputs" / "themes.py":
            continue
        strings = code_strings(ast.parse(path.read_text("utf-8")))
        found = [name for name in paths for text in strings if name in text]
        assert not found, f"{Path(path).relative_to(package)} spells {found}"
