"""What every part of the store shares: the engine, transactions, and opening (creating or
upgrading the schema, refusing another program's database)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from scholar_stats.errors import StoreUnavailable, UsageError
from scholar_stats.extras import missing_extra
from scholar_stats.parsers import DB_FORMS
from scholar_stats.store.connect import (
    PAGE_CACHE_KIB,
    default_db_url,
    make_engine,
    parse_db_url,
)
from scholar_stats.store.schema import (
    MARKER,
    MARKER_TABLE,
    MIGRATIONS,
    RELEASES_BEFORE_THE_MARKER,
    SCHEMA_VERSION,
    has_tables,
    schema_version,
    store_marker,
)

log = logging.getLogger(__name__)


_S = TypeVar("_S", bound="StoreBase")


class StoreBase:
    """Owns the engine and its transactions; opening creates or upgrades the schema."""

    def __init__(
        self, url: str | None = None, *, busy_timeout: float = 30.0,
        page_cache_kib: int = PAGE_CACHE_KIB,
    ) -> None:
        self.url = url or default_db_url()
        self._parsed_url = parse_db_url(self.url)
        self.engine = self._open_engine(busy_timeout, page_cache_kib)
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

    def __enter__(self: _S) -> _S:
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
                if has_tables(inspector, tables, expected):
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
            if raw is None:
                raise StoreUnavailable(f"{self.display_url}: the SQLite connection is closed")
            raw.execute("PRAGMA journal_mode=WAL")

    @property
    def display_url(self) -> str:
        """The URL without its password, safe for messages."""
        return self._parsed_url.render_as_string(hide_password=True)

    def _open_engine(self, busy_timeout: float, page_cache_kib: int) -> Engine:
        """The engine; a URL SQLAlchemy cannot use (unknown dialect, missing driver) is a
        ``UsageError``, a SQLite folder that cannot be made ``StoreUnavailable``."""
        try:
            return make_engine(self._parsed_url, busy_timeout, page_cache_kib)
        except OSError as exc:  # the SQLite file's folder
            raise StoreUnavailable(
                f"cannot create the folder of the database {self.display_url}: "
                f"{exc.strerror or exc}"
            ) from None
        except (sa.exc.ArgumentError, ImportError) as exc:
            if isinstance(exc, ModuleNotFoundError) and missing_extra(exc):
                raise  # psycopg without the [postgres] extra: the CLI says what to install
            hint = ""
            if isinstance(exc, ImportError):
                hint = f" (its driver is not installed: {exc.name or exc})"
            raise UsageError(
                f"the database URL {self.display_url} cannot be used{hint}: expected {DB_FORMS}"
            ) from None

    def schema_version(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(schema_version.c.version)).scalar_one())
