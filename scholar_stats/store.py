"""The store: tracked authors, their latest profile, change-only history and fetch attempts.

SQLAlchemy 2 Core over SQLite (the default, a file in the user data directory) or PostgreSQL
(``postgresql+psycopg://``). One ``Store`` per process; it owns its engine, nothing is global.

Why the tables look the way they do:

- ``profiles`` keeps the last good ``gs_data`` record as JSON text, so ``gs_data.json`` is
  rebuilt byte for byte, plus the since-year the badges need.
- ``metric_history`` and ``pub_citations`` get a row only when a value changes; the last time an
  author was checked is ``authors.last_success_at``. Storage grows with changes, not with
  days × publications (see ``benchmarks/store.py``).
- ``publications.last_citations`` is the current count, so recording a fetch compares against
  one small query instead of parsing the previous profile.
- ``attempts`` logs every try (pruned after ``Policy.attempt_retention``) and lets a restarted
  scheduler count the Scholar requests of the last hour.
- ``authors.next_due_at`` / ``lease_until`` and ``scheduler_state`` hold the plan, so ``refresh``
  from cron, the scheduler and a restart all continue the same plan. ``lease_holder`` names the
  process fetching an author, so ``refresh ID`` can say who, and a dead holder's lease is taken
  over at once instead of at its expiry.
- ``scholar_stats_store`` is the marker that tells our store from another program's database:
  a database with tables but neither the marker nor the exact schema of an earlier release is
  refused without a single write (no migration, not even SQLite's switch to WAL).

Times are stored as integer milliseconds since 1970 (UTC): compact, portable, unambiguous.
Schema changes are ordered steps in ``MIGRATIONS``; opening a store applies the missing ones.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .errors import Blocked, StoreUnavailable, UsageError
from .history import HistoryRow
from .model import METRIC_NAMES, AuthorData, FetchStatus, Metrics
from .plan import EPOCH, Policy, backoff_seconds, check_interval, next_due_after
from .settings import redact_url

if TYPE_CHECKING:
    from .fetch import FetchOutcome

log = logging.getLogger(__name__)

APP_DIR = "scholar-stats"
DB_FILE = "scholar-stats.db"


def default_db_url() -> str:
    """``sqlite:///$XDG_DATA_HOME/scholar-stats/scholar-stats.db`` (``~/.local/share`` if unset)."""
    home_data = os.path.join(os.path.expanduser("~"), ".local", "share")
    base = os.environ.get("XDG_DATA_HOME") or home_data
    return "sqlite:///" + os.path.join(base, APP_DIR, DB_FILE)


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

