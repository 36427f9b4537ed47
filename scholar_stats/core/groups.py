"""A group's numbers (a lab, a department): its members' publications merged, a co-authored
paper counted once, and the group's citations, h-index, i10-index and publication count from
that list. Pure.

Two papers of different members are the same when their normalised titles and their years are
equal (each member's profile lists a shared paper under its own ``author_pub_id``); a member's
own papers are never merged with each other. Normalising: Unicode NFKC, casefolded, with every
punctuation, space, separator and control character removed, so "Deep  Learning: A Review" and
"deep learning — a review" are one paper. A title that
normalises to nothing is never merged. The counts of one paper on two profiles can differ (they
were fetched at different times, or Scholar clusters versions differently): the highest is taken,
never the sum.

There are no 5-year forms: Scholar gives per-paper counts only as totals, so a group's "since"
numbers cannot be derived from its papers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scholar_stats.core.papers import Paper, ProfileSnapshot

GROUP_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def validate_group_name(text: str) -> str:
    """A group's name as it appears in URLs and folders: 1-64 of a-z, 0-9, ``-``, ``_``,
    starting with a letter or digit; ``ValueError`` otherwise."""
    if not GROUP_NAME_RE.fullmatch(text):
        raise ValueError(f"{text[:70]!r} is not a group name: use 1-64 of a-z, 0-9, '-' and "
                         "'_', starting with a letter or digit")
    return text


def normalise_title(title: str) -> str:
    """The form titles are compared in: NFKC, casefolded, no punctuation or whitespace."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", title).casefold())
    return "".join(char for char in folded if unicodedata.category(char)[0] not in "PZC")


def h_index(counts: Iterable[int]) -> int:
    """The largest h such that h papers have at least h citations each."""
    ranked = sorted(counts, reverse=True)
    return sum(1 for rank, count in enumerate(ranked, 1) if count >= rank)


def i10_index(counts: Iterable[int]) -> int:
    """Papers with at least 10 citations."""
    return sum(1 for count in counts if count >= 10)


@dataclass(frozen=True)
class GroupPaper:
    """One paper of the group: the members' entries for it (``author_pub_id``s, sorted)."""

    title: str
    year: int | None
    citations: int
    pub_ids: tuple[str, ...]

    @property
    def shared(self) -> bool:
        return len({pub_id.split(":", 1)[0] for pub_id in self.pub_ids}) > 1


@dataclass(frozen=True)
class MemberNumbers:
    """A member's own numbers, as their profile shows them."""

    scholar_id: str
    name: str
    citations: int
    h_index: int
    i10_index: int
    publications: int


@dataclass(frozen=True)
class GroupTotals:
    name: str
    members: tuple[MemberNumbers, ...]  # in scholar_id order
    papers: tuple[GroupPaper, ...]  # most cited first, then by title
    citations: int
    h_index: int
    i10_index: int
    publications: int

    @property
    def shared_papers(self) -> int:
        return sum(1 for paper in self.papers if paper.shared)


def _key(paper: Paper) -> tuple[str, int | None] | str:
    title = normalise_title(paper.title)
    return (title, paper.year) if title else paper.pub_id


def merge_papers(profiles: Iterable[ProfileSnapshot]) -> tuple[GroupPaper, ...]:
    """The members' papers with each (normalised title, year) once per member; most cited
    first.

    Only entries of different members are merged: one member's own papers that share a key
    (a conference and a journal version) stay distinct, and the others' entries for that key
    are paired with them by rank (each member's most cited with the others' most cited, and so
    on), so the group never lists fewer papers than any member does.
    """
    merged: dict[tuple[str, int | None] | str, list[list[Paper]]] = {}
    for profile in profiles:
        own: dict[tuple[str, int | None] | str, list[Paper]] = {}
        for paper in profile.papers.values():
            own.setdefault(_key(paper), []).append(paper)
        for key, entries in own.items():
            slots = merged.setdefault(key, [])
            entries.sort(key=lambda paper: (-paper.citations, paper.pub_id))
            slots.extend([] for _ in range(len(entries) - len(slots)))
            for rank, paper in enumerate(entries):
                slots[rank].append(paper)
    papers = []
    for entries in (slot for slots in merged.values() for slot in slots):
        first = min(entries, key=lambda paper: paper.pub_id)
        papers.append(GroupPaper(
            title=first.title, year=first.year,
            citations=max(paper.citations for paper in entries),
            pub_ids=tuple(sorted({paper.pub_id for paper in entries})),
        ))
    papers.sort(key=lambda paper: (-paper.citations, normalise_title(paper.title),
                                   paper.pub_ids))
    return tuple(papers)


def group_totals(name: str, profiles: Mapping[str, ProfileSnapshot]) -> GroupTotals:
    """The group ``name`` of the members ``profiles`` (scholar_id -> their last good data)."""
    ordered = [profiles[scholar_id] for scholar_id in sorted(profiles)]
    papers = merge_papers(ordered)
    counts = [paper.citations for paper in papers]
    members = tuple(
        MemberNumbers(p.scholar_id, p.name, p.metrics.citations, p.metrics.h_index,
                      p.metrics.i10_index, p.metrics.publications)
        for p in ordered
    )
    return GroupTotals(name, members, papers, citations=sum(counts), h_index=h_index(counts),
                       i10_index=i10_index(counts), publications=len(papers))
