"""The tracked authors: add, remove, list, and which are due."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scholar_stats.core.plan import (
    check_interval,
)
from scholar_stats.store.base import StoreBase
from scholar_stats.store.schema import (
    attempts,
    authors,
    change_events,
    deliveries,
    group_members,
    metric_history,
    profiles,
    pub_citations,
    publications,
    scheduler_state,
)
from scholar_stats.store.values import TrackedAuthor, author_from_row

log = logging.getLogger(__name__)



class AuthorRows(StoreBase):
    """The tracked-author rows (part of ``Store``)."""

    def add_authors(
        self, ids: Iterable[str], interval_seconds: float, now: datetime
    ) -> list[str]:
        """Track ``ids`` (already validated); returns the ones that were new. New authors are due
        now: the scheduler's pacing spreads a big batch out, then each settles on its slot."""
        check_interval(interval_seconds)
        added: list[str] = []
        with self._write() as conn:
            existing = set(conn.execute(sa.select(authors.c.scholar_id)).scalars())
            for scholar_id in dict.fromkeys(ids):
                if scholar_id in existing:
                    conn.execute(
                        sa.update(authors).where(authors.c.scholar_id == scholar_id)
                        .values(interval_seconds=interval_seconds)
                    )
                    continue
                conn.execute(sa.insert(authors).values(
                    scholar_id=scholar_id, added_at=now, interval_seconds=interval_seconds,
                    state="new", next_due_at=now,
                ))
                added.append(scholar_id)
            if added:
                self._bump_roster(conn)
        return added

    def _bump_roster(self, conn: Connection) -> None:
        """Count additions and removals, in their own transaction, for ``change_marker``."""
        current = conn.execute(
            sa.select(scheduler_state.c.value).where(scheduler_state.c.key == "roster")
        ).scalar()
        conn.execute(sa.delete(scheduler_state).where(scheduler_state.c.key == "roster"))
        roster = str(int(current or 0) + 1)
        conn.execute(sa.insert(scheduler_state).values(key="roster", value=roster))

    def remove_author(self, scholar_id: str) -> bool:
        """Stop tracking and delete everything kept about the author."""
        with self._write() as conn:
            pub_ids = sa.select(publications.c.id).where(publications.c.scholar_id == scholar_id)
            conn.execute(
                sa.delete(pub_citations).where(pub_citations.c.publication_id.in_(pub_ids))
            )
            for table in (publications, metric_history, profiles, attempts, change_events,
                          deliveries, group_members):
                conn.execute(sa.delete(table).where(table.c.scholar_id == scholar_id))
            result = conn.execute(sa.delete(authors).where(authors.c.scholar_id == scholar_id))
            if result.rowcount:
                self._bump_roster(conn)
            return bool(result.rowcount)

    def list_authors(self) -> list[TrackedAuthor]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(authors, profiles.c.source)
                .outerjoin(profiles, profiles.c.scholar_id == authors.c.scholar_id))
            return sorted((author_from_row(row) for row in rows), key=lambda a: a.scholar_id)

    def change_marker(self) -> tuple[str, int]:
        """(roster version, newest attempt id): changes with every addition, removal and
        recorded attempt.

        Readers that mirror the store (the service's poll) compare it before reading anything
        else, so an idle poll costs two small queries instead of ten thousand rows.
        """
        with self._read() as conn:
            roster = conn.execute(
                sa.select(scheduler_state.c.value).where(scheduler_state.c.key == "roster")
            ).scalar()
            newest_attempt = conn.execute(sa.select(sa.func.max(attempts.c.id))).scalar()
            return str(roster or "0"), int(newest_attempt or 0)

    def authors_attempted_after(self, attempt_id: int) -> list[TrackedAuthor]:
        """Tracked authors with an attempt recorded after ``attempt_id`` (see ``change_marker``)."""
        with self._read() as conn:
            recent = sa.select(attempts.c.scholar_id).where(attempts.c.id > attempt_id)
            rows = conn.execute(sa.select(authors).where(authors.c.scholar_id.in_(recent)))
            return sorted((author_from_row(row) for row in rows), key=lambda a: a.scholar_id)

    def get_author(self, scholar_id: str) -> TrackedAuthor | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(authors).where(authors.c.scholar_id == scholar_id)
            ).first()
            return author_from_row(row) if row else None

    def get_authors(self, ids: Iterable[str]) -> dict[str, TrackedAuthor]:
        """The tracked ones among ``ids``, by id, in one query."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        with self._read() as conn:
            rows = conn.execute(sa.select(authors).where(authors.c.scholar_id.in_(wanted)))
            return {row.scholar_id: author_from_row(row) for row in rows}

    def due_authors(self, now: datetime) -> list[TrackedAuthor]:
        """Authors whose next attempt is due and that no one is fetching, most overdue first."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(authors)
                .where(authors.c.next_due_at <= now)
                .where(sa.or_(authors.c.lease_until.is_(None), authors.c.lease_until <= now))
            )
            return sorted((author_from_row(row) for row in rows),
                          key=lambda a: (a.next_due, a.scholar_id))

    def mark_due(self, scholar_id: str, now: datetime) -> bool:
        """Ask whichever scheduler runs on this store to fetch the author at its next tick
        (pause, pacing and budget still apply). False when the author is not tracked."""
        with self._write() as conn:
            result = conn.execute(
                sa.update(authors).where(authors.c.scholar_id == scholar_id)
                .values(next_due_at=now)
            )
            return result.rowcount == 1
