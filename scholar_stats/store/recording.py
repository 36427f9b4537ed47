"""Recording attempts: the profile, change-only metric and citation history, the attempt row,
next-due time and pause, in one transaction. What to record (the next-due time, the pause) is
decided by the refresh engine; nothing here is policy."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scholar_stats.core.model import AuthorData
from scholar_stats.core.plan import Pause
from scholar_stats.store.base import StoreBase
from scholar_stats.store.schema import (
    METRIC_COLUMNS,
    UtcMillis,
    attempts,
    authors,
    change_events,
    deliveries,
    metric_history,
    profiles,
    pub_citations,
    publications,
)
from scholar_stats.store.values import KEEP, AttemptRecord, PauseChange, encode_gs_data, iso_utc

log = logging.getLogger(__name__)


class Recording(StoreBase):
    """Recording attempts and their results (part of ``Store``)."""

    if TYPE_CHECKING:  # from ``Pacing``, the part of ``Store`` this one is assembled with

        def _pause_in(self, conn: Connection, egress: str = "") -> Pause | None: ...

        def _set_pause(self, conn: Connection, pause: Pause | None,
                       egress: str = "") -> None: ...

    def record_attempts(
        self, records: Iterable[AttemptRecord], now: datetime, *, pause: PauseChange = KEEP,
        prune_before: datetime | None = None, pauses: dict[str, PauseChange] | None = None,
    ) -> None:
        """Record several attempts at ``now`` in one transaction, with a few set-wise
        statements per batch; only a success touches the profile and the history.

        ``pause`` replaces the stored pause unless it is ``KEEP``; attempt rows older than
        ``prune_before`` are deleted. Records of authors that are not tracked (removed while
        fetching) are dropped.
        """
        pending = list(records)
        # encoded before the write lock is taken: the slow part runs while others write
        texts = {id(r): encode_gs_data(r.data.gs_data) for r in pending if r.data is not None}
        with self._write() as conn:
            while pending:  # runs without a repeated author, so each sees the previous one
                seen: set[str] = set()
                run: list[AttemptRecord] = []
                while pending and pending[0].scholar_id not in seen:
                    seen.add(pending[0].scholar_id)
                    run.append(pending.pop(0))
                self._record_run(conn, run, now, texts)
            for egress, change in {"": pause, **(pauses or {})}.items():
                if not isinstance(change, str) and change != self._pause_in(conn, egress):
                    self._set_pause(conn, change, egress)
            if prune_before is not None:
                conn.execute(sa.delete(attempts).where(attempts.c.at < prune_before))

    def record_deliveries(self, scholar_id: str, at: datetime,
                          sent: Iterable[tuple[str, bool, int, str]]) -> None:
        """How a notice went to each target: (target, delivered, attempts, detail); the
        target names the webhook by number and host, never by URL."""
        rows = [{"scholar_id": scholar_id, "at": at, "target": target[:255],
                 "delivered": delivered, "attempts": tries, "detail": detail}
                for target, delivered, tries, detail in sent]
        if rows:
            with self._write() as conn:
                conn.execute(sa.insert(deliveries), rows)

    def _record_run(
        self, conn: Connection, run: list[AttemptRecord], now: datetime, texts: dict[int, str]
    ) -> None:
        ids = [r.scholar_id for r in run]
        tracked = {
            row.scholar_id: row
            for row in conn.execute(sa.select(authors).where(authors.c.scholar_id.in_(ids)))
        }
        for record in run:
            if record.scholar_id not in tracked:
                log.warning("%s is not tracked (removed while fetching?): result not stored",
                            record.scholar_id)
        run = [r for r in run if r.scholar_id in tracked]
        if not run:
            return
        conn.execute(sa.insert(attempts), [
            {"scholar_id": r.scholar_id, "at": now, "outcome": r.status.outcome,
             "exit_code": r.status.exit_code, "error_kind": r.status.error_kind,
             "message": r.status.message, "requests": r.status.requests,
             "duration_seconds": r.status.duration_seconds, "source": r.status.source}
            for r in run
        ])
        successes = [r.data for r in run if r.data is not None]
        if successes:
            ids = [d.scholar_id for d in successes]
            before: dict[str, datetime] = {
                row[0]: row[1] for row in conn.execute(
                    sa.select(profiles.c.scholar_id, profiles.c.fetched_at)
                    .where(profiles.c.scholar_id.in_(ids))
                )
            }
            at = self._instants(ids, before, now)
            gs_texts = {r.scholar_id: texts[id(r)] for r in run if r.data is not None}
            sources = {r.scholar_id: r.status.source for r in run if r.data is not None}
            self._store_profiles(conn, successes, at, before, gs_texts, sources)
            self._store_metrics(conn, successes, at, sources)
            self._store_publications(conn, successes, at, before)
        events = [event for r in run if r.data is not None for event in r.events]
        if events:
            conn.execute(sa.insert(change_events), [
                {"scholar_id": e.scholar_id, "at": e.at, "kind": e.kind, "key": e.key,
                 "title": e.title, "old": e.old, "new": e.new} for e in events])
        conn.execute(
            sa.update(authors).where(authors.c.scholar_id == sa.bindparam("sid")).values(
                state=sa.bindparam("state"), last_attempt_at=sa.bindparam("attempt"),
                last_success_at=sa.bindparam("success"), last_outcome=sa.bindparam("state"),
                last_exit_code=sa.bindparam("code"), last_status=sa.bindparam("status"),
                next_due_at=sa.bindparam("due"), lease_until=None, lease_holder=None,
            ),
            [self._author_update(tracked[r.scholar_id], r, now) for r in run],
        )

    def _author_update(self, author: Any, record: AttemptRecord, now: datetime) -> dict[str, Any]:
        status = record.status
        last_success = now if record.data is not None else author.last_success_at
        previous = json.loads(author.last_status) if author.last_status else {}
        stored_status = dataclasses.replace(
            status,
            last_attempt=iso_utc(now),
            last_success=iso_utc(last_success) if last_success else None,
            since_year=status.since_year if record.data is not None
            else previous.get("since_year"),
        )
        return {
            "sid": author.scholar_id, "state": status.outcome, "attempt": now,
            "success": last_success, "code": status.exit_code,
            "status": json.dumps(stored_status.as_dict(), ensure_ascii=False),
            "due": record.next_due if record.next_due is not None else author.next_due_at,
        }

    def _instants(
        self, ids: list[str], before: dict[str, datetime], now: datetime
    ) -> dict[str, datetime]:
        """The time each success is stored at: ``now``, or 1 ms after the author's previous
        success if that was not earlier (history keys are (author, time); order is kept)."""
        stored = UtcMillis().process_result_value(UtcMillis().process_bind_param(now, None), None)
        if stored is None:  # only None maps to None
            raise ValueError("a success needs a time")
        now = stored
        return {
            sid: now if sid not in before or before[sid] < now
            else before[sid] + timedelta(milliseconds=1)
            for sid in ids
        }

    def _store_profiles(
        self, conn: Connection, batch: list[AuthorData], at: dict[str, datetime],
        before: dict[str, datetime], texts: dict[str, str], sources: dict[str, str | None],
    ) -> None:
        rows = [
            {"sid": d.scholar_id, "fetched_at": at[d.scholar_id], "since_year": d.since_year,
             "gs_data": texts[d.scholar_id], "source": sources.get(d.scholar_id)}
            for d in batch
        ]
        updates = [r for r in rows if r["sid"] in before]
        if updates:
            conn.execute(
                sa.update(profiles).where(profiles.c.scholar_id == sa.bindparam("sid"))
                .values(fetched_at=sa.bindparam("fetched_at"),
                        since_year=sa.bindparam("since_year"), gs_data=sa.bindparam("gs_data"),
                        source=sa.bindparam("source")),
                updates,
            )
        inserts = [{**r, "scholar_id": r.pop("sid")} for r in rows if r["sid"] not in before]
        if inserts:
            conn.execute(sa.insert(profiles), inserts)

    def _store_metrics(
        self, conn: Connection, batch: list[AuthorData], at: dict[str, datetime],
        sources: dict[str, str | None],
    ) -> None:
        """A metric_history row only for authors whose metrics differ from their last row."""
        ids = [d.scholar_id for d in batch]
        newest = (
            sa.select(metric_history.c.scholar_id, sa.func.max(metric_history.c.at).label("at"))
            .where(metric_history.c.scholar_id.in_(ids))
            .group_by(metric_history.c.scholar_id).subquery()
        )
        last = {
            row[0]: tuple(row[1:])
            for row in conn.execute(
                sa.select(metric_history.c.scholar_id,
                          *(metric_history.c[name] for name in METRIC_COLUMNS))
                .join(newest, sa.and_(metric_history.c.scholar_id == newest.c.scholar_id,
                                      metric_history.c.at == newest.c.at))
            )
        }
        rows = []
        for data in batch:
            values = tuple(data.metrics.as_dict().values())
            if last.get(data.scholar_id) != values:
                rows.append({"scholar_id": data.scholar_id, "at": at[data.scholar_id],
                             "source": sources.get(data.scholar_id),
                             **dict(zip(METRIC_COLUMNS, values, strict=True))})
        if rows:
            conn.execute(sa.insert(metric_history), rows)

    def _known_publications(
        self, conn: Connection, ids: list[str], before: dict[str, datetime]
    ) -> dict[str, dict[str, tuple[int, int]]]:
        """Each author's {pub_id: (row id, count)}: from the cache while it is current."""
        known: dict[str, dict[str, tuple[int, int]]] = {}
        with self._pubs_lock:
            for sid in ids:
                cached = self._pubs.get(sid)
                if cached is not None and sid in before and cached[0] == before[sid]:
                    known[sid] = cached[1]
        missing = [sid for sid in ids if sid not in known]
        for sid in missing:
            known[sid] = {}
        if missing:
            for pk, sid, pub_id, count in conn.execute(
                sa.select(publications.c.id, publications.c.scholar_id, publications.c.pub_id,
                          publications.c.last_citations)
                .where(publications.c.scholar_id.in_(missing))
            ):
                known[sid][pub_id] = (pk, count)
        return known

    def _store_publications(
        self, conn: Connection, batch: list[AuthorData], at: dict[str, datetime],
        before: dict[str, datetime],
    ) -> None:
        """A pub_citations row only for publications whose count changed (or that are new)."""
        known = self._known_publications(conn, [d.scholar_id for d in batch], before)
        new_pubs: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for data in batch:
            sid = data.scholar_id
            mine = known[sid] = dict(known[sid])
            for pub_id, pub in (data.gs_data.get("publications") or {}).items():
                count = int(pub.get("num_citations") or 0)
                old = mine.get(pub_id)
                if old is None:
                    new_pubs.append({"scholar_id": sid, "pub_id": pub_id, "last_citations": count})
                elif old[1] != count:
                    changed.append({"pid": old[0], "count": count, "at": at[sid]})
                    mine[pub_id] = (old[0], count)
        if changed:
            conn.execute(
                sa.update(publications).where(publications.c.id == sa.bindparam("pid"))
                .values(last_citations=sa.bindparam("count")),
                changed,
            )
        if new_pubs:
            conn.execute(sa.insert(publications), new_pubs)
            fresh = {(p["scholar_id"], p["pub_id"]) for p in new_pubs}
            for pk, sid, pub_id, count in conn.execute(
                sa.select(publications.c.id, publications.c.scholar_id,
                          publications.c.pub_id, publications.c.last_citations)
                .where(publications.c.scholar_id.in_({p["scholar_id"] for p in new_pubs}))
            ):
                if (sid, pub_id) in fresh:
                    changed.append({"pid": pk, "count": count, "at": at[sid]})
                    known[sid][pub_id] = (pk, count)
        if changed:
            conn.execute(
                sa.insert(pub_citations),
                [{"publication_id": c["pid"], "at": c["at"], "num_citations": c["count"]}
                 for c in changed],
            )
        with self._pubs_lock:
            if len(self._pubs) > 20000:
                self._pubs.clear()
            for data in batch:
                self._pubs[data.scholar_id] = (at[data.scholar_id], known[data.scholar_id])
