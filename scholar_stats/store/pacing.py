"""Leases (one fetch of an author at a time across processes), the shared hourly request budget,
and the pause after a block."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scholar_stats.store.base import StoreBase
from scholar_stats.store.schema import (
    attempts,
    authors,
    scheduler_state,
)
from scholar_stats.store.values import Lease, Pause, holder_is_gone, this_process

log = logging.getLogger(__name__)



class Pacing(StoreBase):
    """Leases, the shared request budget and the pause (part of ``Store``)."""

    def claim(
        self, scholar_id: str, now: datetime, lease_seconds: float, *, due_only: bool = False,
        holder: str | None = None,
    ) -> Lease | None:
        """Take the author's lease so no other process or thread fetches it at the same time;
        ``None`` when someone else holds it (see ``lease``), or, with ``due_only``, when the
        author is no longer due (another pass has just fetched it).

        A conditional UPDATE, atomic on SQLite and PostgreSQL. An expired lease, or one whose
        holder has died on this machine, is taken over; the take-over is conditional on the
        lease being the one judged dead, so two processes cannot both take it.
        """
        lease = Lease(holder or this_process(), now + timedelta(seconds=lease_seconds))
        claimable = [authors.c.scholar_id == scholar_id]
        if due_only:
            claimable.append(authors.c.next_due_at <= now)
        free = sa.or_(authors.c.lease_until.is_(None), authors.c.lease_until <= now)
        take = sa.update(authors).values(lease_until=lease.until, lease_holder=lease.holder)
        with self._write() as conn:
            if conn.execute(take.where(*claimable, free)).rowcount == 1:
                return lease
            held = conn.execute(
                sa.select(authors.c.lease_holder, authors.c.lease_until)
                .where(authors.c.scholar_id == scholar_id)
            ).first()
            if held is None or held.lease_holder is None or not holder_is_gone(held.lease_holder):
                return None
            log.warning("%s: taking over the lease of %s, which is no longer running",
                        scholar_id, Lease(held.lease_holder, held.lease_until).who)
            same_lease = sa.and_(authors.c.lease_holder == held.lease_holder,
                                 authors.c.lease_until == held.lease_until)
            return lease if conn.execute(take.where(*claimable, same_lease)).rowcount == 1 else None

    def lease(self, scholar_id: str, now: datetime) -> Lease | None:
        """The lease someone holds on the author at ``now``, if any."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(authors.c.lease_holder, authors.c.lease_until)
                .where(authors.c.scholar_id == scholar_id)
            ).first()
        if row is None or row.lease_until is None or row.lease_until <= now:
            return None
        return Lease(row.lease_holder or "?@unknown", row.lease_until)

    def release(self, scholar_id: str, lease: Lease | None = None) -> None:
        """Give the lease up; with ``lease``, only if it is still that one (recording an
        attempt gives it up already, and the author may have been claimed again since)."""
        query = sa.update(authors).where(authors.c.scholar_id == scholar_id)
        if lease is not None:
            query = query.where(authors.c.lease_holder == lease.holder,
                                authors.c.lease_until == lease.until)
        with self._write() as conn:
            conn.execute(query.values(lease_until=None, lease_holder=None))

    def take_request(self, now: datetime, window: timedelta, limit: int,
                     egress: str = "") -> bool:
        """Count one Scholar request if fewer than ``limit`` were made in the ``window`` before
        ``now`` by any process on this store (a cron ``refresh``, the scheduler, service
        workers); False, counting nothing, when the budget is spent.

        The request times live in one ``scheduler_state`` row, changed in a write transaction
        that other writers wait for (SQLite's ``BEGIN IMMEDIATE``, a transaction-level advisory
        lock on PostgreSQL), so two processes can never both take the last request.
        ``egress``: the address's key (``settings.egress_key``); each has its own budget.
        """
        with self._write() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(727273)"))
            spent = self._requests_in(conn, now, window, egress)
            if len(spent) >= limit:
                return False
            spent.append(now)
            value = json.dumps([int(at.timestamp() * 1000) for at in spent])
            key = _key("requests", egress)
            conn.execute(sa.delete(scheduler_state).where(scheduler_state.c.key == key))
            conn.execute(sa.insert(scheduler_state).values(key=key, value=value))
            return True

    def recent_requests(self, now: datetime, window: timedelta,
                        egress: str = "") -> list[datetime]:
        """When the Scholar requests of the ``window`` before ``now`` were made, oldest first."""
        with self._read() as conn:
            return self._requests_in(conn, now, window, egress)

    def _requests_in(self, conn: Connection, now: datetime, window: timedelta,
                     egress: str = "") -> list[datetime]:
        text = conn.execute(
            sa.select(scheduler_state.c.value)
            .where(scheduler_state.c.key == _key("requests", egress))
        ).scalar()
        if text is None and egress:
            return []
        if text is None:  # a store from before the shared log: its attempts count instead
            rows = conn.execute(
                sa.select(attempts.c.at, attempts.c.requests)
                .where(attempts.c.at > now - window).where(attempts.c.requests > 0)
            )
            times = [row.at for row in rows for _ in range(row.requests)]
        else:
            times = [datetime.fromtimestamp(ms / 1000, timezone.utc) for ms in json.loads(text)]
        return sorted(at for at in times if at > now - window)

    def take_search(self, month: str, limit: int) -> int | None:
        """Count one SerpApi search in ``month`` (``YYYY-MM``) if fewer than ``limit`` are
        counted, for every process on this store; the count before it, or ``None`` (counting
        nothing) when the month's searches are spent. Serialised like ``take_request``."""
        with self._write() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
            used = self._searches_in(conn, month)
            if used >= limit:
                return None
            self._set_searches(conn, month, used + 1)
            return used

    def give_back_search(self, month: str) -> None:
        """Uncount a search SerpApi did not answer (it bills only answered ones)."""
        with self._write() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
            used = self._searches_in(conn, month)
            if used > 0:
                self._set_searches(conn, month, used - 1)

    def searches_in(self, month: str) -> int:
        """The SerpApi searches counted in ``month`` by every process on this store."""
        with self._read() as conn:
            return self._searches_in(conn, month)

    def _searches_in(self, conn: Connection, month: str) -> int:
        text = conn.execute(
            sa.select(scheduler_state.c.value).where(scheduler_state.c.key == "serpapi_searches")
        ).scalar()
        data = json.loads(text) if text else {}
        return int(data["count"]) if data.get("month") == month else 0

    def _set_searches(self, conn: Connection, month: str, count: int) -> None:
        value = json.dumps({"month": month, "count": count})
        conn.execute(sa.delete(scheduler_state)
                     .where(scheduler_state.c.key == "serpapi_searches"))
        conn.execute(sa.insert(scheduler_state).values(key="serpapi_searches", value=value))

    def pause(self, egress: str = "") -> Pause | None:
        """The pause after Scholar blocked the address ``egress`` ("": direct)."""
        with self._read() as conn:
            return self._pause_in(conn, egress)

    def paused_until(self, now: datetime, egress: str = "") -> datetime | None:
        """When fetching through ``egress`` may resume, or ``None`` when it is not paused."""
        pause = self.pause(egress)
        return pause.until if pause is not None and pause.until > now else None

    def _set_pause(self, conn: Connection, pause: Pause | None, egress: str = "") -> None:
        key = _key("pause", egress)
        conn.execute(sa.delete(scheduler_state).where(scheduler_state.c.key == key))
        if pause is not None:
            value = json.dumps({"until": pause.until.isoformat(), "level": pause.level})
            conn.execute(sa.insert(scheduler_state).values(key=key, value=value))

    def _pause_in(self, conn: Connection, egress: str = "") -> Pause | None:
        text = conn.execute(
            sa.select(scheduler_state.c.value)
            .where(scheduler_state.c.key == _key("pause", egress))
        ).scalar()
        if not text:
            return None
        data = json.loads(text)
        return Pause(datetime.fromisoformat(data["until"]), int(data["level"]))


def _key(name: str, egress: str) -> str:
    """The scheduler_state key of ``name`` for an egress address ("": direct, the old keys)."""
    return f"{name}@{egress}" if egress else name
