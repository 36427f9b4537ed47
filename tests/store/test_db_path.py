"""``--db PATH`` (and ``SCHOLAR_STATS_DB=PATH``) without a scheme is the SQLite file at that path:
``~`` expanded, relative to the working directory, made when missing, its folder not (exit 2,
one line naming it). Odd paths are refused in one line; URLs work exactly as before."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support.cli_helpers import cli_env, run_main
from support.fake_scholar import FakeScholar
from support.service_helpers import TOKEN, running_serve
from support.store_helpers import T0, database_url, success
from support.waiting import wait_until

from scholar_stats.parsers import db_path
from scholar_stats.refresh.record import record_outcome
from scholar_stats.store.database import Store

A, B = "DhtAFkwAAAAJ", "LZ5D_p4AAAAJ"
SECRET = "pw4db-s3cret"
BOTH_FORMS = ("a file path (SQLite) or a database URL: sqlite:///PATH or "
              "postgresql+psycopg://HOST/DATABASE")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own, a HOME in it, and no SCHOLAR_STATS_DB from outside."""
    work = tmp_path / "work"
    (work / "home").mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(work / "home"))
    monkeypatch.delenv("SCHOLAR_STATS_DB", raising=False)
    return work


def ids_in(path: Path) -> list[str]:
    """The tracked ids of the SQLite store at ``path``, read through its URL."""
    with Store(f"sqlite:///{path}") as store:
        return [author.scholar_id for author in store.list_authors()]


def refused(argv: list[str]) -> str:
    code, out, err = run_main(argv)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1, (code, out, err)
    assert "internal error" not in err and SECRET not in err
    return lines[0]


def test_a_path_is_the_sqlite_file_there_relative_to_the_working_directory(here: Path) -> None:
    assert run_main(["authors", "add", A, "--db", "my.db"])[0] == 0
    assert (here / "my.db").is_file() and ids_in(here / "my.db") == [A]
    with sqlite3.connect(here / "my.db") as conn:  # a real SQLite file, of ours
        assert conn.execute("SELECT application FROM scholar_stats_store").fetchall()
    # every spelling of the same file is the same store
    (here / "sub").mkdir()
    for spelling in ("./my.db", str(here / "my.db"), "sub/../my.db", f"sqlite:///{here}/my.db"):
        code, out, _ = run_main(["authors", "list", "--db", spelling])
        assert code == 0 and A in out, spelling
    assert run_main(["authors", "add", B, "--db", "sub/other.db"])[0] == 0
    assert ids_in(here / "sub" / "other.db") == [B]


