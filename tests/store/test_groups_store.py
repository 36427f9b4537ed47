"""Groups in the store and their commands (issue 13 item 5), on SQLite and PostgreSQL: a
hand-computed lab of two authors sharing one paper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.store_helpers import T0, database_url, success

from scholar_stats.cli import main
from scholar_stats.refresh.record import record_outcome
from scholar_stats.store.database import Store

A = "DhtAFkwAAAAJ"
B = "amIMrIEAAAAJ"
C = "LZ5D_p4AAAAJ"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        with Store(url) as store:
            store.add_authors([A, B, C], 86400, T0)
            # "Paper p1" (2020) is on both profiles: counted once, with the higher count
            record_outcome(store, success(A, {"p1": 10, "p2": 3}), T0)
            record_outcome(store, success(B, {"p1": 12, "p9": 1}), T0)
        yield url


def test_groups_add_show_list_remove(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["groups", "add", "lab", A, B, C, "--db", db]) == 0
    assert main(["groups", "add", "lab", A, "--db", db]) == 0
    assert "0 added (1 already members)" in capsys.readouterr().out
    assert main(["groups", "show", "lab", "--format", "json", "--db", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    # papers: p1 max(10, 12) = 12, p2 3, p9 1 -> 16 citations, h-index 2, i10 1, 3 papers
    assert (shown["citations"], shown["h-index"], shown["i10-index"], shown["publications"],
            shown["shared_papers"]) == (16, 2, 1, 3, 1)
    assert [m["scholar_id"] for m in shown["members"]] == [A, B]  # those with data
    assert [m["citations"] for m in shown["members"]] == [13, 13]
    assert shown["without_data"] == [C]
    assert main(["groups", "show", "lab", "--db", db]) == 0
    table = capsys.readouterr().out
    assert "lab (group)" in table and "1 co-authored papers counted once" in table
    assert f"{C}: no data yet, left out" in table
    assert main(["groups", "list", "--db", db]) == 0
    assert f"lab    3        {A} {C} {B}" in capsys.readouterr().out  # code point order
    assert main(["groups", "remove", "lab", C, "--db", db]) == 0
    assert main(["authors", "remove", B, "--db", db]) == 0  # leaves its groups too
    with Store(db) as store:
        assert store.group_members("lab") == [A]
    assert main(["groups", "remove", "lab", "--db", db]) == 0
    assert main(["groups", "remove", "lab", "--db", db]) == 2
    with Store(db) as store:
        assert store.list_groups() == {} and store.get_author(A) is not None


def test_export_group_writes_the_groups_files(db: str, tmp_path: Path) -> None:
    assert main(["groups", "add", "lab", A, B, "--db", db]) == 0
    out = tmp_path / "lab"
    assert main(["export", "--group", "lab", "--db", db, "--out", str(out)]) == 0
    record = json.loads((out / "gs_data.json").read_bytes())
    assert record["citedby"] == 16 and record["hindex"] == 2
    # each member's id of the shared paper keeps its data="..." span, with the group's count
    assert record["publications"][f"{A}:p1"]["num_citations"] == 12
    assert record["publications"][f"{B}:p1"]["num_citations"] == 12
    assert json.loads((out / "shields" / "h-index.json").read_bytes())["message"] == "2"
    assert json.loads((out / "gs_data_shieldsio.json").read_bytes())["message"] == "16"


def test_one_authors_versions_of_a_paper_stay_distinct_in_the_store(
    db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A's next fetch lists a second "Paper p1" of 2020 (a journal version, its own id): the
    group counts it as A's own paper, not as the one B shares."""
    with Store(db) as store:
        later = success(A, {"p1": 10, "p2": 3, "p3": 7}, T0 + timedelta(hours=1))
        assert later.data is not None
        later.data.gs_data["publications"][f"{A}:p3"]["bib"]["title"] = "PAPER  p1."
        record_outcome(store, later, T0 + timedelta(hours=1))
    assert main(["groups", "add", "lab", A, B, "--db", db]) == 0
    capsys.readouterr()
    assert main(["groups", "show", "lab", "--format", "json", "--db", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    # by hand: {A:p1 10, B:p1 12} -> 12, A:p3 7, A:p2 3, B:p9 1 -> 23 citations, h-index 3
    # (12, 7, 3), i10 1, 4 papers, 1 shared (merging A:p3 too would give 16, 2, 1, 3)
    assert (shown["citations"], shown["h-index"], shown["i10-index"], shown["publications"],
            shown["shared_papers"]) == (23, 3, 1, 4, 1)
    assert main(["export", "--group", "lab", "--db", db, "--out", str(tmp_path / "lab")]) == 0
    record = json.loads((tmp_path / "lab" / "gs_data.json").read_bytes())
    assert record["publications"][f"{A}:p3"]["num_citations"] == 7
    assert record["publications"][f"{A}:p1"]["num_citations"] == 12 == \
        record["publications"][f"{B}:p1"]["num_citations"]
    assert len(record["papers"]) == 4 and record["citedby"] == 23


def test_group_commands_refuse_bad_input(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["groups", "add", "Bad Name!", A, "--db", db]) == 2
    assert "not a group name" in capsys.readouterr().err
    assert main(["groups", "add", "lab", "AAAAAAAAAAAA", "--db", db]) == 2
    assert "not tracked" in capsys.readouterr().err
    assert main(["groups", "show", "nolab", "--db", db]) == 2
    assert main(["export", "--group", "nolab", "--db", db, "--out", "x"]) == 2
    assert main(["export", A, "--group", "lab", "--db", db, "--out", "x"]) == 2
    assert main(["export", "--db", db, "--out", "x"]) == 2
    with Store(db) as store:
        assert store.list_groups() == {}
