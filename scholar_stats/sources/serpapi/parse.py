"""SerpApi ``google_scholar_author`` JSON pages → the ``AuthorData`` Scholar's parser produces.

Pure: no I/O. ``read_answer`` turns one HTTP answer (status and body) into a page or into the
error it means; ``next_start`` follows ``serpapi_pagination.next``; ``ProfileParts`` reduces each
page to the record's parts as it arrives (the page itself is not kept) and builds the AcadHomepage
record, which passes ``core.validate.accept_record`` like a Scholar page's: a SerpApi answer with
out-of-range numbers, the wrong types or text no file can hold is "not understood" (exit 5).

What SerpApi sends (docs/architecture.md, "SerpApi's author engine";
tests/fixtures/scholar/SOURCES.md): ``author`` (name, affiliations, email, website, interests,
thumbnail), ``articles`` (``citation_id`` is scholarly's ``author_pub_id``, ``cited_by.value`` is
absent or null when uncited), ``cited_by.table`` (one object per metric, with ``all`` and
``since_YYYY``), ``cited_by.graph`` and, while more articles exist,
``serpapi_pagination.next``. Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from scholar_stats.core.model import AuthorData
from scholar_stats.core.text import clean_text
from scholar_stats.core.validate import MAX_PAGES, accept_record
from scholar_stats.errors import (
    AuthorNotFound,
    Blocked,
    NetworkFailure,
    PageNotUnderstood,
    UsageError,
)

PAGE_SIZE = 100  # SerpApi's ``num`` maximum for this engine: one search per 100 articles
KEY_VARIABLE = "SERPAPI_API_KEY"

_SINCE = re.compile(r"since_(\d{4})")
_START = re.compile(r"[0-9]{1,9}")  # pagination offsets: ASCII digits, far past MAX_PAGES pages
_VERIFIED = "Verified email at "
_METRICS = {"citations": ("citedby", "citedby5y"), "h_index": ("hindex", "hindex5y"),
            "i10_index": ("i10index", "i10index5y")}
# The texts SerpApi uses for a spent plan (HTTP 429 per its documentation; some engines send it
# with 200) and for "Google returned nothing" (HTTP 200), matched case-insensitively.
_OUT_OF_SEARCHES = ("run out of searches", "searches for the month")
_NO_RESULTS = "hasn't returned any results"


class ConfigurationError(UsageError):
    """A setting that SerpApi refuses (the key): exit 2, naming the variable, never its value."""


def request_params(scholar_id: str, start: int) -> dict[str, str]:
    """The query of one page, without the key (the client adds it and never prints it)."""
    return {"engine": "google_scholar_author", "author_id": scholar_id, "hl": "en",
            "start": str(start), "num": str(PAGE_SIZE)}


def _said(text: str) -> str:
    """SerpApi's own error text for a message: one line, at most 200 characters, clean."""
    line = " ".join(clean_text(text).split())
    return line if len(line) <= 200 else line[:200] + "…"


def _error_text(body: bytes | None) -> str | None:
    try:
        value = json.loads(body or b"")
    except (ValueError, RecursionError):
        return None
    error = value.get("error") if isinstance(value, dict) else None
    return error if isinstance(error, str) else None


def refuse_status(status: int, body: bytes | None) -> NoReturn:
    """Raise the error a non-200 answer means (5xx is the client's to retry, not handled here)."""
    error = _error_text(body)
    said = f": {_said(error)}" if error else ""
    if status in (401, 403):
        raise ConfigurationError(
            f"{KEY_VARIABLE}: SerpApi refused the key (HTTP {status}{said}); fix the variable "
            "(in the Action: the secret passed as serpapi-key)"
        )
    if status == 429 or (error and _out_of_searches(error)):
        raise _spent(status, error)
    raise NetworkFailure(f"unexpected HTTP {status} from SerpApi{said}")


def _out_of_searches(error: str) -> bool:
    return any(marker in error.lower() for marker in _OUT_OF_SEARCHES)


def _spent(status: int, error: str | None) -> Blocked:
    if error and _out_of_searches(error):
        return Blocked(f"SerpApi: the account has run out of searches (HTTP {status}: "
                       f"{_said(error)}); wait for the plan to renew, or upgrade it")
    said = f": {_said(error)}" if error else ""
    return Blocked(f"SerpApi is rate-limiting this key (HTTP {status}{said}): the plan's hourly "
                   "throughput is used up; try later")


