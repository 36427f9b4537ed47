"""Turn Scholar profile pages into an ``AuthorData``, with scholarly's own parsers.

scholarly's ``AuthorParser(nav).fill(author, sections)`` needs only an object with
``_get_soup(path)`` and ``logger``: ``_PageSource`` is that seam. It hands each page to
``check_profile_page`` first, so a CAPTCHA, a sign-in page or a half-loaded page is reported as
such and never reaches scholarly, which would turn it into zeros or an ``AttributeError``.

Each page is counted by the fetch's ``Intake`` before it is parsed, and only one page's tree is
held at a time besides what scholarly keeps of each page (the record's parts). What scholarly made
of the pages then passes ``core.validate.accept_record``, the validation every source's profile
passes: texts cleaned, structure bounded, numbers and ids checked (``check_record``).

Nothing here does I/O: pages come from the ``get_page`` callable the caller passes in.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from bs4 import BeautifulSoup

from scholar_stats.core.model import AuthorData
from scholar_stats.core.plan import PAGE_SIZE
from scholar_stats.core.validate import MAX_PAGES, MAX_PUBLICATIONS, Intake, accept_record
from scholar_stats.errors import AuthorNotFound, Blocked, FetchError, PageNotUnderstood

# The sections the AcadHomepage crawler asks for; one profile request per 100 publications.
SECTIONS = ["basics", "indices", "counts", "publications"]

_CAPTCHA_MARKERS = (
    'id="gsc_captcha_ccl"',  # profile pages (scholarly 1.7.11 misses this one)
    'id="gs_captcha_ccl"',  # search pages
    'id="gs_captcha_f"',
    'id="captcha-form"',  # Google's generic /sorry/ page
    "rc-doscaptcha-body",
)
_SIGN_IN_MARKERS = ("accounts.google.com/v3/signin", 'href="https://accounts.google.com/')
_SINCE_YEAR = re.compile(r"(\d{4})")


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
    """The navigator scholarly's parsers call; counts and checks every page before they see it.

    Of the first page only its since-year is kept, not its tree (scholarly holds one more)."""

    def __init__(self, get_page: Callable[[str], str], intake: Intake) -> None:
        self._get_page = get_page
        self._intake = intake
        self.logger = logging.getLogger(__name__)
        self.read_first = False
        self.since: int | None = None
        self.pages = 0

    def _get_soup(self, path: str) -> BeautifulSoup:
        self.pages += 1
        if self.pages > MAX_PAGES:
            raise PageNotUnderstood(
                f"the publication list goes on past {MAX_PAGES} pages ({MAX_PUBLICATIONS} "
                "publications): no real profile is that long; the server is not Scholar"
            )
        html = self._get_page(path)
        self._intake.take(html, "Scholar")
        check_not_blocked(html)
        soup = BeautifulSoup(html, "html.parser")
        check_profile_page(soup, first=not self.read_first)
        if not self.read_first:
            self.read_first = True
            self.since = since_year(soup)
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
    """scholarly's filled author → the AcadHomepage ``gs_data.json`` record (docs/architecture.md,
    "The gs_data.json record")."""
    record: dict[str, Any] = _plain(author)
    record["publications"] = {pub["author_pub_id"]: pub for pub in record["publications"]}
    record["updated"] = updated.isoformat(timespec="seconds")
    return record


def parse_profile(scholar_id: str, get_page: Callable[[str], str], now: datetime,
                  intake: Intake | None = None) -> AuthorData:
    """Fetch (through ``get_page``) and parse one profile; ``FetchError`` when it is not one.
    ``intake`` counts the pages (the attempt's, shared with the sources asked after this one)."""
    from scholarly.author_parser import (
        AuthorParser,  # slow import (~1 s): only when fetching
    )

    source = _PageSource(get_page, intake or Intake())
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
    if not source.read_first:  # scholarly returned without asking for the profile page
        raise PageNotUnderstood("scholarly read no profile page")
    return accept_record(scholar_id, to_gs_data(author, now), source.since, now)
