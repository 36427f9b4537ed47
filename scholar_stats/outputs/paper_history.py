"""``history --papers``: each stored change of a paper's citations, as rows. Pure, no I/O.

The store keeps a paper's count only when it changes (``pub_citations``); each such row is a
line here: when (UTC date), which paper, its title as the last profile shows it, its count
then, and the change from its previous count (``None`` when the paper was first seen).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from scholar_stats.core.text import json_safe, log_safe

PAPER_COLUMNS = ("date", "author_pub_id", "title", "citations", "change")


@dataclass(frozen=True)
class PaperChange:
    date: str
    author_pub_id: str
    title: str
    citations: int
    change: int | None


def paper_changes(
    history: Mapping[str, list[tuple[datetime, int]]], titles: Mapping[str, str]
) -> list[PaperChange]:
    """The rows of ``history`` (pub id → its counts, oldest first), newest first, then by id."""
    rows: list[tuple[datetime, PaperChange]] = []
    for pub_id, counts in history.items():
        previous: int | None = None
        for at, count in counts:
            change = None if previous is None else count - previous
            day = at.astimezone(timezone.utc).date().isoformat()
            rows.append((at, PaperChange(day, pub_id, titles.get(pub_id, ""), count, change)))
            previous = count
    rows.sort(key=lambda item: item[1].author_pub_id)
    rows.sort(key=lambda item: item[0], reverse=True)  # stable: ties stay by id
    return [row for _at, row in rows]


def shown_change(change: int | None) -> str:
    """``+2``, ``-1``, ``0``, or ``new`` (first seen) in a table."""
    return "new" if change is None else f"{change:+d}" if change else "0"


def render_paper_changes_csv(rows: list[PaperChange], *, inert: bool = False) -> str:
    """CSV as RFC 4180 has it, each title exact, for a file or a program; ``inert`` (a
    terminal) shows the titles through ``log_safe`` instead, as the table does: CSV has no
    escapes of its own. Lines end in CRLF: Python's writer quotes a field holding a line
    terminator's character, so a title with a lone CR is quoted and stays one field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PAPER_COLUMNS)
    for row in rows:
        change = "" if row.change is None else f"{row.change:+d}"
        title = log_safe(row.title) if inert else row.title
        writer.writerow([row.date, row.author_pub_id, title, row.citations, change])
    return out.getvalue()


def render_paper_changes_json(rows: list[PaperChange]) -> str:
    """The exact titles, their hidden characters as ``\\uXXXX`` escapes (``json_safe``)."""
    return json_safe([asdict(row) for row in rows]) + "\n"