def read_answer(status: int, body: bytes | None) -> dict[str, Any]:
    """The JSON page of a 200 answer, or the error it carries: an invalid key is exit 2, a spent
    plan or a rate limit exit 3, "no results" for the id exit 4, anything else not JSON or
    with another error exit 5."""
    if status != 200:
        refuse_status(status, body)
    try:
        page = json.loads(body or b"")
    except ValueError:
        raise PageNotUnderstood(
            "SerpApi's answer is not JSON (truncated, or not SerpApi)") from None
    except RecursionError:
        raise PageNotUnderstood(
            "SerpApi's answer is JSON nested too deeply to read: not a search result") from None
    if not isinstance(page, dict):
        raise PageNotUnderstood("SerpApi's answer is JSON but not an object: not a search result")
    error = page.get("error")
    if error is not None:
        if not isinstance(error, str):
            raise PageNotUnderstood("SerpApi answered with an error that is not text")
        text = error
        if _NO_RESULTS in text.lower():
            raise AuthorNotFound(f"no Scholar profile has this id (SerpApi: {_said(text)}); "
                                 "check the id in your profile URL (user=...)")
        if _out_of_searches(text):
            raise _spent(status, text)
        if "api key" in text.lower():
            refuse_status(401, body)
        raise PageNotUnderstood(f"SerpApi answered with an error: {_said(text)}")
    return page


def next_start(page: dict[str, Any], start: int) -> int | None:
    """The ``start`` of the next page, from ``serpapi_pagination.next``; ``None`` on the last.

    Only the offset is taken from the link: the request goes to the configured base URL with our
    own parameters, never to whatever host the link names.
    """
    pagination = page.get("serpapi_pagination")
    link = pagination.get("next") if isinstance(pagination, dict) else None
    if not link:
        return None
    if not isinstance(link, str):
        _refuse("serpapi_pagination.next is not a link")
    try:
        values = parse_qs(urlsplit(link).query).get("start", [])
    except ValueError:  # e.g. an unclosed "[" where an IPv6 host would be
        _refuse("serpapi_pagination.next is not a link")
    if len(values) != 1 or not _START.fullmatch(values[0]) or int(values[0]) <= start:
        _refuse(f"serpapi_pagination.next does not move forward from start={start}")
    return int(values[0])


def _refuse(problem: str) -> NoReturn:
    raise PageNotUnderstood(f"SerpApi's answer is not understood: {problem}")


def articles_of(page: dict[str, Any]) -> list[Any]:
    """The page's articles; a page past the last has none (the key may be absent)."""
    articles = page.get("articles", [])
    if not isinstance(articles, list):
        _refuse("'articles' is not a list")
    return articles


def _section(page: dict[str, Any], key: str, kind: type) -> Any:
    value = page.get(key)
    if not isinstance(value, kind):
        _refuse(f"'{key}' is missing or not a{'n object' if kind is dict else ' list'}")
    return value


