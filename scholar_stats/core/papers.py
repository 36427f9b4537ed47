"""What the comparisons need of a profile: its metrics and, per paper, title, year and citations.

A ``ProfileSnapshot`` is built from a ``gs_data.json`` record (``fetch`` comparing with the file
already in the results folder), or from what the store keeps (the last metric row, each
publication's last count and the last profile's titles), so that events and group totals are
computed by the same pure functions whatever the data came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scholar_stats.core.model import Metrics


@dataclass(frozen=True)
class Paper:
    """One publication as a profile lists it. ``year`` is ``None`` when Scholar shows none."""

    pub_id: str
    title: str
    year: int | None
    citations: int


@dataclass(frozen=True)
class ProfileSnapshot:
    """An author's numbers at one successful fetch (``at``: its ISO 8601 time)."""

    scholar_id: str
    at: str
    metrics: Metrics
    papers: Mapping[str, Paper] = field(default_factory=dict)  # author_pub_id -> Paper
    name: str = ""

    @classmethod
    def from_gs_data(cls, gs_data: Mapping[str, Any]) -> ProfileSnapshot:
        """From a ``gs_data.json`` record; raises ``KeyError``/``TypeError``/``ValueError`` when
        it is not one (the caller decides whether that means "nothing to compare with")."""
        papers = {}
        for pub_id, pub in gs_data["publications"].items():
            bib = pub.get("bib") or {}
            papers[str(pub_id)] = Paper(
                pub_id=str(pub_id),
                title=str(bib.get("title", "")),
                year=paper_year(bib.get("pub_year")),
                citations=int(pub.get("num_citations", 0)),
            )
        return cls(
            scholar_id=str(gs_data["scholar_id"]),
            at=str(gs_data["updated"]),
            metrics=Metrics.from_gs_data(dict(gs_data)),
            papers=papers,
            name=str(gs_data.get("name", "")),
        )


def paper_year(value: Any) -> int | None:
    """Scholar's ``pub_year`` ("2021", or absent) as a number; anything else is no year."""
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None
