"""The store trusts no file and no URL (issue 9, class 11): another program's database is refused
and left byte for byte as it was; a bad URL is exit 2, an unreachable database exit 10, both one
line without the password. Run as real ``scholar-stats`` processes."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.store_helpers import PG_ENV, T0, create_v1, database_url, pg_schema_url, success

from scholar_stats.errors import StoreUnavailable
from scholar_stats.refresh.record import record_outcome
from scholar_stats.store import schema
from scholar_stats.store.connect import PG_CONNECT_TIMEOUT
from scholar_stats.store.database import Store
from scholar_stats.store.schema import SCHEMA_VERSION

A = "LZ5D_p4AAAAJ"  # the author in the stores of earlier releases
SECRET = "S3cretPassw0rd"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scholar_stats", *args], capture_output=True,
                          text=True, timeout=120, env=os.environ.copy())


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stdout == "", result.stderr + result.stdout
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    return lines[0]


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --- another program's database --------------------------------------------------------------


def other_programs_sqlite(path: Path, *, with_schema_version: bool = False) -> None:
    """A library catalogue with an ``authors`` table (and, like many programs, a
    ``schema_version`` table of its own)."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, books INTEGER);"
        "INSERT INTO authors (name, books) VALUES ('Ursula K. Le Guin', 23), ('Italo Calvino', 17);"
    )
    if with_schema_version:
        conn.executescript("CREATE TABLE schema_version (version INTEGER NOT NULL);"
                           "INSERT INTO schema_version VALUES (1);")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("with_schema_version", [False, True])
@pytest.mark.parametrize("argv", [["authors", "list"], ["authors", "add", A], ["refresh"]])
def test_another_programs_sqlite_file_is_refused_and_left_unchanged(
    tmp_path: Path, argv: list[str], with_schema_version: bool
) -> None:
    path = tmp_path / "catalogue.db"
    other_programs_sqlite(path, with_schema_version=with_schema_version)
    before = folder_state(tmp_path)
    result = cli(*argv, "--db", f"sqlite:///{path}")
    assert result.returncode == 2
    line = one_line(result)
    assert str(path) in line and "not a scholar-stats store" in line
    assert folder_state(tmp_path) == before  # byte for byte, and no -wal or -journal left


def test_a_file_that_is_not_a_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 200)
    before = folder_state(tmp_path)
    result = cli("authors", "list", "--db", f"sqlite:///{path}")
    assert result.returncode == 2
    assert str(path) in one_line(result)
    assert folder_state(tmp_path) == before


def test_a_postgresql_schema_with_someone_elses_authors_table_is_refused() -> None:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set")
    with pg_schema_url() as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE authors (id serial PRIMARY KEY, name text)")
            conn.exec_driver_sql("INSERT INTO authors (name) VALUES ('Ursula K. Le Guin')")
        tables = sa.inspect(engine).get_table_names()
        result = cli("authors", "list", "--db", url)
        assert result.returncode == 2
        assert "not a scholar-stats store" in one_line(result)
        engine.dispose()
        engine = sa.create_engine(url)
        assert sa.inspect(engine).get_table_names() == tables
        with engine.connect() as conn:
            columns = [c["name"] for c in sa.inspect(conn).get_columns("authors")]
            assert columns == ["id", "name"]
            assert conn.exec_driver_sql("SELECT name FROM authors").scalars().all() == [
                "Ursula K. Le Guin"]
        engine.dispose()


# --- stores of earlier releases still open ---------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def _v2_from_v1(url: str, author: str) -> None:
    """The second release's schema: its migration step, spelled out (frozen like v1's DDL)."""
    create_v1(url, author)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE authors ADD COLUMN lease_until BIGINT")
        conn.exec_driver_sql(
            "CREATE TABLE scheduler_state (key VARCHAR(64) NOT NULL, value TEXT NOT NULL, "
            "PRIMARY KEY (key))")
        conn.exec_driver_sql("UPDATE schema_version SET version = 2")
    engine.dispose()