# --- the current schema (what queries use); MIGRATIONS must produce exactly this -------------

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
)
metric_history = sa.Table(
    "metric_history", META,
    sa.Column("scholar_id", sa.String(12), sa.ForeignKey("authors.scholar_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("at", UtcMillis, primary_key=True),
    *(sa.Column(name, sa.Integer, nullable=False) for name in METRIC_COLUMNS),
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
    sa.Index("ix_attempts_at", "at"),
    sa.Index("ix_attempts_author_at", "scholar_id", "at"),
)
scheduler_state = sa.Table(  # v2
    "scheduler_state", META,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
MARKER_TABLE = "scholar_stats_store"
MARKER = "scholar-stats store"
store_marker = sa.Table(  # v3
    MARKER_TABLE, META,
    sa.Column("application", sa.String(64), primary_key=True),
)

# --- migrations: ordered, append-only; never edit a released step -----------------------------


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


MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = (
    (1, _migrate_v1),
    (2, _migrate_v2),
    (3, _migrate_v3),
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


# --- values handed out ---------------------------------------------------------------------


@dataclass(frozen=True)
class TrackedAuthor:
    """A tracked author; ``state`` is "new" until the first attempt, then "ok" or an error kind."""

    scholar_id: str
    added_at: datetime
    interval_seconds: float
    state: str
    last_attempt: datetime | None
    last_success: datetime | None
    next_due: datetime
    last_outcome: str | None
    last_exit_code: int | None


@dataclass(frozen=True)
class Attempt:
    scholar_id: str
    at: datetime
    outcome: str
    exit_code: int
    error_kind: str | None
    message: str
    requests: int
    duration_seconds: float


@dataclass(frozen=True)
class Lease:
    """Who is fetching an author (``<pid>@<host>/<pid namespace>``), and until when at the
    latest: then anyone may take over, as they may at once when the holder has died."""

    holder: str
    until: datetime

    @property
    def who(self) -> str:
        """"pid 1234 on host build-7", for messages."""
        pid, _, machine = self.holder.partition("@")
        return f"pid {pid} on host {machine.split('/')[0]}"


def this_process() -> str:
    """This process as a lease holder: pid, host name and (on Linux) pid namespace, so two
    containers that share a host name are not mistaken for one machine."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        namespace = ""
    return f"{os.getpid()}@{socket.gethostname()[:200]}/{namespace}"


def holder_is_gone(holder: str) -> bool:
    """True only when ``holder`` is a process of this machine that no longer exists. Another
    machine's process cannot be checked: its lease ends at its expiry."""
    pid_text, _, machine = holder.partition("@")
    here = this_process().partition("@")[2]
    if os.name != "posix" or machine != here or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it exists, as another user
        return False
    return False


@dataclass(frozen=True)
class Pause:
    """All fetching stops until ``until`` after ``level`` + 1 consecutive blocks."""

    until: datetime
    level: int


def _tracked(row: Any) -> TrackedAuthor:
    return TrackedAuthor(
        scholar_id=row.scholar_id,
        added_at=row.added_at,
        interval_seconds=row.interval_seconds,
        state=row.state,
        last_attempt=row.last_attempt_at,
        last_success=row.last_success_at,
        next_due=row.next_due_at,
        last_outcome=row.last_outcome,
        last_exit_code=row.last_exit_code,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


# --- the store -------------------------------------------------------------------------------


class Store:
    """A database of tracked authors. Creates or upgrades the schema when opened."""

    def __init__(
        self, url: str | None = None, *, policy: Policy | None = None, busy_timeout: float = 30.0
    ) -> None:
        self.url = url or default_db_url()
        self.policy = policy or Policy()
        self._parsed_url = _parse_url(self.url)
        self.engine = self._make_engine(busy_timeout)
        # scholar_id -> (profile time, {pub_id: (row id, count)}): spares re-reading 200 rows
        # per fetch; trusted only while the profile's stored time still matches.
        self._pubs: dict[str, tuple[datetime, dict[str, tuple[int, int]]]] = {}
        self._pubs_lock = threading.Lock()
        try:
            self._upgrade()
        except Exception:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection; a database that cannot be reached, opened or locked is
        ``StoreUnavailable`` (exit 10) with one line that never holds the password."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(self._unavailable(exc)) from None
        except sa.exc.DatabaseError as exc:
            if "file is not a database" in str(exc.orig):  # SQLite, on the first statement
                raise self._foreign("it is not a SQLite database") from None
            raise

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite, so writers queue, not fail)."""
        with self._connect() as conn:
            conn.execution_options(scholar_stats_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._connect() as conn:
            yield conn

    def _unavailable(self, exc: sa.exc.OperationalError) -> str:
        cause = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "no answer"
        if "database is locked" in cause:
            cause = "another process kept it locked past the busy timeout"
        password = self._parsed_url.password
        if password:
            cause = cause.replace(str(password), "***")
        return f"the database {self.display_url} cannot be used: {cause[:300]}"

    # schema

    def _upgrade(self) -> None:
        """Bring the schema up to date; refuse another program's database without writing.

        A read first: a current store (the usual case) needs no write lock at all.
        """
        with self._read() as conn:
            current = self._installed_version(conn)
        if current < SCHEMA_VERSION:
            with self._write() as conn:
                if self.engine.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(727272)"))
                current = self._installed_version(conn)  # another process may have upgraded
                for version, step in MIGRATIONS:
                    if version > current:
                        log.info("upgrading the store schema to version %d", version)
                        step(conn)
                        conn.execute(sa.update(schema_version).values(version=version))
        if self.engine.dialect.name == "sqlite":
            self._use_wal()

    def _installed_version(self, conn: Connection) -> int:
        """The schema version of our store, 0 for an empty database; ``UsageError`` for a
        database that is not ours, or newer than this release."""
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        if not tables:
            return 0
        if MARKER_TABLE in tables:
            marked = conn.execute(sa.select(store_marker.c.application)).scalars().all()
            if marked != [MARKER] or "schema_version" not in tables:
                raise self._foreign(f"its {MARKER_TABLE} table is damaged")
            current = int(conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
                          or 0)
        else:
            current = 0
            for version, expected in RELEASES_BEFORE_THE_MARKER.items():
                if _has_tables(inspector, tables, expected):
                    newest = sa.select(sa.func.max(schema_version.c.version))
                    if conn.execute(newest).scalar() == version:
                        current = version
            if current == 0:
                shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
                raise self._foreign(f"it holds other tables ({shown})")
        if current > SCHEMA_VERSION:
            raise UsageError(
                f"the database {self.display_url} has schema version {current}, newer than "
                f"this release knows ({SCHEMA_VERSION}): upgrade scholar-stats"
            )
        return current

    def _foreign(self, reason: str) -> UsageError:
        return UsageError(
            f"the database {self.display_url} is not a scholar-stats store ({reason}); it was "
            "left untouched: give --db a new file, or an empty database or schema"
        )

    def _use_wal(self) -> None:
        """WAL, so readers (the service) never wait for the writer. Set once the database is
        known to be ours: the mode is stored in the file, which another program's must not
        see changed."""
        database = self._parsed_url.database
        if not database or database == ":memory:":
            return
        with self._connect() as conn:
            raw = conn.connection.driver_connection  # not SQLAlchemy's: no BEGIN around it
            assert raw is not None
            raw.execute("PRAGMA journal_mode=WAL")

    @property
    def display_url(self) -> str:
        """The URL without its password, safe for messages."""
        return self._parsed_url.render_as_string(hide_password=True)

    def _make_engine(self, busy_timeout: float) -> Engine:
        """The engine; a URL SQLAlchemy cannot use (unknown dialect, missing driver) is a
        ``UsageError``, a SQLite folder that cannot be made ``StoreUnavailable``."""
        try:
            return _make_engine(self._parsed_url, busy_timeout)
        except OSError as exc:  # the SQLite file's folder
            raise StoreUnavailable(
                f"cannot create the folder of the database {self.display_url}: "
                f"{exc.strerror or exc}"
            ) from None
        except (sa.exc.ArgumentError, ImportError) as exc:
            hint = ""
            if isinstance(exc, ImportError):
                hint = f" (its driver is not installed: {exc.name or exc})"
            raise UsageError(
                f"the database URL {self.display_url} cannot be used{hint}: expected "
                "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"
            ) from None

    def schema_version(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(schema_version.c.version)).scalar_one())

    # authors

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
        conn.execute(sa.insert(scheduler_state).values(key="roster", value=str(int(current or 0) + 1)))

    def remove_author(self, scholar_id: str) -> bool:
        """Stop tracking and delete everything kept about the author."""
        with self._write() as conn:
            pub_ids = sa.select(publications.c.id).where(publications.c.scholar_id == scholar_id)
            conn.execute(
                sa.delete(pub_citations).where(pub_citations.c.publication_id.in_(pub_ids))
            )
            for table in (publications, metric_history, profiles, attempts):
                conn.execute(sa.delete(table).where(table.c.scholar_id == scholar_id))
            result = conn.execute(sa.delete(authors).where(authors.c.scholar_id == scholar_id))
            if result.rowcount:
                self._bump_roster(conn)
            return bool(result.rowcount)

    def list_authors(self) -> list[TrackedAuthor]:
        with self._read() as conn:
            rows = conn.execute(sa.select(authors))
            return sorted((_tracked(row) for row in rows), key=lambda a: a.scholar_id)

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
            return sorted((_tracked(row) for row in rows), key=lambda a: a.scholar_id)

    def get_author(self, scholar_id: str) -> TrackedAuthor | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(authors).where(authors.c.scholar_id == scholar_id)
            ).first()
            return _tracked(row) if row else None

    def due_authors(self, now: datetime) -> list[TrackedAuthor]:
        """Authors whose next attempt is due and that no one is fetching, most overdue first."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(authors)
                .where(authors.c.next_due_at <= now)
                .where(sa.or_(authors.c.lease_until.is_(None), authors.c.lease_until <= now))
            )
            return sorted((_tracked(row) for row in rows), key=lambda a: (a.next_due, a.scholar_id))

    def mark_due(self, scholar_id: str, now: datetime) -> bool:
        """Ask whichever scheduler runs on this store to fetch the author at its next tick
        (pause, pacing and budget still apply). False when the author is not tracked."""
        with self._write() as conn:
            result = conn.execute(
                sa.update(authors).where(authors.c.scholar_id == scholar_id)
                .values(next_due_at=now)
            )
            return result.rowcount == 1

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

    # data

    def latest(self, scholar_id: str) -> AuthorData | None:
        """The last good profile, exactly as fetched (``gs_data.json`` rebuilds byte for byte)."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(profiles.c.gs_data, profiles.c.since_year)
                .where(profiles.c.scholar_id == scholar_id)
            ).first()
        if row is None:
            return None
        return AuthorData(scholar_id, json.loads(row.gs_data), row.since_year)

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
        return FetchStatus.from_dict(json.loads(text)) if text else None

    def metric_changes(self, scholar_id: str) -> list[tuple[datetime, Metrics]]:
        """Every stored metric change, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(metric_history).where(metric_history.c.scholar_id == scholar_id)
                .order_by(metric_history.c.at)
            )
            return [(row.at, Metrics(*(getattr(row, n) for n in METRIC_COLUMNS))) for row in rows]

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
                Attempt(r.scholar_id, r.at, r.outcome, r.exit_code, r.error_kind, r.message,
                        r.requests, r.duration_seconds)
                for r in conn.execute(query)
            ]

    def outcomes_since(self, since: datetime) -> dict[str, int]:
        """How many attempts ended in each outcome since ``since``, by any process."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(attempts.c.outcome, sa.func.count())
                .where(attempts.c.at > since).group_by(attempts.c.outcome)
            )
            return {outcome: int(count) for outcome, count in rows}

    # the Scholar request budget, shared by every process using this store

    def take_request(self, now: datetime, window: timedelta, limit: int) -> bool:
        """Count one Scholar request if fewer than ``limit`` were made in the ``window`` before
        ``now`` by any process on this store (a cron ``refresh``, the scheduler, service
        workers); False, counting nothing, when the budget is spent.

        The request times live in one ``scheduler_state`` row, changed in a write transaction
        that other writers wait for (SQLite's ``BEGIN IMMEDIATE``, a transaction-level advisory
        lock on PostgreSQL), so two processes can never both take the last request.
        """
        with self._write() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(727273)"))
            spent = self._requests_in(conn, now, window)
            if len(spent) >= limit:
                return False
            spent.append(now)
            value = json.dumps([int(at.timestamp() * 1000) for at in spent])
            conn.execute(sa.delete(scheduler_state).where(scheduler_state.c.key == "requests"))
            conn.execute(sa.insert(scheduler_state).values(key="requests", value=value))
            return True

    def recent_requests(self, now: datetime, window: timedelta) -> list[datetime]:
        """When the Scholar requests of the ``window`` before ``now`` were made, oldest first."""
        with self._read() as conn:
            return self._requests_in(conn, now, window)

    def _requests_in(self, conn: Connection, now: datetime, window: timedelta) -> list[datetime]:
        text = conn.execute(
            sa.select(scheduler_state.c.value).where(scheduler_state.c.key == "requests")
        ).scalar()
        if text is None:  # a store from before the shared log: its attempts count instead
            rows = conn.execute(
                sa.select(attempts.c.at, attempts.c.requests)
                .where(attempts.c.at > now - window).where(attempts.c.requests > 0)
            )
            times = [row.at for row in rows for _ in range(row.requests)]
        else:
            times = [datetime.fromtimestamp(ms / 1000, timezone.utc) for ms in json.loads(text)]
        return sorted(at for at in times if at > now - window)

    # the global pause after a block

    def pause(self) -> Pause | None:
        with self._read() as conn:
            text = conn.execute(
                sa.select(scheduler_state.c.value).where(scheduler_state.c.key == "pause")
            ).scalar()
        if not text:
            return None
        data = json.loads(text)
        return Pause(datetime.fromisoformat(data["until"]), int(data["level"]))

    def paused_until(self, now: datetime) -> datetime | None:
        """When fetching may resume, or ``None`` when it is not paused at ``now``."""
        pause = self.pause()
        return pause.until if pause is not None and pause.until > now else None

    def _set_pause(self, conn: Connection, pause: Pause | None) -> None:
        conn.execute(sa.delete(scheduler_state).where(scheduler_state.c.key == "pause"))
        if pause is not None:
            value = json.dumps({"until": pause.until.isoformat(), "level": pause.level})
            conn.execute(sa.insert(scheduler_state).values(key="pause", value=value))

    # recording

    def record_outcome(self, outcome: FetchOutcome, now: datetime) -> None:
        """Record one attempt; only a success touches the profile and the history."""
        self.record_outcomes([outcome], now)

    def record_outcomes(self, outcomes: Iterable[FetchOutcome], now: datetime) -> None:
        """Record several attempts in one transaction, with a few set-wise statements per
        batch (the path ``record_outcome``, ``refresh`` and the benchmark use).

        Outcomes for authors that are not tracked (removed while fetching) are dropped.
        """
        pending = list(outcomes)
        cutoff = now - timedelta(seconds=self.policy.attempt_retention)
        # encoded before the write lock is taken: the slow part runs while others write
        texts = {id(o): _encode(o.data.gs_data) for o in pending if o.data is not None}
        with self._write() as conn:
            while pending:  # runs without a repeated author, so each sees the previous one
                seen: set[str] = set()
                run: list[FetchOutcome] = []
                while pending and pending[0].scholar_id not in seen:
                    seen.add(pending[0].scholar_id)
                    run.append(pending.pop(0))
                self._record_run(conn, run, now, texts)
            conn.execute(sa.delete(attempts).where(attempts.c.at < cutoff))

    def _record_run(
        self, conn: Connection, run: list[FetchOutcome], now: datetime, texts: dict[int, str]
    ) -> None:
        ids = [o.scholar_id for o in run]
        tracked = {
            row.scholar_id: row
            for row in conn.execute(sa.select(authors).where(authors.c.scholar_id.in_(ids)))
        }
        for outcome in run:
            if outcome.scholar_id not in tracked:
                log.warning("%s is not tracked (removed while fetching?): result not stored",
                            outcome.scholar_id)
        run = [o for o in run if o.scholar_id in tracked]
        if not run:
            return
        conn.execute(sa.insert(attempts), [
            {"scholar_id": o.scholar_id, "at": now, "outcome": o.status.outcome,
             "exit_code": o.status.exit_code, "error_kind": o.status.error_kind,
             "message": o.status.message, "requests": o.status.requests,
             "duration_seconds": o.status.duration_seconds}
            for o in run
        ])
        successes = [o.data for o in run if o.data is not None]
        if successes:
            ids = [d.scholar_id for d in successes]
            before: dict[str, datetime] = {
                row[0]: row[1] for row in conn.execute(
                    sa.select(profiles.c.scholar_id, profiles.c.fetched_at)
                    .where(profiles.c.scholar_id.in_(ids))
                )
            }
            at = self._instants(ids, before, now)
            gs_texts = {o.scholar_id: texts[id(o)] for o in run if o.data is not None}
            self._store_profiles(conn, successes, at, before, gs_texts)
            self._store_metrics(conn, successes, at)
            self._store_publications(conn, successes, at, before)
        conn.execute(
            sa.update(authors).where(authors.c.scholar_id == sa.bindparam("sid")).values(
                state=sa.bindparam("state"), last_attempt_at=sa.bindparam("attempt"),
                last_success_at=sa.bindparam("success"), last_outcome=sa.bindparam("state"),
                last_exit_code=sa.bindparam("code"), last_status=sa.bindparam("status"),
                next_due_at=sa.bindparam("due"), lease_until=None, lease_holder=None,
            ),
            [self._author_update(tracked[o.scholar_id], o, now) for o in run],
        )
        pause = self._pause_in(conn)
        for outcome in run:
            if outcome.status.exit_code == Blocked.exit_code:
                level = pause.level + 1 if pause is not None else 0
                pause = Pause(now + timedelta(seconds=backoff_seconds(level, self.policy)), level)
            elif outcome.data is not None:
                pause = None  # Scholar answers again: the backoff starts over
        if pause != self._pause_in(conn):
            self._set_pause(conn, pause)

    def _author_update(self, author: Any, outcome: FetchOutcome, now: datetime) -> dict[str, Any]:
        status = outcome.status
        last_success = now if outcome.data is not None else author.last_success_at
        previous = json.loads(author.last_status) if author.last_status else {}
        stored_status = dataclasses.replace(
            status,
            last_attempt=_iso(now),
            last_success=_iso(last_success) if last_success else None,
            since_year=status.since_year if outcome.data is not None
            else previous.get("since_year"),
        )
        due = next_due_after(
            author.scholar_id, author.interval_seconds, status.exit_code, now, self.policy
        )
        return {
            "sid": author.scholar_id, "state": status.outcome, "attempt": now,
            "success": last_success, "code": status.exit_code,
            "status": json.dumps(stored_status.as_dict(), ensure_ascii=False),
            "due": due if due is not None else author.next_due_at,
        }

    def _pause_in(self, conn: Connection) -> Pause | None:
        text = conn.execute(
            sa.select(scheduler_state.c.value).where(scheduler_state.c.key == "pause")
        ).scalar()
        if not text:
            return None
        data = json.loads(text)
        return Pause(datetime.fromisoformat(data["until"]), int(data["level"]))

    def _instants(
        self, ids: list[str], before: dict[str, datetime], now: datetime
    ) -> dict[str, datetime]:
        """The time each success is stored at: ``now``, or 1 ms after the author's previous
        success if that was not earlier (history keys are (author, time); order is kept)."""
        now = UtcMillis().process_result_value(UtcMillis().process_bind_param(now, None), None)
        assert now is not None
        return {
            sid: now if sid not in before or before[sid] < now
            else before[sid] + timedelta(milliseconds=1)
            for sid in ids
        }

    def _store_profiles(
        self, conn: Connection, batch: list[AuthorData], at: dict[str, datetime],
        before: dict[str, datetime], texts: dict[str, str],
    ) -> None:
        rows = [
            {"sid": d.scholar_id, "fetched_at": at[d.scholar_id], "since_year": d.since_year,
             "gs_data": texts[d.scholar_id]}
            for d in batch
        ]
        updates = [r for r in rows if r["sid"] in before]
        if updates:
            conn.execute(
                sa.update(profiles).where(profiles.c.scholar_id == sa.bindparam("sid"))
                .values(fetched_at=sa.bindparam("fetched_at"),
                        since_year=sa.bindparam("since_year"), gs_data=sa.bindparam("gs_data")),
                updates,
            )
        inserts = [{**r, "scholar_id": r.pop("sid")} for r in rows if r["sid"] not in before]
        if inserts:
            conn.execute(sa.insert(profiles), inserts)

    def _store_metrics(
        self, conn: Connection, batch: list[AuthorData], at: dict[str, datetime]
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
                             **dict(zip(METRIC_COLUMNS, values))})
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


def _has_tables(
    inspector: sa.Inspector, tables: set[str], expected: dict[str, frozenset[str]]
) -> bool:
    """Whether every table of ``expected`` is there with exactly its columns."""
    return all(
        name in tables and {c["name"] for c in inspector.get_columns(name)} == columns
        for name, columns in expected.items()
    )


def _encode(gs_data: dict[str, Any]) -> str:
    """Compact JSON; ``render`` re-encodes the parsed record, so the files are unaffected."""
    return json.dumps(gs_data, ensure_ascii=False, separators=(",", ":"), check_circular=False)


def _parse_url(url: str) -> sa.URL:
    """The URL, or a ``UsageError`` that never echoes it (it may hold a password)."""
    try:
        parsed = sa.make_url(url)
        parsed.port  # noqa: B018 - a port that is not a number fails here, not at connect
    except (sa.exc.ArgumentError, ValueError):
        raise UsageError(
            f"the database URL {redact_url(url)!r} cannot be parsed: expected sqlite:///PATH "
            "or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"
        ) from None
    return parsed


# A PostgreSQL server that does not answer (a dropped packet, not a refusal) ends a connection
# attempt after this many seconds, not after the system's TCP timeout of minutes.
PG_CONNECT_TIMEOUT = 10


def _make_engine(parsed: sa.URL, busy_timeout: float = 30.0) -> Engine:
    """An engine with SQLite tuned for a small service: NORMAL sync, foreign keys, a busy
    timeout (WAL is set by ``Store._use_wal`` once the file is known to be ours)."""
    if parsed.get_backend_name() != "sqlite":
        connect_args = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    database = parsed.database
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": busy_timeout}
    }
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["poolclass"] = sa.pool.StaticPool
    engine = sa.create_engine(parsed, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (transactional DDL too)
        cursor = dbapi_conn.cursor()
        for pragma in (
            "synchronous=NORMAL",  # safe with WAL; a crash loses at most the last commit
            "foreign_keys=ON",
            f"busy_timeout={round(busy_timeout * 1000)}",
            "cache_size=-8192",  # 8 MiB per connection: enough for history inserts, and the
            # service keeps its answers in its own memory, not in SQLite's page cache
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("scholar_stats_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
