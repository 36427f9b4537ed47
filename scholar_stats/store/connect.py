"""Where the store lives (the default SQLite file) and how its engine is made, per dialect."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from scholar_stats.errors import UsageError
from scholar_stats.parsers import DB_FORMS, db_path, redact_url

APP_DIR = "scholar-stats"


DB_FILE = "scholar-stats.db"


def default_db_url() -> str:
    """``sqlite:///$XDG_DATA_HOME/scholar-stats/scholar-stats.db`` (``~/.local/share`` if unset)."""
    home_data = os.path.join(os.path.expanduser("~"), ".local", "share")
    base = os.environ.get("XDG_DATA_HOME") or home_data
    return "sqlite:///" + os.path.join(base, APP_DIR, DB_FILE)


def parse_db_url(text: str) -> sa.URL:
    """``--db``'s value as a URL, or a ``UsageError`` that never echoes a URL (it may hold a
    password). A URL is taken as it is; a path (``parsers.db_path``) names the SQLite file at it,
    ``~`` expanded, relative to the working directory, made when missing, but not its folder:
    a mistyped folder is an error, not a new tree of folders (``sqlite:///PATH`` makes them)."""
    try:
        path = db_path(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if path is None:
        return _parse_url(text)
    if path == ":memory:":  # SQLite's own name for a database in memory
        return sa.URL.create("sqlite")
    full = Path(os.path.abspath(os.path.expanduser(path)))
    if not full.parent.is_dir():
        raise UsageError(f"the database file {full}: its folder {full.parent} does not exist "
                         f"(create it, or give the URL sqlite:///{full}, whose folders are made)")
    if full.is_dir():
        raise UsageError(f"the database file {full} is a folder: give a file in it, e.g. "
                         f"{full / DB_FILE}")
    return sa.URL.create("sqlite", database=str(full))


def _parse_url(url: str) -> sa.URL:
    try:
        parsed = sa.make_url(url)
        parsed.port  # noqa: B018 - a port that is not a number fails here, not at connect
    except (sa.exc.ArgumentError, ValueError):
        raise UsageError(
            f"the database URL {redact_url(url)!r} cannot be parsed: expected {DB_FORMS}"
        ) from None
    return parsed


# A PostgreSQL server that does not answer (a dropped packet, not a refusal) ends a connection
# attempt after this many seconds, not after the system's TCP timeout of minutes.
PG_CONNECT_TIMEOUT = 10


# SQLite's page cache, per connection: enough for history inserts. A reader that keeps what it
# needs in its own memory (the service) asks for less: every pooled connection of every thread
# fills its cache as it reads, 8 MiB each with 10,000 authors.
PAGE_CACHE_KIB = 8192


def make_engine(
    parsed: sa.URL, busy_timeout: float = 30.0, page_cache_kib: int = PAGE_CACHE_KIB
) -> Engine:
    """An engine with SQLite tuned for a small service: NORMAL sync, foreign keys, a busy
    timeout, a page cache of ``page_cache_kib`` per connection (WAL is set by
    ``Store._use_wal`` once the file is known to be ours)."""
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
            f"cache_size=-{int(page_cache_kib)}",  # KiB (see PAGE_CACHE_KIB)
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("scholar_stats_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