@pytest.mark.parametrize("release", [1, 2])
def test_stores_of_earlier_releases_open_and_upgrade(db_url: str, release: int) -> None:
    (create_v1 if release == 1 else _v2_from_v1)(db_url, A)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # a table of another program next to ours does not matter
        conn.exec_driver_sql("CREATE TABLE unrelated_notes (note TEXT)")
    engine.dispose()
    with Store(db_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        latest = store.latest(A)
        assert latest is not None and latest.gs_data["citedby"] == 7
        record_outcome(store, success(A, {"p1": 8}), T0)
        assert store.lease(A, T0) is None
    result = cli("authors", "list", "--db", db_url)
    assert result.returncode == 0 and A in result.stdout, result.stderr


def test_a_store_with_its_marker_but_a_damaged_marker_row_is_refused(db_url: str) -> None:
    Store(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.store_marker))
    engine.dispose()
    result = cli("authors", "list", "--db", db_url)
    assert result.returncode == 2 and "not a scholar-stats store" in one_line(result)


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "sqlite:garbage",  # a URL without its // (a bare "garbage" is a SQLite file's path)
    "://",
    "nosuchdialect://host/db",
    f"mysql://user:{SECRET}@127.0.0.1/db",  # a dialect whose driver is not installed
    f"postgresql+psycopg://user:{SECRET}@127.0.0.1:notaport/db",
])
def test_a_bad_database_url_is_a_usage_error(url: str) -> None:
    result = cli("authors", "list", "--db", url)
    assert result.returncode == 2
    line = one_line(result)
    assert "database URL" in line and SECRET not in line


@pytest.mark.parametrize("url", [
    f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/test",  # connection refused
    f"postgresql+psycopg://postgres:{SECRET}@nohost.invalid/test",  # unknown host
])
def test_an_unreachable_database_is_exit_10_without_the_password(url: str) -> None:
    result = cli("authors", "list", "--db", url)
    assert result.returncode == 10
    line = one_line(result)
    assert "postgresql+psycopg://***@" in line and SECRET not in line  # the userinfo masked


def test_a_database_server_that_never_answers_is_given_up_after_the_connect_timeout() -> None:
    """A port that accepts connections (the kernel's backlog) but never speaks PostgreSQL."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "scholar_stats", "authors", "list", "--db",
             f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:{port}/test"],
            capture_output=True, text=True, timeout=PG_CONNECT_TIMEOUT + 30)
        elapsed = time.monotonic() - started
    assert result.returncode == 10
    assert SECRET not in one_line(result)
    # docs: a server that does not answer within 10 s (connect_timeout) is exit 10; the
    # process start takes a few seconds when loaded
    assert elapsed < PG_CONNECT_TIMEOUT + 10


def test_a_refused_login_is_exit_10_without_the_password() -> None:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set")
    url = sa.make_url(os.environ[PG_ENV]).set(username="nosuchrole", password=SECRET)
    result = cli("authors", "list", "--db", url.render_as_string(hide_password=False))
    assert result.returncode == 10
    line = one_line(result)
    assert "nosuchrole" in line and SECRET not in line


def test_a_sqlite_path_that_cannot_be_created_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for path in (blocker / "store.db", tmp_path):  # below a file; a folder itself
        result = cli("authors", "list", "--db", f"sqlite:///{path}")
        assert result.returncode == 10
        assert str(path) in one_line(result)


def test_a_sqlite_store_locked_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    """Another process holds the write lock; writers give up after the busy timeout."""
    path = tmp_path / "store.db"
    with Store(f"sqlite:///{path}") as store:
        store.add_authors([A], 86400, T0)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.read()",
         str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with Store(f"sqlite:///{path}", busy_timeout=0.5) as store:
            with pytest.raises(StoreUnavailable, match="locked"):
                store.add_authors(["amIMrIEAAAAJ"], 86400, T0)
            assert [a.scholar_id for a in store.list_authors()] == [A]  # WAL: readers go on
    finally:
        holder.communicate("", timeout=30)