def _metrics(cited_by: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """``cited_by.table`` → the six counts (raw: ``check_record`` judges them), since-year."""
    table = cited_by.get("table")
    if not isinstance(table, list):
        _refuse("cited_by.table (citations, h-index, i10-index) is missing")
    rows: dict[str, Any] = {}
    for row in table:
        if isinstance(row, dict):
            rows.update({k: v for k, v in row.items() if k in _METRICS and isinstance(v, dict)})
    counts: dict[str, Any] = {}
    years = set()
    for metric, (all_key, since_key) in _METRICS.items():
        row = rows.get(metric)
        since = [key for key in (row or {}) if _SINCE.fullmatch(key)]
        if row is None or "all" not in row or len(since) != 1:
            _refuse(f"cited_by.table has no complete {metric} row (all and since_YYYY)")
        counts[all_key], counts[since_key] = row["all"], row[since[0]]
        years.add(int(since[0][len("since_"):]))
    if len(years) != 1:
        _refuse(f"cited_by.table names different since-years ({sorted(years)})")
    return counts, years.pop()


def _per_year(cited_by: dict[str, Any]) -> dict[Any, Any]:
    graph = cited_by.get("graph", [])
    if not isinstance(graph, list) or not all(isinstance(p, dict) for p in graph):
        _refuse("cited_by.graph is not a list of years")
    if any("year" not in p or "citations" not in p for p in graph):
        _refuse("cited_by.graph has a point without year or citations")
    if any(isinstance(p["year"], (list, dict)) for p in graph):  # ``check_record`` judges the rest
        _refuse("cited_by.graph has a year that is not a number")
    return {point["year"]: point["citations"] for point in graph}


def _publication(article: Any) -> tuple[str, dict[str, Any]]:
    """One article → scholarly's publication entry, keyed by ``citation_id``."""
    if not isinstance(article, dict) or not isinstance(article.get("citation_id"), str):
        _refuse("an article has no citation_id")
    if not isinstance(article.get("title"), str) or not article["title"]:
        _refuse(f"article {article['citation_id']} has no title")
    bib: dict[str, Any] = {"title": article["title"]}
    year = article.get("year")
    if year:
        bib["pub_year"] = year
    bib["citation"] = article.get("publication") or ""
    cited_by = article.get("cited_by")
    cited_by = cited_by if isinstance(cited_by, dict) else {}
    count = cited_by.get("value")
    pub: dict[str, Any] = {
        "container_type": "Publication", "source": "AUTHOR_PUBLICATION_ENTRY", "bib": bib,
        "filled": False, "author_pub_id": article["citation_id"],
        "num_citations": 0 if count is None else count,
    }
    if count:
        if "link" in cited_by:
            pub["citedby_url"] = cited_by["link"]
        if isinstance(cited_by.get("cites_id"), str):
            pub["cites_id"] = cited_by["cites_id"].split(",")
    return article["citation_id"], pub


def _profile(scholar_id: str, author: dict[str, Any]) -> dict[str, Any]:
    """``author`` → the top of scholarly's record, fields SerpApi does not show left out."""
    record: dict[str, Any] = {
        "container_type": "Author", "filled": ["basics", "indices", "counts", "publications"],
        "scholar_id": scholar_id, "source": "AUTHOR_PROFILE_PAGE",
    }
    if not isinstance(author.get("name"), str):
        _refuse("author.name is missing")
    record["name"] = author["name"]
    for ours, theirs in (("url_picture", "thumbnail"), ("affiliation", "affiliations")):
        if theirs in author:
            record[ours] = author[theirs]
    interests = author.get("interests")
    if isinstance(interests, list):
        record["interests"] = [i.get("title") if isinstance(i, dict) else i for i in interests]
    email = author.get("email")
    if isinstance(email, str) and email.startswith(_VERIFIED):
        record["email_domain"] = "@" + email[len(_VERIFIED):]
    if "website" in author:
        record["homepage"] = author["website"]
    return record


class ProfileParts:
    """One profile's record, built as its pages arrive: ``add`` reduces a page to the parts the
    record keeps (the first page's author and metrics, every page's articles), so no page is
    held after it is read; ``finish`` makes the checked ``AuthorData``."""

    def __init__(self, scholar_id: str) -> None:
        self.scholar_id = scholar_id
        self.pages = 0
        self._record: dict[str, Any] = {}
        self._since: int | None = None
        self._publications: dict[str, Any] = {}

    def add(self, page: dict[str, Any]) -> None:
        """One page's parts (the first carries ``author`` and ``cited_by``)."""
        if self.pages >= MAX_PAGES:
            _refuse(f"more than {MAX_PAGES} pages of articles")
        if not self.pages:
            self._record = _profile(self.scholar_id, _section(page, "author", dict))
            cited_by = _section(page, "cited_by", dict)
            counts, self._since = _metrics(cited_by)
            self._record.update(counts)
            self._record["cites_per_year"] = _per_year(cited_by)
        for article in articles_of(page):
            pub_id, pub = _publication(article)
            self._publications[pub_id] = pub
        self.pages += 1

    def finish(self, now: datetime) -> AuthorData:
        """The record of every page added, checked; ``PageNotUnderstood`` naming the part that is
        missing or out of range."""
        if not self.pages:
            _refuse("no pages")
        record = {**self._record, "publications": self._publications,
                  "updated": now.isoformat(timespec="seconds")}
        return accept_record(self.scholar_id, record, self._since, now)


def parse_author(scholar_id: str, pages: list[dict[str, Any]], now: datetime) -> AuthorData:
    """Every page of one profile (the first carries ``author`` and ``cited_by``) → ``AuthorData``;
    ``PageNotUnderstood`` naming the part that is missing or out of range."""
    parts = ProfileParts(scholar_id)
    for page in pages:
        parts.add(page)
    return parts.finish(now)
