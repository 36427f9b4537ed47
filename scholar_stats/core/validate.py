"""The one validation at the boundary: every profile a source makes (Scholar's pages through
scholarly, SerpApi's JSON) passes ``accept_record`` before it is data, and every page a fetch
receives passes ``Intake.take``. Pure, so every bound is tested without a server.

``check_record`` checks what a source made of its pages: a page can be well-formed and still not
be this author's profile (another user's publications, served by a lying server or reached
through a redirect) or hold numbers no profile has (25-digit or negative counts). Either is
"page not understood" (exit 5), never data. docs/failure-model.md, "Numbers, the store and
refresh", says why each bound is what it is.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NoReturn

from scholar_stats.core.model import AuthorData, Metrics
from scholar_stats.core.plan import PAGE_SIZE
from scholar_stats.core.text import clean_json
from scholar_stats.errors import PageNotUnderstood

# Counts: citations, per paper, per year, h- and i10-indices. The most cited profiles have a few
# million citations; 10**9 is far above that and fits PostgreSQL's INTEGER (2**31 - 1), the
# narrowest column the store keeps counts in.
MAX_COUNT = 10**9
# Publications: 500 pages of 100; more than the hourly request budget can fetch many times over.
MAX_PUBLICATIONS = 50_000
MAX_PAGES = MAX_PUBLICATIONS // PAGE_SIZE
# Years of the citations graph and of the "since" column: Scholar's graph starts long after
# 1900, and a year after the next one is a clock or a lie.
MIN_YEAR = 1900
# "<scholar id>:<id>": Scholar's own ids are 12 characters after the colon; 64 leaves room for a
# format change, and the store's pub_id column holds 200.
MAX_PUB_ID_LENGTH = 12 + 1 + 64
# Any text (name, affiliation, title, venue, URLs): real ones are a few hundred characters.
MAX_TEXT = 2000
MAX_INTERESTS = 100  # Scholar lets a profile list 5
MAX_ORGANIZATION = 2**64 - 1  # Scholar's organisation ids are unsigned 64-bit numbers

# What one author's fetch may receive, every page of every source it asks together (a page is
# also at most 8 MiB: net/bounded.py). A page's elements are counted by the characters that open
# one (``<`` a tag, ``{`` ``[`` a JSON object or list, ``,`` the next item): a parser makes at
# most about that many objects of it, whatever the bytes say. A real profile page (100
# publications) is 0.1-0.5 MB with about 5,000 of them (SerpApi's: about 3,000).
MAX_PAGE_ELEMENTS = 100_000
MAX_FETCH_BYTES = 32 * 2**20
MAX_FETCH_ELEMENTS = 1_000_000

_PUB_SUFFIX = re.compile(r"[A-Za-z0-9_-]+")


def elements(page: str | bytes) -> int:
    """How many elements a parser may make of ``page`` at most (see ``MAX_PAGE_ELEMENTS``)."""
    if isinstance(page, bytes):
        return sum(page.count(mark) for mark in (b"<", b"{", b"[", b","))
    return sum(page.count(mark) for mark in ("<", "{", "[", ","))


class Intake:
    """What one author's fetch has received so far, from every source it asked: each page is
    counted as it arrives and refused (exit 5) once it, or the fetch's total, passes a bound,
    so the memory a fetch holds is bounded whatever a server sends."""

    def __init__(self) -> None:
        self.pages = 0
        self.size = 0  # bytes (SerpApi's JSON) or characters (Scholar's decoded HTML)
        self.elements = 0

    def take(self, page: str | bytes, source: str) -> None:
        found = elements(page)
        self.pages += 1
        self.size += len(page)
        self.elements += found
        if found > MAX_PAGE_ELEMENTS:
            _refuse(f"{source}'s page", f"holds {found:,} elements (tags, JSON values), more "
                    f"than {MAX_PAGE_ELEMENTS:,}")
        if self.size > MAX_FETCH_BYTES or self.elements > MAX_FETCH_ELEMENTS:
            _refuse(f"the {self.pages} pages of this profile",
                    f"came to {self.size / 2**20:.1f} MiB and {self.elements:,} elements, more "
                    f"than {MAX_FETCH_BYTES // 2**20} MiB or {MAX_FETCH_ELEMENTS:,} in all")


def accept_record(scholar_id: str, record: dict[str, Any], since: int | None,
                  now: datetime) -> AuthorData:
    """``record`` (``gs_data.json``'s shape, as a source made it) as data: its texts cleaned and
    its structure bounded (``core.text``), then checked by ``check_record``. The one validation
    both sources call; ``PageNotUnderstood`` naming the first thing wrong."""
    try:
        cleaned = clean_json(record)
    except ValueError as exc:
        _refuse("the profile", str(exc))
    check_record(scholar_id, cleaned, since, now)
    return AuthorData(scholar_id, cleaned, since)


def metrics_of(record: Any) -> Metrics:
    """The metrics of a record read back (a ``gs_data.json`` in ``--out``); ``ValueError`` when
    one is not a whole number in 0..MAX_COUNT or there is no publication list."""
    if not isinstance(record, dict) or not isinstance(record.get("publications"), dict):
        raise ValueError("not a profile record")
    metrics = Metrics.from_gs_data(record)
    for name, value in metrics.as_dict().items():
        if type(value) is not int or not 0 <= value <= MAX_COUNT:
            raise ValueError(f"{name} is not a whole number in 0..{MAX_COUNT:,}")
    return metrics


# The author's counts in the record, with the name a message shows for each.
_COUNT_KEYS = {
    "citedby": "citations (citedby)", "citedby5y": "citations since (citedby5y)",
    "hindex": "h-index (hindex)", "hindex5y": "h-index since (hindex5y)",
    "i10index": "i10-index (i10index)", "i10index5y": "i10-index since (i10index5y)",
}
_TEXT_KEYS = ("name", "affiliation", "email_domain", "homepage", "url_picture")


def _shown(value: Any) -> str:
    """A value for a message: at most 40 characters of it."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _refuse(what: str, problem: str) -> NoReturn:
    raise PageNotUnderstood(
        f"{what} {problem}; no real profile has that: the server is not Scholar, or Scholar "
        "changed its layout"
    )


def _check_count(value: Any, what: str) -> None:
    if type(value) is not int:  # bool is an int subclass, and not a count
        _refuse(what, f"is not a whole number ({_shown(value)})")
    if not 0 <= value <= MAX_COUNT:
        _refuse(what, f"is {_shown(value)}, outside 0..{MAX_COUNT:,}")


def _check_text(value: Any, what: str) -> None:
    if not isinstance(value, str):
        _refuse(what, f"is not text ({_shown(value)})")
    if len(value) > MAX_TEXT:
        _refuse(what, f"is {len(value):,} characters long, more than {MAX_TEXT:,}")


def _check_list(values: Any, what: str) -> None:
    if not isinstance(values, list) or len(values) > MAX_INTERESTS:
        _refuse(what, f"is not a list of at most {MAX_INTERESTS} items")
    for value in values:
        _check_text(value, what)


def _check_year(year: Any, what: str, now: datetime) -> None:
    if type(year) is not int or not MIN_YEAR <= year <= now.year + 1:
        _refuse(what, f"has the year {_shown(year)}, outside {MIN_YEAR}..{now.year + 1}")


def _check_pub_id(scholar_id: str, pub_id: Any) -> None:
    """``<scholar_id>:<id>``: the requested author's, short, and of Scholar's id characters."""
    if not isinstance(pub_id, str):
        _refuse("a publication id", f"is not text ({_shown(pub_id)})")
    owner, _, suffix = pub_id.partition(":")
    if owner != scholar_id:
        raise PageNotUnderstood(
            f"the page's publications belong to another Scholar user ({_shown(owner)}), not "
            f"{scholar_id}: the server (or a redirect) sent someone else's profile; not this "
            "author's data"
        )
    if len(pub_id) > MAX_PUB_ID_LENGTH:
        _refuse("a publication id", f"is {len(pub_id):,} characters long, more than "
                f"{MAX_PUB_ID_LENGTH}")
    if not _PUB_SUFFIX.fullmatch(suffix):
        _refuse("a publication id", f"({_shown(pub_id)}) is not <scholar id>:<letters, digits, "
                "_ or ->")


def check_record(
    scholar_id: str, record: dict[str, Any], since: int | None, now: datetime
) -> None:
    """Raise ``PageNotUnderstood`` naming the first part of a parsed profile (``to_gs_data``'s
    record) that no real profile of ``scholar_id`` has: a count that is not a whole number in
    0..MAX_COUNT, a year outside MIN_YEAR..next year, a publication id of another user or too
    long, text longer than MAX_TEXT, more than MAX_PUBLICATIONS publications.

    Pure, so every bound is tested without a server; ``now`` gives "next year".
    """
    for key, what in _COUNT_KEYS.items():
        _check_count(record.get(key), what)
    for key in _TEXT_KEYS:
        if key in record:
            _check_text(record[key], key)
    if "interests" in record:
        _check_list(record["interests"], "interests")
    if "organization" in record:
        organization = record["organization"]
        if type(organization) is not int or not 0 <= organization <= MAX_ORGANIZATION:
            _refuse("the organization id", f"is {_shown(organization)}, not an unsigned "
                    "64-bit number")
    if since is not None:
        _check_year(since, "the metrics table's since column", now)
    per_year = record.get("cites_per_year")
    if not isinstance(per_year, dict):
        _refuse("cites_per_year", "is missing")
    for year, count in per_year.items():
        _check_year(year, "cites_per_year", now)
        _check_count(count, f"cites_per_year[{year}]")
    publications = record.get("publications")
    if not isinstance(publications, dict):
        _refuse("publications", "is missing")
    if len(publications) > MAX_PUBLICATIONS:
        _refuse("the publication list", f"has {len(publications):,} publications, more than "
                f"{MAX_PUBLICATIONS:,}")
    for pub_id, pub in publications.items():
        _check_pub_id(scholar_id, pub_id)
        if pub.get("author_pub_id") != pub_id:
            _refuse(f"publication id {_shown(pub_id)}", "differs from its author_pub_id")
        _check_count(pub.get("num_citations"), f"publication {pub_id}: num_citations")
        bib = pub.get("bib")
        if not isinstance(bib, dict):
            _refuse(f"publication {pub_id}", "has no bib")
        for key, value in bib.items():
            _check_text(value, f"publication {pub_id}: {'venue' if key == 'citation' else key}")
        if "citedby_url" in pub:
            _check_text(pub["citedby_url"], f"publication {pub_id}: citedby_url")
        if "cites_id" in pub:
            _check_list(pub["cites_id"], f"publication {pub_id}: cites_id")
