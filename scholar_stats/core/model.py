"""The data scholar-stats deals in: one author's profile as Scholar showed it.

``AuthorData.gs_data`` is the AcadHomepage record (docs/architecture.md, "The gs_data.json
record") exactly as it is written to ``gs_data.json``; the other fields are what the badges need
and ``gs_data.json`` cannot hold (the year Scholar's "since" column names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from scholar_stats.core.text import clean_text
from scholar_stats.errors import UsageError

SCHOLAR_ID_RE = re.compile(r"[A-Za-z0-9_-]{12}")

# The hosts Google serves Scholar on: scholar.google.com and scholar. before each country form
# of Google's domain: google.<cc> (scholar.google.de), google.co.<cc> (scholar.google.co.uk),
# google.com.<cc> (scholar.google.com.hk), and google.cat; "www." before it is allowed. Matched
# against the whole host, lower-cased ASCII only: an IDN look-alike or a longer name ending
# elsewhere (scholar.google.com.evil.example) is not Scholar.
SCHOLAR_HOST_RE = re.compile(
    r"(?:www\.)?scholar\.google\.(?:com|cat|[a-z]{2}|(?:co|com)\.[a-z]{2})")
PROFILE_PATH = "/citations"
# What the user typed is read only up to this length: a profile URL is about 100 characters,
# and a browser's longest is well under it.
MAX_ID_INPUT = 2000
EXPECTED_ID_INPUT = ("expected an id like DhtAFkwAAAAJ (12 characters) or a profile URL like "
                     "https://scholar.google.com/citations?user=DhtAFkwAAAAJ")
# copy-paste leaves these around a value: one pair is taken off
_QUOTES = {'"': '"', "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019", "<": ">"}


def validate_scholar_id(value: str) -> str:
    """Return ``value`` if it is a Scholar user id (12 chars of [A-Za-z0-9_-]), else raise."""
    if not SCHOLAR_ID_RE.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise UsageError(
            f"{shown!r} is not a Google Scholar id: expected the 12 characters after 'user=' "
            "in the profile URL, e.g. DhtAFkwAAAAJ"
        )
    return value


def parse_scholar_id(text: str) -> str:
    """The Scholar id in what a person typed or pasted: an id, or a profile URL
    (``https://scholar.google.de/citations?hl=de&user=DhtAFkwAAAAJ#x``, with or without the
    scheme), around it spaces and one pair of quotes. Anything else is a ``UsageError`` of one
    line that shows no user name, password, path or query of a URL (they may hold a secret)."""
    value = text.strip()
    if len(value) >= 2 and _QUOTES.get(value[0]) == value[-1]:
        value = value[1:-1].strip()
    if len(value) > MAX_ID_INPUT:
        raise _not_an_id(f"a text of {len(value)} characters", "longer than any profile URL")
    if SCHOLAR_ID_RE.fullmatch(value):
        return value
    host = value.split("/", 1)[0]
    if "://" not in value and host.isascii() and SCHOLAR_HOST_RE.fullmatch(host.lower()):
        value = "https://" + value  # the address bar's form, without its scheme
    if "://" not in value:
        if any(char in value for char in ":@=?&#%"):  # maybe a URL missing its scheme
            raise _not_an_id("the text given (not shown: it may hold a secret)")
        raise _not_an_id(repr(value if len(value) <= 40 else value[:40] + "…"))
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        raise _not_an_id("the URL given", "not a URL") from None
    shown = f"{ascii(parts.scheme[:12])[1:-1]}://{ascii(host)[1:-1][:60]}/…"
    problem = _profile_url_problem(value, parts)
    if problem:
        raise _not_an_id(shown, problem)
    users = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "user"]
    if not users:
        raise _not_an_id(shown, "no user= in it; in a shell, quote the URL: & ends a command")
    if len(users) > 1:
        raise _not_an_id(shown, f"user= is in it {len(users)} times")
    if not SCHOLAR_ID_RE.fullmatch(users[0]):  # said, not shown: the query is not shown
        raise _not_an_id(shown, f"its user= is {len(users[0])} characters long, not 12 of "
                         "A-Z, a-z, 0-9, _ and -" if re.fullmatch(r"[A-Za-z0-9_-]*", users[0])
                         else "its user= holds characters other than A-Z, a-z, 0-9, _ and -")
    return users[0]


def _profile_url_problem(url: str, parts: SplitResult) -> str | None:
    """What keeps ``url`` from being a Scholar profile URL, or ``None``."""
    if parts.scheme.lower() not in ("http", "https"):
        return "not http or https"
    if any(not char.isprintable() or char.isspace() for char in url):
        return "it holds spaces or control characters"
    if "@" in parts.netloc:
        return "a user name or password before its host"
    if not (parts.netloc.isascii() and SCHOLAR_HOST_RE.fullmatch(parts.netloc.lower())):
        return "not a Google Scholar host such as scholar.google.com or scholar.google.de"
    if parts.path != PROFILE_PATH:
        return f"not a profile page: the path is not {PROFILE_PATH}"
    return None


def _not_an_id(shown: str, problem: str = "") -> UsageError:
    because = f" ({problem})" if problem else ""
    return UsageError(f"{shown} is not a Google Scholar id or profile URL{because}: "
                      f"{EXPECTED_ID_INPUT}")


@dataclass(frozen=True)
class Metrics:
    """The numbers a badge shows; field names match the ``shields/<metric>.json`` names."""

    citations: int
    citations_5y: int
    h_index: int
    h_index_5y: int
    i10_index: int
    i10_index_5y: int
    publications: int

    @classmethod
    def from_gs_data(cls, gs_data: dict[str, Any]) -> Metrics:
        return cls(
            citations=gs_data["citedby"],
            citations_5y=gs_data["citedby5y"],
            h_index=gs_data["hindex"],
            h_index_5y=gs_data["hindex5y"],
            i10_index=gs_data["i10index"],
            i10_index_5y=gs_data["i10index5y"],
            publications=len(gs_data["publications"]),
        )

    def as_dict(self) -> dict[str, int]:
        """Metric name (as in ``shields/<name>.json`` and ``history.csv``) → value."""
        return {
            "citations": self.citations,
            "citations-5y": self.citations_5y,
            "h-index": self.h_index,
            "h-index-5y": self.h_index_5y,
            "i10-index": self.i10_index,
            "i10-index-5y": self.i10_index_5y,
            "publications": self.publications,
        }


METRIC_NAMES = tuple(Metrics(0, 0, 0, 0, 0, 0, 0).as_dict())


@dataclass(frozen=True)
class HistoryRow:
    """One day of an author's metrics, as the store reads it back and ``history.csv`` holds
    it: ``date`` is ISO ``YYYY-MM-DD`` (UTC), ``values`` maps metric name → int."""

    date: str
    values: Mapping[str, int]

    @classmethod
    def from_metrics(cls, date: str, metrics: Metrics) -> HistoryRow:
        return cls(date, MappingProxyType(metrics.as_dict()))


@dataclass(frozen=True)
class AuthorData:
    """One successful fetch: the ``gs_data.json`` record plus the since-year of the metrics."""

    scholar_id: str
    gs_data: dict[str, Any]
    since_year: int | None

    @property
    def metrics(self) -> Metrics:
        return Metrics.from_gs_data(self.gs_data)

    @property
    def name(self) -> str:
        return str(self.gs_data.get("name", self.scholar_id))

    @property
    def updated(self) -> str:
        return str(self.gs_data["updated"])


@dataclass(frozen=True)
class FetchStatus:
    """What ``status.json`` says about the last attempt; a failure never touches the data files.

    ``stale``/``stale_reason`` are set by readers that judge the age of the data (``export``,
    the service); they are left out of the file when ``None``.
    """

    scholar_id: str
    outcome: str  # "ok", or the error kind: blocked, not_found, not_understood, network, ...
    exit_code: int
    message: str
    last_attempt: str  # ISO 8601 with offset
    last_success: str | None
    requests: int = 0
    duration_seconds: float = 0.0
    since_year: int | None = None
    stale: bool | None = None
    stale_reason: str | None = None
    source: str | None = None  # a source's name ("scholar"): where the data (or failure) came from
    # The SerpApi searches this folder's author spent in the month ``serpapi_month`` (YYYY-MM):
    # ``fetch`` without a store keeps its monthly count here.
    serpapi_month: str | None = None
    serpapi_searches: int = 0

    @property
    def error_kind(self) -> str | None:
        return None if self.outcome == "ok" else self.outcome

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "scholar_id": self.scholar_id,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "error_kind": self.error_kind,
            "message": self.message,
            "last_attempt": self.last_attempt,
            "last_success": self.last_success,
            "requests": self.requests,
            "duration_seconds": round(self.duration_seconds, 3),
            "since_year": self.since_year,
        }
        if self.stale is not None:
            data["stale"] = self.stale
            data["stale_reason"] = self.stale_reason
        if self.source is not None:
            data["source"] = self.source
        if self.serpapi_month is not None:
            data["serpapi_searches"] = {"month": self.serpapi_month,
                                        "count": self.serpapi_searches}
        return data

    @classmethod
    def from_dict(cls, data: Any) -> FetchStatus:
        """A status as ``as_dict`` wrote it (a ``status.json``, a store row), its texts cleaned;
        ``ValueError`` naming the first field of the wrong type (a file we did not write)."""
        if not isinstance(data, dict):
            raise ValueError("a status is a JSON object")
        return cls(
            scholar_id=_field(data, "scholar_id", str),
            outcome=_field(data, "outcome", str),
            exit_code=_count(data, "exit_code", 255, required=True),
            message=_field(data, "message", str, default=""),
            last_attempt=_field(data, "last_attempt", str),
            last_success=_field(data, "last_success", str, default=None),
            requests=_count(data, "requests", 10**9),
            duration_seconds=_seconds(data, "duration_seconds"),
            since_year=_field(data, "since_year", int, default=None),
            stale=_field(data, "stale", bool, default=None),
            stale_reason=_field(data, "stale_reason", str, default=None),
            source=_field(data, "source", str, default=None),
            **_serpapi_searches(data.get("serpapi_searches")),
        )


_REQUIRED: Any = object()


def _field(data: dict[str, Any], key: str, kind: type, default: Any = _REQUIRED) -> Any:
    """``data[key]`` when it is a ``kind`` (text cleaned), ``default`` when absent or null."""
    value = data.get(key)
    if value is None and default is not _REQUIRED:
        return default
    if type(value) is not kind:  # exactly: a bool is not a year, an int not a flag
        raise ValueError(f"{key} is not {'text' if kind is str else kind.__name__}")
    return clean_text(value) if isinstance(value, str) else value


def _count(data: dict[str, Any], key: str, most: int, required: bool = False) -> int:
    value = _field(data, key, int, _REQUIRED if required else 0)
    if not 0 <= value <= most:
        raise ValueError(f"{key} is outside 0..{most}")
    return int(value)


def _seconds(data: dict[str, Any], key: str) -> float:
    value = data.get(key, 0.0)
    if type(value) not in (int, float) or not 0 <= value < float("inf"):
        raise ValueError(f"{key} is not a number of seconds")
    return float(value)


def _serpapi_searches(value: Any) -> dict[str, Any]:
    """``{"month": "2026-11", "count": 3}`` from a status file; nothing when absent or damaged
    (a damaged count reads as none spent: the file is ours, but it may be hand-edited)."""
    if not isinstance(value, dict):
        return {}
    month, count = value.get("month"), value.get("count")
    if not isinstance(month, str) or type(count) is not int or count < 0:
        return {}
    return {"serpapi_month": clean_text(month), "serpapi_searches": count}
