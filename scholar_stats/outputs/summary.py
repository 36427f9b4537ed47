"""The Markdown a CI run writes to its job summary, and the one-line form of scraped text for
its log. Pure functions, no I/O.

Why: the person reading a workflow run wants the numbers, what changed since the data already
published, and whether anything went wrong, without opening logs. And a log line is also a
channel to the runner: GitHub acts on a line starting with ``::`` and on ``##[`` anywhere in
one, so text from Scholar (a profile name, a title) is printed only through :func:`log_safe`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from scholar_stats.core.model import FetchStatus, Metrics
from scholar_stats.outputs.render import GS_DATA, STATUS

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
                      if PurePosixPath(p).name in (GS_DATA, STATUS)})
    reports = []
    for folder in folders:
        prefix = "" if folder == "." else folder + "/"
        old = _gs_data(previous.get(prefix + GS_DATA))
        new = _gs_data(current.get(prefix + GS_DATA))
        status = _status(current.get(prefix + STATUS))
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


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control, format (zero-width, bidi), line and paragraph separators, lone surrogates: they break
# lines, hide text, or are skipped by the runner's culture-sensitive matching.
_HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")
_LEADING_COMMAND = re.compile(r"^(\s*):")


def _shown(char: str) -> str:
    if unicodedata.category(char) not in _HIDDEN:
        return char
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def log_safe(text: str) -> str:
    """``text`` as one inert log line: hidden and line-breaking characters shown as escapes
    (``\\n``, ``\\x1b``, ``\\u200b``), a leading ``:`` as ``\\x3a`` and ``##[`` as ``#\\x23[``,
    so the line can start no workflow command. Plain text is left as it is."""
    line = "".join(map(_shown, text)).replace("##[", "#\\x23[")
    return _LEADING_COMMAND.sub(lambda m: m.group(1) + "\\x3a", line, count=1)


def _escape(text: str) -> str:
    return log_safe(text).replace("|", "\\|")


def fetch_note(status: FetchStatus | None) -> str:
    if status is None:
        return "no status"
    if status.outcome == "ok":
        return "ok"
    return f"{status.outcome}: previous data kept"


def render_summary(reports: Sequence[AuthorReport], outcome: str) -> str:
    """A heading, one table row per author (value and change since the published data)."""
    lines = ["### Google Scholar stats", ""]
    header = ["author", *SHOWN, "fetch"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for report in reports:
        who = f"{_escape(report.name)} (`{report.scholar_id}`)"
        cells = [_cell(metric, report.old, report.new) for metric in SHOWN]
        lines.append("| " + " | ".join([who, *cells, _escape(fetch_note(report.status))]) + " |")
    lines.append("")
    for report in reports:
        if report.status is not None and report.status.outcome != "ok":
            lines.append(f"- `{report.scholar_id}`: {_escape(report.status.message)}")
    lines.append(f"**Outcome:** {_escape(outcome)}")
    return "\n".join(lines) + "\n"
