"""The tables, their migrations and the marker that tells our store from another program's
database. Times are integer milliseconds since 1970 (UTC)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.core.plan import (
    EPOCH,
)


class UtcMillis(sa.TypeDecorator[datetime]):
    """An aware ``datetime`` stored as integer milliseconds since 1970 UTC."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store times must be timezone-aware")
        return round((value - EPOCH).total_seconds() * 1000)

    def process_result_value(self, value: int | None, dialect: Any) -> datetime | None:
        return None if value is None else EPOCH + timedelta(milliseconds=int(value))


# Metric columns, in METRIC_NAMES order ("citations-5y" -> "citations_5y").
METRIC_COLUMNS = tuple(name.replace("-", "_") for name in METRIC_NAMES)


MARKER_TABLE = "scholar_stats_store"
META = sa.MetaData()

schema_version = sa.Table("schema_version", META, sa.Column("version", sa.Integer, nullable=False))


authors = sa.Table(
    "authors", META,
    sa.Column("scholar_id", sa.String(12), primary_key=True),
    sa.Column("added_at", UtcMillis, nullable=False),
    sa.Column("interval_seconds", sa.Float, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("next_due_at", UtcMillis, nullable=False),
    sa.Column("last_attempt_at", UtcMillis),
    sa.Column("last_success_at", UtcMillis),
    sa.Column("last_outcome", sa.String(32)),
    sa.Column("last_exit_code", sa.Integer),
    sa.Column("last_status", sa.Text),
    sa.Column("lease_until", UtcMillis),  # v2
    sa.Column("lease_holder", sa.String(255)),  # v3: "<pid>@<host>/<pid namespace>"
)


profiles = sa.Table(
    "profiles", META,
    sa.Column("scholar_id", sa.String(12), sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("fetched_at", UtcMillis, nullable=False),
    sa.Column("since_year", sa.Integer),
    sa.Column("gs_data", sa.Text, nullable=False),
    sa.Column("source", sa.String(16)),  # v5: who gave this profile
)


metric_history = sa.Table(
    "metric_history", META,
    sa.Column("scholar_id", sa.String(12), sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("at", UtcMillis, primary_key=True),
    *(sa.Column(name, sa.Integer, nullable=False) for name in METRIC_COLUMNS),
    sa.Column("source", sa.String(16)),  # v5: "scholar" or "serpapi", who gave these numbers
    sqlite_with_rowid=False,
)


publications = sa.Table(
    "publications", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scholar_id", sa.String(12), sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("pub_id", sa.String(200), nullable=False),
    sa.Column("last_citations", sa.Integer, nullable=False),
    sa.UniqueConstraint("scholar_id", "pub_id", name="uq_publications_author_pub"),
)


pub_citations = sa.Table(
    "pub_citations", META,
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publications.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("at", UtcMillis, primary_key=True),
    sa.Column("num_citations", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)


attempts = sa.Table(
    "attempts", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scholar_id", sa.String(12), nullable=False),
    sa.Column("at", UtcMillis, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=False),
    sa.Column("error_kind", sa.String(32)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("duration_seconds", sa.Float, nullable=False),
    sa.Column("source", sa.String(16)),  # v5: the source last asked; none for an internal error
    sa.Index("ix_attempts_at", "at"),
    sa.Index("ix_attempts_author_at", "scholar_id", "at"),
)


scheduler_state = sa.Table(  # v2
    "scheduler_state", META,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


store_marker = sa.Table(  # v3
    MARKER_TABLE, META,
    sa.Column("application", sa.String(64), primary_key=True),
)


MARKER = "scholar-stats store"


change_events = sa.Table(  # v4: what each fetch changed (core.changes.compute_events)
    "change_events", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scholar_id", sa.String(12), sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("at", sa.Text, nullable=False),  # the fetch's ISO 8601 ``updated``
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("old", sa.Integer),
    sa.Column("new", sa.Integer),
    sa.Index("ix_change_events_author", "scholar_id", "id"),
)


deliveries = sa.Table(  # v4: notifications sent by refresh, schedule and serve
    "deliveries", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scholar_id", sa.String(12), nullable=False),
    sa.Column("at", UtcMillis, nullable=False),
    sa.Column("target", sa.String(255), nullable=False),  # "webhook #N (host)": never the URL
    sa.Column("delivered", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_deliveries_at", "at"),
)


def _migrate_v1(conn: Connection) -> None:
    """The first released schema (tests/fixtures/store/v1_*.sql is its DDL, kept frozen)."""
    m = sa.MetaData()
    sa.Table("schema_version", m, sa.Column("version", sa.Integer, nullable=False))
    sa.Table(
        "authors", m,
        sa.Column("scholar_id", sa.String(12), primary_key=True),
        sa.Column("added_at", sa.BigInteger, nullable=False),
        sa.Column("interval_seconds", sa.Float, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("next_due_at", sa.BigInteger, nullable=False),
        sa.Column("last_attempt_at", sa.BigInteger),
        sa.Column("last_success_at", sa.BigInteger),
        sa.Column("last_outcome", sa.String(32)),
        sa.Column("last_exit_code", sa.Integer),
        sa.Column("last_status", sa.Text),
    )
    sa.Table(
        "profiles", m,
        sa.Column("scholar_id", sa.String(12),
                  sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("fetched_at", sa.BigInteger, nullable=False),
        sa.Column("since_year", sa.Integer),
        sa.Column("gs_data", sa.Text, nullable=False),
    )
    sa.Table(
        "metric_history", m,
        sa.Column("scholar_id", sa.String(12),
                  sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("at", sa.BigInteger, primary_key=True),
        *(sa.Column(name, sa.Integer, nullable=False) for name in METRIC_COLUMNS),
        sqlite_with_rowid=False,
    )
    sa.Table(
        "publications", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scholar_id", sa.String(12),
                  sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"), nullable=False),
        sa.Column("pub_id", sa.String(200), nullable=False),
        sa.Column("last_citations", sa.Integer, nullable=False),
        sa.UniqueConstraint("scholar_id", "pub_id", name="uq_publications_author_pub"),
    )
    sa.Table(
        "pub_citations", m,
        sa.Column("publication_id", sa.Integer,
                  sa.ForeignKey("publications.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("at", sa.BigInteger, primary_key=True),
        sa.Column("num_citations", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    sa.Table(
        "attempts", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scholar_id", sa.String(12), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=False),
        sa.Column("error_kind", sa.String(32)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Index("ix_attempts_at", "at"),
        sa.Index("ix_attempts_author_at", "scholar_id", "at"),
    )
    m.create_all(conn)
    conn.execute(sa.text("INSERT INTO schema_version (version) VALUES (0)"))


def _migrate_v2(conn: Connection) -> None:
    """Cross-process coordination: a per-author lease and the global block pause."""
    conn.execute(sa.text("ALTER TABLE authors ADD COLUMN lease_until BIGINT"))
    m = sa.MetaData()
    sa.Table(
        "scheduler_state", m,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    ).create(conn)


def _migrate_v3(conn: Connection) -> None:
    """Who holds a lease, and the marker of a scholar-stats store."""
    conn.execute(sa.text("ALTER TABLE authors ADD COLUMN lease_holder VARCHAR(255)"))
    m = sa.MetaData()
    marker = sa.Table(MARKER_TABLE, m, sa.Column("application", sa.String(64), primary_key=True))
    marker.create(conn)
    conn.execute(sa.insert(marker).values(application=MARKER))


groups = sa.Table(  # v4: a lab's authors, totalled together (core.groups)
    "groups", META,
    sa.Column("name", sa.String(64), primary_key=True),
)


group_members = sa.Table(  # v4
    "group_members", META,
    sa.Column("group_name", sa.String(64), sa.ForeignKey("groups.name", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("scholar_id", sa.String(12), sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"),
              primary_key=True),
)


def _migrate_v4(conn: Connection) -> None:
    """The events of each fetch (changes.json from the store), the notifications sent, and
    groups of authors. Written out, not taken from the tables above: a migration stays what it
    was when released."""
    m = sa.MetaData()
    sa.Table("authors", m, sa.Column("scholar_id", sa.String(12), primary_key=True))
    sa.Table(
        "change_events", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scholar_id", sa.String(12),
                  sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("old", sa.Integer),
        sa.Column("new", sa.Integer),
        sa.Index("ix_change_events_author", "scholar_id", "id"),
    )
    sa.Table(
        "deliveries", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scholar_id", sa.String(12), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Index("ix_deliveries_at", "at"),
    )
    sa.Table("groups", m, sa.Column("name", sa.String(64), primary_key=True))
    sa.Table(
        "group_members", m,
        sa.Column("group_name", sa.String(64),
                  sa.ForeignKey("groups.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("scholar_id", sa.String(12),
                  sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"), primary_key=True),
    )
    m.create_all(conn, tables=[m.tables[name] for name in
                               ("change_events", "deliveries", "groups", "group_members")])


def _migrate_v5(conn: Connection) -> None:
    """Provenance: which source each profile, history row and attempt came from. Every
    earlier one came from Scholar, the only source there was; an attempt that sent no request,
    none."""
    for table in ("profiles", "metric_history", "attempts"):
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN source VARCHAR(16)"))
    conn.execute(sa.text("UPDATE profiles SET source = 'scholar'"))
    conn.execute(sa.text("UPDATE metric_history SET source = 'scholar'"))
    conn.execute(sa.text("UPDATE attempts SET source = 'scholar' WHERE requests > 0"))


MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = (
    (1, _migrate_v1),
    (2, _migrate_v2),
    (3, _migrate_v3),
    (4, _migrate_v4),
    (5, _migrate_v5),
)


SCHEMA_VERSION = MIGRATIONS[-1][0]


# The releases before the marker, recognised by their exact tables and columns (frozen, like
# tests/fixtures/store): a database with all of these is one of our stores, whatever else it
# holds; anything else with tables and no marker is another program's.
_V1_TABLES: dict[str, frozenset[str]] = {
    "schema_version": frozenset({"version"}),
    "authors": frozenset({"scholar_id", "added_at", "interval_seconds", "state", "next_due_at",
                          "last_attempt_at", "last_success_at", "last_outcome", "last_exit_code",
                          "last_status"}),
    "profiles": frozenset({"scholar_id", "fetched_at", "since_year", "gs_data"}),
    "metric_history": frozenset({"scholar_id", "at", *METRIC_COLUMNS}),
    "publications": frozenset({"id", "scholar_id", "pub_id", "last_citations"}),
    "pub_citations": frozenset({"publication_id", "at", "num_citations"}),
    "attempts": frozenset({"id", "scholar_id", "at", "outcome", "exit_code", "error_kind",
                           "message", "requests", "duration_seconds"}),
}


_V2_TABLES = {**_V1_TABLES, "authors": _V1_TABLES["authors"] | {"lease_until"},
              "scheduler_state": frozenset({"key", "value"})}


RELEASES_BEFORE_THE_MARKER = {1: _V1_TABLES, 2: _V2_TABLES}


def has_tables(
    inspector: sa.Inspector, tables: set[str], expected: dict[str, frozenset[str]]
) -> bool:
    """Whether every table of ``expected`` is there with exactly its columns."""
    return all(
        name in tables and {c["name"] for c in inspector.get_columns(name)} == columns
        for name, columns in expected.items()
    )
