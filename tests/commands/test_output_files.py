"""Local writes (issue 9, class 9): a full disk, a read-only folder or ``--out`` naming a file is
exit 9 (OutputNotWritable) with one line naming the path and the cause; the files of an author
are all old or all new; written files follow the umask and a replaced file keeps its mode.

The full and read-only disks are real: a tmpfs in a mount namespace
(tests/support/small_disk.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli_helpers import cli_env, run_main
from support.fake_scholar import FakeScholar
from support.small_disk import files_of, run_on_small_disk

AUTHOR = "DiskAuthor01"
REAL = "LZ5D_p4AAAAJ"


def fetch_command(*ids: str) -> list[str]:
    return [sys.executable, "-m", "scholar_stats", "fetch", *ids, "--out", "{results}"]


@pytest.fixture
def good(fake_scholar: FakeScholar, tmp_path: Path) -> Path:
    """A previous good fetch of a 5-publication profile; Scholar now shows 300 publications and
    more citations, so the next fetch rewrites every file, gs_data.json grows to ~150 kB."""
    fake_scholar.add_profile(AUTHOR, pubs=5, citations=1000)
    folder = tmp_path / "good"
    assert run_main(["fetch", AUTHOR, "--out", str(folder)])[0] == 0
    fake_scholar.add_profile(AUTHOR, pubs=300, citations=1100)
    fake_scholar.requests.clear()
    return folder


def test_a_full_disk_is_exit_9_and_leaves_every_file_as_it_was(
    good: Path, fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    # 64 kB free: not room for the new fetch's files (gs_data.json, one endpoint file per paper)
    run = run_on_small_disk(tmp_path, fetch_command(AUTHOR), seed=good, env=cli_env(),
                            free_bytes=64 << 10)
    assert fake_scholar.profile_requests(), "the fetch never ran"
    assert run.after == run.before  # every file byte for byte, no temporary file left
    assert run.returncode == 9, run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("scholar-stats: cannot write ")
    assert re.search(r"/results/[\w/.-]+: No space left on device", run.stderr), run.stderr
    assert "internal error" not in run.stderr and run.stdout == ""


def test_the_same_fetch_writes_everything_when_it_fits(good: Path, tmp_path: Path) -> None:
    """The same run with room enough: every file is the new fetch's (so the small disk is what
    made the run above fail)."""
    run = run_on_small_disk(tmp_path, fetch_command(AUTHOR), seed=good, env=cli_env(),
                            free_bytes=4 << 20, size=8 << 20)  # 300 papers: 300 files
    assert run.returncode == 0, run.stderr
    assert run_main(["fetch", AUTHOR, "--out", str(tmp_path / "fresh")])[0] == 0
    fresh = files_of(tmp_path / "fresh")
    assert set(run.before) < set(run.after) == set(fresh)  # 295 more papers: their files
    # these carry the time of the fetch (and changes.*, what changed since the one before)
    for name in ("gs_data.json", "status.json", "changes.json", "changes.xml"):
        assert run.after[name] != run.before[name]
        del fresh[name], run.after[name]
    assert run.after == fresh


def test_a_read_only_folder_is_exit_9_before_any_request(
    good: Path, fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    run = run_on_small_disk(tmp_path, fetch_command(AUTHOR), seed=good, env=cli_env(),
                            read_only=True)
    assert run.returncode == 9, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("scholar-stats: cannot write to ")
    assert run.stderr.endswith("/disk/results: Read-only file system\n"), run.stderr
    assert fake_scholar.requests == []  # no request spent on data that cannot be written
    assert run.after == run.before


def test_out_naming_a_file_is_exit_9_before_any_request(
    fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    a_file = tmp_path / "results"
    a_file.write_text("not a folder\n")
    for out in (a_file, a_file / "sub"):
        code, out_text, err = run_main(["fetch", REAL, "--out", str(out)])
        assert code == 9, err
        assert err == f"scholar-stats: cannot write to {out}: Not a directory\n"
        assert out_text == ""
    code, _out, err = run_main(["fetch", REAL, "GoodAuthor01", "--out", str(a_file)])
    assert code == 9 and "Not a directory" in err
    assert fake_scholar.requests == []
    assert a_file.read_text() == "not a folder\n"


@pytest.fixture
def store_with_author(fake_scholar: FakeScholar, tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert run_main(["authors", "add", REAL, "--db", db])[0] == 0
    assert run_main(["refresh", "--db", db])[0] == 0
    return db


def test_export_reports_a_file_and_a_full_disk_as_exit_9(
    store_with_author: str, tmp_path: Path,
) -> None:
    a_file = tmp_path / "exported"
    a_file.write_text("x")
    code, _out, err = run_main(["export", REAL, "--db", store_with_author, "--out", str(a_file)])
    assert (code, err) == (9, f"scholar-stats: cannot write to {a_file}: Not a directory\n")

    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / "gs_data.json").write_text('{"citedby": 1}\n')
    (previous / "history.csv").write_text("date,citations\n")
    export = [sys.executable, "-m", "scholar_stats", "export", REAL, "--db", store_with_author,
              "--out", "{results}"]
    run = run_on_small_disk(tmp_path, export, seed=previous, env=cli_env(), free_bytes=0)
    assert run.returncode == 9, run.stderr
    assert run.stderr.count("\n") == 1 and "No space left on device" in run.stderr
    assert run.after == run.before


def modes(folder: Path) -> dict[str, str]:
    return {name: mode.split()[1] for name, mode in files_of(folder).items()}


def fetch_with_umask(fake_scholar: FakeScholar, out: Path, umask: int) -> None:
    done = subprocess.run([sys.executable, "-m", "scholar_stats", "fetch", REAL, "--out", str(out)],
                          env=cli_env({"SCHOLAR_STATS_SCHOLAR_URL": fake_scholar.url}),
                          capture_output=True, text=True, umask=umask, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("umask,mode", [(0o022, "644"), (0o002, "664"), (0o077, "600")])
def test_new_files_follow_the_umask(
    fake_scholar: FakeScholar, tmp_path: Path, umask: int, mode: str,
) -> None:
    fetch_with_umask(fake_scholar, tmp_path / "out", umask)
    found = modes(tmp_path / "out")
    papers = len(json.loads((tmp_path / "out" / "gs_data.json").read_bytes())["publications"])
    # 12 data files (changes.* included); 7 badges, chart, card, the page script and one
    # endpoint per paper
    assert len(found) == 12 + 10 + papers and set(found.values()) == {mode}, found


def test_a_replaced_file_keeps_its_mode(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fetch_with_umask(fake_scholar, out, 0o022)
    (out / "gs_data.json").chmod(0o644)
    (out / "status.json").chmod(0o640)
    (out / "shields" / "h-index.json").unlink()
    fetch_with_umask(fake_scholar, out, 0o077)  # a stricter umask than the files were made with
    found = modes(out)
    assert found["gs_data.json"] == "644" and found["status.json"] == "640"
    assert found["shields/h-index.json"] == "600"  # new again: the umask of this run
    assert found["shields/citations.json"] == "644"
    assert json.loads((out / "gs_data.json").read_bytes())["citedby"] == 56


def test_a_folder_in_the_place_of_a_file_changes_nothing(
    fake_scholar: FakeScholar, tmp_path: Path, store_with_author: str,
) -> None:
    out = tmp_path / "out"
    assert run_main(["fetch", REAL, "--out", str(out)])[0] == 0
    (out / "gs_data.json").unlink()
    (out / "gs_data.json").mkdir()
    before = files_of(out)
    code, _out, err = run_main(["export", REAL, "--db", store_with_author, "--out", str(out)])
    assert (code, err) == (9, f"scholar-stats: cannot write {out / 'gs_data.json'}: "
                              "Is a directory\n")
    code, _out, err = run_main(["fetch", REAL, "--out", str(out)])
    assert (code, err) == (9, f"scholar-stats: cannot read {out / 'gs_data.json'}: "
                              "Is a directory\n")
    assert files_of(out) == before
