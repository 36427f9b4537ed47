"""The files ``scholar-stats site THEME`` writes into a homepage's source tree: the one table of
themes and their files (each file's path in the site, what it is, how it is drawn), and the
bytes of each, drawn from the authors' records. Pure, no I/O.

Every scraped string reaches a site as YAML data, never as markup: PyYAML's safe dumper quotes
whatever a YAML reader could take for something else (``: ``, ``#``, ``&``, ``*``, ``!!``,
``true``, ``2020``) and, with ``allow_unicode`` off as in al-folio's own script, escapes every
non-ASCII character. The include and the shortcode print a number, or a title through the
theme's own HTML escaping.

Each file starts with :data:`MARKER`: ``site`` replaces a file only when it carries it (or, for
al-folio's ``_data/citations.yml``, when it is exactly what al-folio's script writes), never a
file a person wrote. PyYAML is imported when a file is drawn, so the command line can read
:data:`THEME_NAMES` without it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scholar_stats.core.model import AuthorData

MARKER = "Written by scholar-stats"

# What al-folio's bin/update_scholar_citations.py writes when Scholar shows no title or year.
UNKNOWN_TITLE = "Unknown Title"
UNKNOWN_YEAR = "Unknown Year"


@dataclass(frozen=True)
class SiteFile:
    """One file a theme gets: its path from the site's root, what it is (docs/themes.md), and
    how it is drawn from the authors and the file's bytes now (``None``: there is none)."""

    path: str
    what: str
    draw: Callable[[Sequence[AuthorData], bytes | None, str], bytes]
    adopts: Callable[[bytes], bool] | None = None  # another tool's file it may replace


@dataclass(frozen=True)
class Theme:
    name: str
    title: str  # who uses it
    files: tuple[SiteFile, ...]
    id_files: tuple[str, ...]  # where the site names its Scholar id, in the order looked at


def header(theme: str, comment: str = "#") -> str:
    return (f"{comment} {MARKER} (`scholar-stats site {theme}`) from Google Scholar: rewritten "
            "on each run, do not edit.\n")


def dump_yaml(value: Any) -> str:
    """YAML as al-folio's script writes it (``yaml.dump(..., width=1000, sort_keys=True)``),
    with the safe dumper: only mappings, lists, strings and integers."""
    import yaml  # here: the command line lists the themes without importing PyYAML

    return str(yaml.safe_dump(value, width=1000, sort_keys=True, allow_unicode=False))


def load_yaml(data: bytes) -> Any:
    """A YAML file read with the safe loader (libyaml's when PyYAML has it: the same rules,
    ten times faster on a large file); ``None`` when it is not YAML."""
    import yaml

    try:
        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except (yaml.YAMLError, ValueError, RecursionError):
        return None


def owned(data: bytes) -> bool:
    """Whether ``data`` is a file ``site`` wrote: its first line carries the marker."""
    return MARKER.encode() in data.split(b"\n", 1)[0]


# --- al-folio -------------------------------------------------------------------------------


def al_folio_papers(authors: Sequence[AuthorData]) -> dict[str, dict[str, Any]]:
    """``papers`` of al-folio's ``_data/citations.yml``: ``USERID:PUBID`` -> citations (int),
    title, year (a string), as its script fills them from scholarly's record."""
    papers: dict[str, dict[str, Any]] = {}
    for author in authors:
        for pub_id, pub in (author.gs_data.get("publications") or {}).items():
            bib = pub.get("bib") or {}
            papers[str(pub_id)] = {
                "citations": int(pub.get("num_citations", 0)),
                "title": str(bib.get("title", UNKNOWN_TITLE)),
                "year": str(bib.get("pub_year", UNKNOWN_YEAR)),
            }
    return papers


def fetch_day(authors: Sequence[AuthorData]) -> str:
    """The day (UTC, ``YYYY-MM-DD``) of the newest fetch among ``authors``: when the numbers
    were taken from Scholar (``updated`` is ISO 8601 in UTC)."""
    return max(author.updated[:10] for author in authors)


def is_al_folio_file(data: bytes) -> bool:
    """Exactly what al-folio's script writes: ``metadata.last_updated`` and ``papers``, each
    paper with only ``citations``, ``title`` and ``year`` (so a site moving from that script is
    taken over, and any other file is left alone)."""
    value = load_yaml(data)
    if not isinstance(value, dict) or set(value) != {"metadata", "papers"}:
        return False
    metadata, papers = value["metadata"], value["papers"]
    return (isinstance(metadata, dict) and set(metadata) == {"last_updated"}
            and (papers is None or (isinstance(papers, dict) and all(
                isinstance(p, dict) and set(p) == {"citations", "title", "year"}
                for p in papers.values()))))