def test_the_variable_takes_a_path_as_the_flag_does(
    here: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCHOLAR_STATS_DB", "from-env.db")
    assert run_main(["authors", "add", A])[0] == 0
    assert ids_in(here / "from-env.db") == [A]
    assert run_main(["authors", "add", B, "--db", "from-flag.db"])[0] == 0  # the flag wins
    assert ids_in(here / "from-flag.db") == [B] and ids_in(here / "from-env.db") == [A]


def test_a_tilde_is_the_home_folder(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_main(["authors", "add", A, "--db", "~/tracked.db"])[0] == 0
    assert ids_in(here / "home" / "tracked.db") == [A]
    monkeypatch.setenv("SCHOLAR_STATS_DB", "~/tracked.db")
    assert A in run_main(["authors", "list"])[1]
    assert not (here / "~").exists()


def seeded(path: Path) -> None:
    """A fresh store at ``path``: author A, fetched, in the group "lab"."""
    path.unlink(missing_ok=True)
    with Store(f"sqlite:///{path}") as store:
        store.add_authors([A], 86400, T0)
        record_outcome(store, success(A, {"P00000000001": 5}, T0), T0)
        store.add_to_group("lab", [A])


@pytest.mark.parametrize("command, prints", [
    (["authors", "add", B], f"{B}: tracking"), (["authors", "remove", A], "no longer tracked"),
    (["authors", "list"], A), (["refresh", A], A), (["history", A], "2026-01-01"),
    (["export", A, "--out", "out"], f"{A}: "), (["groups", "add", "lab", A], "lab: 0 added"),
    (["groups", "remove", "lab"], "lab: removed"), (["groups", "list"], "lab"),
    (["groups", "show", "lab"], "lab (group)"),
])
def test_every_store_command_opens_the_path_and_refuses_a_missing_folder(
    here: Path, monkeypatch: pytest.MonkeyPatch, fake_scholar: FakeScholar,
    command: list[str], prints: str,
) -> None:
    fake_scholar.add_profile(A, pubs=2, citations=9)
    seeded(here / "there.db")
    code, out, err = run_main([*command, "--db", "there.db"])
    assert code == 0 and prints in out, err
    seeded(here / "there.db")
    monkeypatch.setenv("SCHOLAR_STATS_DB", "there.db")
    code, out, err = run_main(command)
    assert code == 0 and prints in out, err
    monkeypatch.delenv("SCHOLAR_STATS_DB")
    for missing in ("nowhere/x.db", "~/nowhere/x.db"):
        line = refused([*command, "--db", missing])
        folder = (here / "nowhere") if missing.startswith("nowhere") else here / "home/nowhere"
        assert f"its folder {folder} does not exist" in line
        assert f"the database file {folder / 'x.db'}" in line
        assert not folder.exists()
    monkeypatch.setenv("SCHOLAR_STATS_DB", "nowhere/x.db")
    assert "nowhere does not exist" in refused(command)


def test_a_folder_is_refused(here: Path) -> None:
    (here / "data").mkdir()
    line = refused(["authors", "list", "--db", "data"])
    assert f"{here / 'data'} is a folder" in line and "scholar-stats.db" in line
    assert list((here / "data").iterdir()) == []


@pytest.mark.parametrize("odd, says", [
    ("C:\\x.db", "is a Windows path"),
    ("C:/Users/me/x.db", "is a Windows path"),
    ("\\\\server\\share\\x.db", "is a Windows path"),
    ("file.db?x=1", "has a '?'"),
    ("x.db?mode=ro", "has a '?'"),
    ("sqlite:x.db", "cannot be parsed"),
    (f"postgresql:user:{SECRET}@host/db", "cannot be parsed"),
    (f"postgres+psycopg:{SECRET}@host", "cannot be parsed"),
    (f"sqlite:/{SECRET}.db", "cannot be parsed"),
])
def test_an_odd_path_is_one_line_and_makes_no_file(here: Path, odd: str, says: str) -> None:
    before = sorted(p.name for p in here.iterdir())
    line = refused(["authors", "add", A, "--db", odd])
    assert says in line
    if says == "cannot be parsed":
        assert BOTH_FORMS in line
    assert sorted(p.name for p in here.iterdir()) == before


def test_a_windows_path_is_a_path_on_windows() -> None:
    assert db_path("C:\\Users\\me\\x.db", windows=True) == "C:\\Users\\me\\x.db"
    assert db_path("C:/x.db", windows=True) == "C:/x.db"
    with pytest.raises(ValueError, match="Windows path"):
        db_path("C:\\x.db", windows=False)
    assert db_path("sqlite:///C:/x.db", windows=False) is None  # a URL: the store parses it


@pytest.mark.parametrize("name", ["a b.db", "50%.db", "no#tag.db", "Zoë.db", "-dash.db",
                                  "x:y.db", ".hidden"])
def test_an_unusual_but_legal_file_name_is_that_file(here: Path, name: str) -> None:
    assert run_main(["authors", "add", A, "--db", f"./{name}"])[0] == 0
    assert (here / name).is_file() and ids_in(here / name) == [A]


def test_memory_is_sqlites_own_name_for_no_file(here: Path) -> None:
    code, out, _ = run_main(["authors", "list", "--db", ":memory:"])
    assert code == 0 and "no authors tracked" in out
    assert list(p.name for p in here.iterdir()) == ["home"]


# -- URLs work as before ----------------------------------------------------------------------


def test_a_sqlite_url_still_makes_its_folders(here: Path) -> None:
    url = f"sqlite:///{here}/deep/new/folders/x.db"
    assert run_main(["authors", "add", A, "--db", url])[0] == 0
    assert ids_in(here / "deep/new/folders/x.db") == [A]


@pytest.mark.parametrize("url", ["://", "nosuchdialect://host/db", "sqlite//x.db://"])
def test_a_url_that_cannot_be_used_names_both_forms(here: Path, url: str) -> None:
    line = refused(["authors", "list", "--db", url])
    assert "database URL" in line and BOTH_FORMS in line


def test_a_postgresql_url_works_as_before(tmp_path: Path) -> None:
    with database_url("postgresql", tmp_path) as url:
        assert run_main(["authors", "add", A, "--db", url])[0] == 0
        code, out, _ = run_main(["authors", "list", "--db", url])
        assert code == 0 and A in out
        assert not list(tmp_path.iterdir())  # no file was made for it


# -- the long-running commands: schedule and serve, as real processes ------------------------


def test_schedule_opens_a_relative_path_and_refuses_a_missing_folder(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "scholar_stats", "schedule", "--db", "s.db"],
                            cwd=tmp_path, env=cli_env({"SCHOLAR_STATS_DB": ""}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"in sqlite:///{tmp_path / 's.db'}" in line, line + proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0 and ids_in(tmp_path / "s.db") == []
    missing = subprocess.run([sys.executable, "-m", "scholar_stats", "schedule", "--db",
                              "gone/s.db"], cwd=tmp_path, env=cli_env(), capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and "gone does not exist" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1 and not (tmp_path / "gone").exists()


def test_serve_opens_a_relative_path_and_its_admin_route_takes_a_profile_url(
    tmp_path: Path,
) -> None:
    env = {"SCHOLAR_STATS_ADMIN_TOKEN": TOKEN, "SCHOLAR_STATS_DB": ""}
    with running_serve("served.db", tmp_path, env) as (base, _proc):
        r = httpx.post(f"{base}/authors", headers={"Authorization": f"Bearer {TOKEN}"},
                       json={"ids": [f"https://scholar.google.com/citations?user={B}&hl=en"]})
        assert r.status_code == 200 and r.json()["tracked"] == [B]
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, "serve healthy")
    assert ids_in(tmp_path / "served.db") == [B]
    assert os.path.getsize(tmp_path / "served.db") > 0
