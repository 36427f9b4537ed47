"""Turn Scholar profile pages into an ``AuthorData``, with scholarly's own parsers.

scholarly's ``AuthorParser(nav).fill(author, sections)`` needs only an object with
``_get_soup(path)`` and ``logger``: ``_PageSource`` is that seam. It hands each page to
``check_profile_page`` first, so a CAPTCHA, a sign-in page or a half-loaded page is reported as
such and never reaches scholarly, which would turn it into zeros or an ``AttributeError``.

``check_record`` then checks what scholarly made of the pages: a page can be well-formed HTML and
still not be this author's profile (another user's publications, served by a lying server or
reached through a redirect) or hold numbers no profile has (25-digit or negative counts). Either
is "page not understood" (exit 5), never data.

Nothing here does I/O: pages come from the ``get_page`` callable the caller passes in.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, NoReturn

from bs4 import BeautifulSoup

from scholar_stats.core.model import AuthorData
from scholar_stats.core.plan import PAGE_SIZE
from scholar_stats.errors import AuthorNotFound, Blocked, FetchError, PageNotUnderstood

# The sections the AcadHomepage crawler asks for; one profile request per 100 publications.
SECTIONS = ["basics", "indices", "counts", "publications"]

# The bounds of a believable profile (README, "Numbers, the store and refresh", says why).
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

_CAPTCHA_MARKERS = (
    'id="gsc_captcha_ccl"',  # profile pages (scholarly 1.7.11 misses this one)
    'id="gs_captcha_ccl"',  # search pages
    'id="gs_captcha_f"',
    'id="captcha-form"',  # Google's generic /sorry/ page
    "rc-doscaptcha-body",
)
_SIGN_IN_MARKERS = ("accounts.google.com/v3/signin", 'href="https://accounts.google.com/')
_SINCE_YEAR = re.compile(r"(\d{4})")
_PUB_SUFFIX = re.compile(r"[A-Za-z0-9_-]+")


def profile_path(scholar_id: str) -> str:
    """The first page, as scholarly requests it (``pagesize=100`` so most profiles are 1 page)."""
    return f"/citations?hl=en&user={scholar_id}&pagesize={PAGE_SIZE}"


def check_not_blocked(html: str) -> None:
    """Raise when ``html`` is a CAPTCHA page or Google's sign-in page rather than Scholar's."""
    head = html[:200_000]
    if any(marker in head for marker in _CAPTCHA_MARKERS):
        raise Blocked(
            "Scholar answered with a CAPTCHA page (\"please show you're not a robot\"): this IP "
            "is blocked for now; try later, from another network, or with --proxy"
        )
    if "gsc_" not in head and any(marker in head for marker in _SIGN_IN_MARKERS):
        raise AuthorNotFound(
            "no Scholar profile has this id (Scholar sent a Google sign-in page); "
            "check the id in your profile URL (user=...)"
        )


def check_profile_page(soup: BeautifulSoup, *, first: bool) -> None:
    """Raise ``PageNotUnderstood`` naming the part missing from a profile page."""
    if first:
        if soup.find("div", id="gsc_prf_in") is None:
            raise PageNotUnderstood(
                "the page has no profile header (#gsc_prf_in): it is truncated, not a profile "
                "page, or Scholar changed its layout"
            )
        table = soup.find("table", id="gsc_rsb_st")
        cells = table.find_all("td", class_="gsc_rsb_std") if table else []
        if len(cells) != 6 or not all(c.get_text(strip=True).isdigit() for c in cells):
            raise PageNotUnderstood(
                "the metrics table (#gsc_rsb_st: citations, h-index, i10-index) is missing or "
                "incomplete: the page is truncated or Scholar changed its layout"
            )
    if soup.find("tbody", id="gsc_a_b") is None or soup.find("button", id="gsc_bpf_more") is None:
        raise PageNotUnderstood(
            "the publication list (#gsc_a_b with its 'Show more' button) is missing or cut off: "
            "the page is truncated or Scholar changed its layout"
        )


def since_year(soup: BeautifulSoup) -> int | None:
    """The year of the metrics table's second column ("Since 2021")."""
    table = soup.find("table", id="gsc_rsb_st")
    headers = table.find_all("th", class_="gsc_rsb_sth") if table else []
    for header in headers[1:]:
        match = _SINCE_YEAR.search(header.get_text())
        if match:
            return int(match.group(1))
    return None


class _PageSource:
    """The navigator scholarly's parsers call; checks every page before they see it."""

    def __init__(self, get_page: Callable[[str], str]) -> None:
        self._get_page = get_page
        self.logger = logging.getLogger(__name__)
        self.first_page: BeautifulSoup | None = None
        self.pages = 0

    def _get_soup(self, path: str) -> BeautifulSoup:
        self.pages += 1
        if self.pages > MAX_PAGES:
            raise PageNotUnderstood(
                f"the publication list goes on past {MAX_PAGES} pages ({MAX_PUBLICATIONS} "
                "publications): no real profile is that long; the server is not Scholar"
            )
        html = self._get_page(path)
        check_not_blocked(html)
        soup = BeautifulSoup(html, "html.parser")
        check_profile_page(soup, first=self.first_page is None)
        if self.first_page is None:
            self.first_page = soup
        return soup


def _plain(value: Any) -> Any:
    """scholarly's records hold str-Enums and sets; make them plain JSON values."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(item) for item in value]
    return value


def _failed_section(exc: BaseException) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.name.startswith("_fill_"):
            return frame.name[len("_fill_"):]
        if frame.name in ("get_publication", "_citation_pub"):
            return "publications"
    return "profile"


def to_gs_data(author: dict[str, Any], updated: datetime) -> dict[str, Any]:
    """scholarly's filled author → the AcadHomepage ``gs_data.json`` record (CONTRACT.md §2)."""
    record: dict[str, Any] = _plain(author)
    record["publications"] = {pub["author_pub_id"]: pub for pub in record["publications"]}
    record["updated"] = updated.isoformat(timespec="seconds")
    return record


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


def parse_profile(scholar_id: str, get_page: Callable[[str], str], now: datetime) -> AuthorData:
    """Fetch (through ``get_page``) and parse one profile; ``FetchError`` when it is not one."""
    from scholarly.author_parser import (
        AuthorParser,  # slow import (~1 s): only when fetching
    )

    source = _PageSource(get_page)
    parser = AuthorParser(source)
    author = parser.get_author(scholar_id)
    try:
        parser.fill(author, sections=list(SECTIONS))
    except FetchError:
        raise
    except Exception as exc:
        section = _failed_section(exc)
        raise PageNotUnderstood(
            f"scholarly could not read the {section} part of the page "
            f"({type(exc).__name__}): Scholar changed its layout, or the page is damaged"
        ) from exc
    if source.first_page is None:  # scholarly returned without asking for the profile page
        raise PageNotUnderstood("scholarly read no profile page")
    since = since_year(source.first_page)
    record = to_gs_data(author, now)
    check_record(scholar_id, record, since, now)
    return AuthorData(scholar_id, record, since)
