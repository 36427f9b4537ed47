"""The data scholar-stats deals in: one author's profile as Scholar showed it.

``AuthorData.gs_data`` is the AcadHomepage record (CONTRACT.md §2) exactly as it is written to
``gs_data.json``; the other fields are what the badges need and ``gs_data.json`` cannot hold
(the year Scholar's "since" column names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import UsageError

SCHOLAR_ID_RE = re.compile(r"[A-Za-z0-9_-]{12}")


def validate_scholar_id(value: str) -> str:
    """Return ``value`` if it is a Scholar user id (12 chars of [A-Za-z0-9_-]), else raise."""
    if not SCHOLAR_ID_RE.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise UsageError(
            f"{shown!r} is not a Google Scholar id: expected the 12 characters after 'user=' "
            "in the profile URL, e.g. DhtAFkwAAAAJ"
        )
    return value


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