def draw_citations_yml(authors: Sequence[AuthorData], current: bytes | None,
                       theme: str) -> bytes:
    """al-folio's ``_data/citations.yml``; the file as it is when its papers are the same
    (al-folio's rule: ``last_updated`` moves only when a paper changed)."""
    papers = al_folio_papers(authors)
    if current is not None:
        before = load_yaml(current)
        if isinstance(before, dict) and before.get("papers") == papers:
            return current
    body = dump_yaml({"metadata": {"last_updated": fetch_day(authors)}, "papers": papers})
    return (header(theme) + body).encode("ascii")


# --- any Jekyll site, any Hugo site ----------------------------------------------------------


def site_data(authors: Sequence[AuthorData]) -> dict[str, Any]:
    """What the include and the shortcode read: each author's metrics and papers (keyed by the
    part of ``author_pub_id`` after the colon), and the author they show when not told."""
    from scholar_stats.outputs.catalogue import paper_key  # the paper-id rule, once

    data: dict[str, Any] = {"default": authors[0].scholar_id, "authors": {}}
    for author in authors:
        papers = {}
        for pub_id, paper in al_folio_papers([author]).items():
            key = paper_key(author.scholar_id, pub_id)
            if key is not None:
                papers[key] = paper
        data["authors"][author.scholar_id] = {
            "name": author.name, "updated": author.updated,
            "metrics": author.metrics.as_dict(), "papers": papers,
        }
    return data


def without_times(data: Any) -> Any:
    """The site data without each author's fetch time: what a change is judged on."""
    if not isinstance(data, dict) or not isinstance(data.get("authors"), dict):
        return data
    return {**data, "authors": {sid: {k: v for k, v in author.items() if k != "updated"}
                                if isinstance(author, dict) else author
                                for sid, author in data["authors"].items()}}


def draw_data(authors: Sequence[AuthorData], current: bytes | None, theme: str) -> bytes:
    """The data file; the file as it is when only the fetch times differ (a daily fetch of the
    same numbers changes nothing, as ``last_updated`` in al-folio's)."""
    data = site_data(authors)
    if current is not None and without_times(load_yaml(current)) == without_times(data):
        return current
    return (header(theme) + dump_yaml(data)).encode("ascii")


@functools.cache
def template(name: str) -> str:
    """A template of this package (the include, the shortcode), without its marker line."""
    import importlib.resources  # here: the command line imports this module for the names

    return importlib.resources.files(__package__).joinpath(name).read_text("utf-8")


def draw_template(name: str, comment: str,
                  end: str) -> Callable[[Sequence[AuthorData], bytes | None, str], bytes]:
    def draw(authors: Sequence[AuthorData], current: bytes | None, theme: str) -> bytes:
        return (header(theme, comment).rstrip("\n") + end + "\n" + template(name)).encode()

    return draw


DATA_WHAT = ("every author's metrics (`citations`, `citations-5y`, `h-index`, `h-index-5y`, "
             "`i10-index`, `i10-index-5y`, `publications`), name, fetch time and papers "
             "(citations, title, year), keyed by Scholar id")

THEMES: Mapping[str, Theme] = {theme.name: theme for theme in (
    Theme("al-folio", "al-folio and its forks", (
        SiteFile("_data/citations.yml",
                 "al-folio's own file, as its `bin/update_scholar_citations.py` writes it: "
                 "`_layouts/bib.liquid` shows each entry's count from it",
                 draw_citations_yml, adopts=is_al_folio_file),
    ), ("_data/socials.yml", "_config.yml")),
    Theme("jekyll", "any Jekyll site: academicpages, minimal-mistakes, AcadHomepage, ...", (
        SiteFile("_data/scholar_stats.yml", DATA_WHAT, draw_data),
        SiteFile("_includes/scholar-stats.html",
                 "the include that prints a number (or a paper's title or year) from it",
                 draw_template("include.liquid", "{%- comment -%}", " {%- endcomment -%}")),
    ), ("_config.yml", "_data/socials.yml")),
    Theme("hugo", "any Hugo site: Hugo Blox (Wowchemy), PaperMod, ...", (
        SiteFile("data/scholar_stats.yaml", DATA_WHAT, draw_data),
        SiteFile("layouts/shortcodes/scholar-stats.html",
                 "the shortcode that prints a number (or a paper's title or year) from it",
                 draw_template("shortcode.gohtml", "{{- /*", " */ -}}")),
    ), ("hugo.yaml", "hugo.yml", "hugo.toml", "config.yaml", "config.yml", "config.toml",
        "config/_default/params.yaml", "config/_default/params.toml",
        "config/_default/hugo.yaml", "config/_default/config.yaml",
        "content/authors/admin/_index.md", "data/authors/me.yaml")),  # Hugo Blox's profile
)}
THEME_NAMES = tuple(THEMES)


def draw_site(theme: Theme, authors: Sequence[AuthorData],
              current: Mapping[str, bytes | None]) -> dict[str, bytes]:
    """Path -> bytes of every file of ``theme`` for ``authors`` (at least one), given each
    file's bytes now."""
    return {file.path: file.draw(authors, current.get(file.path), theme.name)
            for file in theme.files}
