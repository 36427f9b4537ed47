"""The Markdown a CI run writes to its job summary. Pure functions, no I/O.

Why: the person reading a workflow run wants the numbers, what changed since the data already
published, and whether anything went wrong, without opening logs. Text from Scholar (a profile
name, a message quoting it) goes in only through ``core.text.log_safe``, like every line printed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from scholar_stats.core.model import FetchStatus, Metrics
from scholar_stats.core.text import log_safe
from scholar_stats.outputs.catalogue import GS_DATA, STATUS

SHOWN = ("citations", "citations-5y", "h-index", "i10-index", "publications")


@dataclass(frozen=True)
class AuthorReport:
    """One author of a run: the published numbers before, the numbers now, the fetch status."""

    scholar_id: str
    name: str
    old: Metrics | None
    new: Metrics | None
    status: FetchStatus | None


def reports_from_files(
    previous: Mapping[str, bytes], current: Mapping[str, bytes]
) -> list[AuthorReport]:
    """One report per folder of ``current`` that has ``gs_data.json`` or ``status.json``."""
    folders = sorted({str(PurePosixPath(p).parent) for p in current
                      if PurePosixPath(p).name in (GS_DATA.name, STATUS.name)})
    reports = []
    for folder in folders:
        prefix = "" if folder == "." else folder + "/"
        old = _gs_data(previous.get(prefix + GS_DATA.name))
        new = _gs_data(current.get(prefix + GS_DATA.name))
        status = _status(current.get(prefix + STATUS.name))
        scholar_id = (new or old or {}).get("scholar_id") or (
            status.scholar_id if status else folder)
        reports.append(AuthorReport(
            scholar_id=str(scholar_id),
            name=str((new or old or {}).get("name", scholar_id)),
            old=_metrics(old), new=_metrics(new), status=status,
        ))
    return reports


def _gs_data(data: bytes | None) -> dict[str, Any] | None:
    try:
        record = json.loads(data) if data else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _metrics(record: dict[str, Any] | None) -> Metrics | None:
    try:
        return Metrics.from_gs_data(record) if record else None
    except (KeyError, TypeError):
        return None


def _status(data: bytes | None) -> FetchStatus | None:
    try:
        return FetchStatus.from_dict(json.loads(data)) if data else None
    except (ValueError, KeyError, TypeError):
        return None


def _cell(metric: str, old: Metrics | None, new: Metrics | None) -> str:
    if new is None:
        return "\N{EN DASH}"  # an empty cell
    value = new.as_dict()[metric]
    if old is None:
        return f"{value:,}"
    delta = value - old.as_dict()[metric]
    return f"{value:,} ({delta:+,})" if delta else f"{value:,}"


def _escape(text: str) -> str:
    return log_safe(text).replace("|", "\\|")


def fetch_note(status: FetchStatus | None, noted: Mapping[str, str]) -> str:
    """The fetch cell: its outcome, and where the data came from when ``noted`` names the
    source (every source but Scholar, by name: its title; ``sources.registry.noted_titles``)."""
    if status is None:
        return "no status"
    title = noted.get(status.source or "")
    via = f" (from {title})" if title is not None else ""
    if status.outcome == "ok":
        return "ok" + via
    return f"{status.outcome}{via}: previous data kept"


def render_summary(reports: Sequence[AuthorReport], outcome: str,
                   noted: Mapping[str, str]) -> str:
    """A heading, one table row per author (value and change since the published data);
    ``noted``: the sources whose data the fetch cell names (see ``fetch_note``)."""
    lines = ["### Google Scholar stats", ""]
    header = ["author", *SHOWN, "fetch"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for report in reports:
        who = f"{_escape(report.name)} (`{report.scholar_id}`)"
        cells = [_cell(metric, report.old, report.new) for metric in SHOWN]
        note = _escape(fetch_note(report.status, noted))
        lines.append("| " + " | ".join([who, *cells, note]) + " |")
    lines.append("")
    for report in reports:
        if report.status is not None and report.status.outcome != "ok":
            lines.append(f"- `{report.scholar_id}`: {_escape(report.status.message)}")
    lines.append(f"**Outcome:** {_escape(outcome)}")
    return "\n".join(lines) + "\n"
