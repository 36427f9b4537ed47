"""Reading back what was recorded: latest profile and metrics, history, attempts.

Text read back passes the rules text from a source passes (``core.text``): rows an older release
wrote may hold what no longer gets in (a NUL in a title, which PostgreSQL then refuses in a change
event), so the next refresh of such an author works, and so do ``export`` and the service."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING

import sqlalchemy as sa

from scholar_stats.core.changes import ChangeEvent
from scholar_stats.core.model import AuthorData, FetchStatus, HistoryRow, Metrics
from scholar_stats.core.text import clean_text, repair_json
from scholar_stats.store.base import StoreBase
from scholar_stats.store.schema import (
    METRIC_COLUMNS,
    attempts,
    authors,
    change_events,
    deliveries,
    metric_history,
    profiles,
    pub_citations,
    publications,
)
from scholar_stats.store.values import Attempt, DeliveryRow, TrackedAuthor

log = logging.getLogger(__name__)



class Reads(StoreBase):
    """Reads of recorded profiles, history and attempts (part of ``Store``)."""

    if TYPE_CHECKING:  # from ``AuthorRows``, the part of ``Store`` this one is assembled with

        def get_author(self, scholar_id: str) -> TrackedAuthor | None: ...

    def latest(self, scholar_id: str) -> AuthorData | None:
        """The last good profile, exactly as fetched (``gs_data.json`` rebuilds byte for byte)."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(profiles.c.gs_data, profiles.c.since_year)
                .where(profiles.c.scholar_id == scholar_id)
            ).first()
        if row is None:
            return None
        try:
            return AuthorData(scholar_id, repair_json(row.gs_data), row.since_year)
        except ValueError as exc:  # not what any release wrote: a damaged row
            log.warning("%s: the stored profile cannot be read (%s); treated as none", scholar_id,
                        exc)
            return None

    def latest_metrics(self, scholar_id: str) -> Metrics | None:
        """The metrics the plausibility gate compares a new fetch with."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(metric_history).where(metric_history.c.scholar_id == scholar_id)
                .order_by(metric_history.c.at.desc()).limit(1)
            ).first()
        if row is None:
            return None
        return Metrics(*(getattr(row, name) for name in METRIC_COLUMNS))

    def last_status(self, scholar_id: str) -> FetchStatus | None:
        """``status.json`` of the last attempt (``last_success`` as the store knows it)."""
        with self._read() as conn:
            text = conn.execute(
                sa.select(authors.c.last_status).where(authors.c.scholar_id == scholar_id)
            ).scalar()
        try:
            return FetchStatus.from_dict(repair_json(text)) if text else None
        except ValueError as exc:
            log.warning("%s: the stored status cannot be read (%s)", scholar_id, exc)
            return None

    def metric_changes(self, scholar_id: str) -> list[tuple[datetime, Metrics]]:
        """Every stored metric change, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(metric_history).where(metric_history.c.scholar_id == scholar_id)
                .order_by(metric_history.c.at)
            )
            return [(row.at, Metrics(*(getattr(row, n) for n in METRIC_COLUMNS))) for row in rows]

    def metric_sources(self, scholar_id: str) -> list[tuple[datetime, str | None]]:
        """Which source gave each stored metric change, oldest first (as ``metric_changes``)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(metric_history.c.at, metric_history.c.source)
                .where(metric_history.c.scholar_id == scholar_id).order_by(metric_history.c.at)
            )
            return [(row.at, row.source) for row in rows]

    def history(self, scholar_id: str, author: TrackedAuthor | None = None) -> list[HistoryRow]:
        """One row per UTC day from the first fetch to the last successful check: the values
        known at the end of that day (rebuilt from the change-only rows). ``author`` saves a
        read when the caller has just read it."""
        changes = self.metric_changes(scholar_id)
        author = author or self.get_author(scholar_id)
        if not changes or author is None:
            return []
        last_day = (author.last_success or changes[-1][0]).astimezone(timezone.utc).date()
        rows: list[HistoryRow] = []
        day = changes[0][0].astimezone(timezone.utc).date()
        index = 0
        current = changes[0][1]
        while day <= last_day:
            while index < len(changes) and changes[index][0].astimezone(timezone.utc).date() <= day:
                current = changes[index][1]
                index += 1
            rows.append(HistoryRow(day.isoformat(), MappingProxyType(current.as_dict())))
            day += timedelta(days=1)
        return rows

    def publication_history(self, scholar_id: str) -> dict[str, list[tuple[datetime, int]]]:
        """Publication id → its citation-count changes, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(publications.c.pub_id, pub_citations.c.at, pub_citations.c.num_citations)
                .join(pub_citations, pub_citations.c.publication_id == publications.c.id)
                .where(publications.c.scholar_id == scholar_id)
                .order_by(publications.c.pub_id, pub_citations.c.at)
            )
            result: dict[str, list[tuple[datetime, int]]] = {}
            for row in rows:
                result.setdefault(row.pub_id, []).append((row.at, row.num_citations))
            return result

    def attempts(self, scholar_id: str | None = None, *, limit: int = 100) -> list[Attempt]:
        """The newest attempts first."""
        query = (
            sa.select(attempts).order_by(attempts.c.at.desc(), attempts.c.id.desc()).limit(limit)
        )
        if scholar_id is not None:
            query = query.where(attempts.c.scholar_id == scholar_id)
        with self._read() as conn:
            return [
                Attempt(r.scholar_id, r.at, r.outcome, r.exit_code, r.error_kind,
                        clean_text(r.message), r.requests, r.duration_seconds, r.source)
                for r in conn.execute(query)
            ]

    def sources_since(self, since: datetime) -> dict[str, int]:
        """How many successful attempts each source gave since ``since``, by any process."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(attempts.c.source, sa.func.count())
                .where(attempts.c.at > since, attempts.c.exit_code == 0,
                       attempts.c.source.is_not(None))
                .group_by(attempts.c.source)
            )
            return {source: int(count) for source, count in rows}

    def outcomes_since(self, since: datetime) -> dict[str, int]:
        """How many attempts ended in each outcome since ``since``, by any process."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(attempts.c.outcome, sa.func.count())
                .where(attempts.c.at > since).group_by(attempts.c.outcome)
            )
            return {outcome: int(count) for outcome, count in rows}

    def change_events(self, scholar_id: str, *, limit: int = 200) -> tuple[ChangeEvent, ...]:
        """The author's newest ``limit`` events, newest fetch first, each fetch's events in
        their order (as ``changes.json`` lists them)."""
        mine = change_events.c.scholar_id == scholar_id
        with self._read() as conn:
            fetches = {r[0] for r in conn.execute(
                sa.select(change_events.c.at).where(mine)
                .order_by(change_events.c.id.desc()).limit(limit))}
            rows = list(conn.execute(
                sa.select(change_events).where(mine, change_events.c.at.in_(fetches))
                .order_by(change_events.c.id)))
        by_fetch: dict[str, list[ChangeEvent]] = {}
        for r in rows:
            by_fetch.setdefault(r.at, []).append(
                ChangeEvent(r.at, r.scholar_id, r.kind, r.key, clean_text(r.title), r.old, r.new))
        events = [e for fetch in reversed(by_fetch.values()) for e in fetch]
        return tuple(events[:limit])

    def first_success(self, scholar_id: str) -> datetime | None:
        """When the store first kept this author's numbers (what its change log starts from)."""
        with self._read() as conn:
            return conn.execute(
                sa.select(sa.func.min(metric_history.c.at))
                .where(metric_history.c.scholar_id == scholar_id)
            ).scalar()

    def deliveries(self, scholar_id: str | None = None, *, limit: int = 100) -> list[DeliveryRow]:
        """The newest recorded notifications first."""
        query = sa.select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if scholar_id is not None:
            query = query.where(deliveries.c.scholar_id == scholar_id)
        with self._read() as conn:
            return [DeliveryRow(r.scholar_id, r.at, r.target, bool(r.delivered), r.attempts,
                                r.detail) for r in conn.execute(query)]
