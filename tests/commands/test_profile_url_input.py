"""A profile URL pasted where an id goes, on every command that reads ids, against the fake
Scholar and a real store (SQLite and PostgreSQL): the id is what is fetched, stored, printed and
written; a URL that is not a profile's is exit 2 with one line, before anything is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli_helpers import folder_hashes, run_main
from support.fake_scholar import REAL_ID, FakeScholar
from support.store_helpers import database_url

SYN = "SYNTH_url__J"
SECRET = "pAsSw0rdInUrl"
# the same authors, as a browser shows their profiles on three of Scholar's hosts
REAL_URL = f"https://scholar.google.com/citations?hl=en&user={REAL_ID}&view_op=list_works"
REAL_URL_DE = f"'https://scholar.google.de/citations?user={REAL_ID}&hl=de#top'"
SYN_URL = f"https://www.scholar.google.co.uk/citations?user={SYN}&oi=ao&sortby=pubdate"
HOSTILE = [
    f"https://scholar.google.com.evil.example/citations?user={REAL_ID}",
    f"https://scholar.google.com@evil.example/citations?user={REAL_ID}",
    f"https://me:{SECRET}@scholar.google.com/citations?user={REAL_ID}",
    f"https://scholar.google.com/citations?user={REAL_ID}&user={SYN}&key={SECRET}",
    f"https://scholar.google.com/citations?hl=en&token={SECRET}",
]


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "internal error" not in lines[0] and SECRET not in err
    assert "not a Google Scholar id or profile URL" in lines[0]
    assert "https://scholar.google.com/citations?user=DhtAFkwAAAAJ" in lines[0]
    return lines[0]


# -- fetch ------------------------------------------------------------------------------------


def test_fetch_takes_a_pasted_profile_url(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    out = tmp_path / "results"
    code, stdout, err = run_main(["fetch", REAL_URL_DE, "--out", str(out)])
    assert code == 0, err
    assert json.loads((out / "gs_data.json").read_text())["scholar_id"] == REAL_ID
    assert json.loads((out / "status.json").read_text())["scholar_id"] == REAL_ID
    assert REAL_ID in stdout and "scholar.google" not in stdout + err
    # Scholar is asked for the id, on the configured host, not for what was pasted
    assert fake_scholar.profile_requests() == [f"/citations?hl=en&user={REAL_ID}&pagesize=100"]


def test_urls_and_ids_of_one_author_are_one_author_in_a_folder_named_by_its_id(
    fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    fake_scholar.add_profile(SYN, pubs=3, citations=30)
    out = tmp_path / "results"
    code, _, err = run_main(["fetch", REAL_URL, REAL_ID, REAL_URL_DE, SYN_URL, "--out", str(out)])
    assert code == 0, err
    assert {p.name for p in out.iterdir() if p.is_dir()} == {REAL_ID, SYN}
    for scholar_id in (REAL_ID, SYN):
        status = json.loads((out / scholar_id / "status.json").read_text())
        assert status["scholar_id"] == scholar_id and status["outcome"] == "ok"
    assert len(fake_scholar.profile_requests()) == 2  # each author fetched once


@pytest.mark.parametrize("hostile", HOSTILE)
def test_fetch_refuses_a_url_that_is_no_profile_before_any_request(
    fake_scholar: FakeScholar, tmp_path: Path, hostile: str,
) -> None:
    out = tmp_path / "results"
    out.mkdir()
    (out / "gs_data.json").write_text("{}")  # whatever is there stays
    before = folder_hashes(out)
    code, stdout, err = run_main(["fetch", REAL_ID, hostile, "--out", str(out)])
    assert code == 2 and stdout == ""
    one_error_line(err)
    assert fake_scholar.requests == [] and folder_hashes(out) == before


# -- the store commands, on SQLite and PostgreSQL --------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path):
    with database_url(request.param, tmp_path) as url:
        yield url


def cli(*argv: str) -> tuple[int, str, str]:
    return run_main(list(argv))


def test_every_store_command_takes_a_profile_url(
    fake_scholar: FakeScholar, db: str, tmp_path: Path,
) -> None:
    fake_scholar.add_profile(SYN, pubs=3, citations=30)
    code, out, err = cli("authors", "add", REAL_URL, SYN_URL, REAL_ID, "--db", db)
    assert code == 0, err
    assert out.splitlines() == [f"{REAL_ID}: tracking, every 86400 s",
                                f"{SYN}: tracking, every 86400 s"]
    code, out, _ = cli("refresh", REAL_URL_DE, SYN_URL, REAL_ID, "--db", db)
    assert code == 0 and REAL_ID in out and SYN in out
    assert len(fake_scholar.profile_requests()) == 2  # each author once
    code, out, _ = cli("authors", "list", "--db", db)
    assert code == 0 and REAL_ID in out and SYN in out and "scholar.google" not in out
    code, out, _ = cli("history", REAL_URL, "--format", "json", "--db", db)
    assert code == 0 and json.loads(out)[0]["citations"] == 56
    export = tmp_path / "export"
    code, out, _ = cli("export", SYN_URL, "--out", str(export), "--db", db)
    assert code == 0 and f"{SYN}: " in out
    assert json.loads((export / "status.json").read_text())["scholar_id"] == SYN
    assert cli("groups", "add", "lab", REAL_URL, SYN_URL, "--db", db)[0] == 0
    code, out, _ = cli("groups", "list", "--db", db)
    assert code == 0 and f"{REAL_ID} {SYN}" in out
    assert cli("groups", "remove", "lab", SYN_URL, "--db", db)[0] == 0
    code, out, _ = cli("groups", "show", "lab", "--format", "json", "--db", db)
    assert [m["scholar_id"] for m in json.loads(out)["members"]] == [REAL_ID]
    code, out, _ = cli("authors", "remove", REAL_URL_DE, "--db", db)
    assert code == 0 and out == f"{REAL_ID}: no longer tracked; its history was deleted\n"
    code, out, _ = cli("authors", "list", "--db", db)
    assert REAL_ID not in out and SYN in out


@pytest.mark.parametrize("argv", [
    ["authors", "add", REAL_ID, "{url}"], ["authors", "remove", "{url}"], ["refresh", "{url}"],
    ["history", "{url}"], ["export", "{url}"], ["groups", "add", "lab", REAL_ID, "{url}"],
    ["groups", "remove", "lab", "{url}"],
])
def test_a_url_that_is_no_profile_changes_nothing_in_the_store(
    fake_scholar: FakeScholar, db: str, tmp_path: Path, argv: list[str],
) -> None:
    assert cli("authors", "add", REAL_ID, "--db", db)[0] == 0
    assert cli("groups", "add", "lab", REAL_ID, "--db", db)[0] == 0
    listed = cli("authors", "list", "--db", db)[1]
    for hostile in HOSTILE:
        command = [hostile if part == "{url}" else part for part in argv]
        code, out, err = cli(*command, "--out", str(tmp_path / "x"), "--db", db) \
            if argv[0] == "export" else cli(*command, "--db", db)
        assert code == 2 and out == "", (command, err)
        one_error_line(err)
    assert cli("authors", "list", "--db", db)[1] == listed
    assert cli("groups", "list", "--db", db)[1].count(REAL_ID) == 1
    assert fake_scholar.requests == [] and not (tmp_path / "x").exists()
