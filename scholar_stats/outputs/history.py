"""``history.csv``: one row per day of an author's metrics. Pure functions, no I/O.

The same format is kept on the published branch (``publish``), written by ``export`` and served
by the live service::

    date,citations,citations-5y,h-index,h-index-5y,i10-index,i10-index-5y,publications
    2026-11-20,1079,1078,17,17,24,24,20
"""

from __future__ import annotations

import csv
import io
from types import MappingProxyType

from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.core.model import HistoryRow as HistoryRow  # the row type the store reads

HISTORY_COLUMNS = ("date", *METRIC_NAMES)


def parse_history_csv(data: bytes) -> list[HistoryRow]:
    """Rows of an existing ``history.csv``, sorted by date; rows that cannot be read are dropped.

    Tolerant on purpose: a hand-edited or older file must not stop a publish.
    """
    rows: dict[str, HistoryRow] = {}
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    for record in reader:
        try:
            date = str(record["date"]).strip()
            values = {name: int(record[name]) for name in METRIC_NAMES}
        except (KeyError, TypeError, ValueError):
            continue
        if len(date) == 10:
            rows[date] = HistoryRow(date, MappingProxyType(values))
    return [rows[date] for date in sorted(rows)]


def upsert_row(rows: list[HistoryRow], row: HistoryRow) -> list[HistoryRow]:
    """A new list with ``row`` replacing the row of the same date (or added), sorted by date."""
    by_date = {existing.date: existing for existing in rows}
    by_date[row.date] = row
    return [by_date[date] for date in sorted(by_date)]


def render_history_csv(rows: list[HistoryRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in rows:
        writer.writerow([row.date, *(row.values[name] for name in METRIC_NAMES)])
    return out.getvalue().encode("utf-8")
