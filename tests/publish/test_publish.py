"""``publish`` against real git: a bare repository as the remote, a clone as the working repo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from support.git_repos import BRANCH, SID, TOKEN, git_env, remote, sh, snapshot, work  # noqa: F401

from scholar_stats.cli import main
from scholar_stats.core.model import AuthorData, FetchStatus
from scholar_stats.errors import PublishFailed
from scholar_stats.outputs.catalogue import render_author_files
from scholar_stats.outputs.history import parse_history_csv
from scholar_stats.outputs.render import render_status
from scholar_stats.publish import branch as pub
from scholar_stats.publish import git as pubgit

DAY1 = datetime(2026, 3, 1, 6, 17, tzinfo=timezone.utc)


def gs_data(citations: int, npubs: int = 3, updated: str = "2026-03-01 06:17:00") -> dict[str, Any]:
    pubs = {
        f"{SID}:pub{i:09d}": {
            "container_type": "Publication", "source": "AUTHOR_PUBLICATION_ENTRY",
            "bib": {"title": f"Paper {i}", "citation": "Venue"}, "filled": False,
            "author_pub_id": f"{SID}:pub{i:09d}", "num_citations": citations // (i + 2),
        }
        for i in range(npubs)
    }
    return {
        "container_type": "Author", "filled": ["basics", "indices", "counts", "publications"],
        "scholar_id": SID, "source": "AUTHOR_PROFILE_PAGE", "name": "Ada Example",
        "citedby": citations, "citedby5y": citations - 1, "hindex": 5, "hindex5y": 4,
        "i10index": 3, "i10index5y": 2, "cites_per_year": {"2025": 10},
        "publications": pubs, "updated": updated,
    }


def write_results(folder: Path, citations: int, when: datetime, *, outcome: str = "ok",
                  npubs: int = 3, scholar_id: str = SID) -> Path:
    """What ``fetch --out folder`` writes; a failed fetch writes only status.json."""
    folder.mkdir(parents=True, exist_ok=True)
    if outcome == "ok":
        data = AuthorData(scholar_id, gs_data(citations, npubs, when.strftime("%Y-%m-%d %H:%M:%S")),
                          2021)
        for rel, blob in render_author_files(data).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(blob)
    status = FetchStatus(scholar_id, outcome, 0 if outcome == "ok" else 3, outcome,
                         when.isoformat(), when.isoformat(), requests=1)
    (folder / "status.json").write_bytes(render_status(status))
    return folder


def branch_file(remote: Path, path: str, ref: str = BRANCH) -> bytes:
    return subprocess.run(["git", "-C", str(remote), "show", f"{ref}:{path}"],
                          capture_output=True, check=True).stdout


def history(remote: Path, folder: str = "") -> list[tuple[str, int]]:
    rows = parse_history_csv(branch_file(remote, folder + "history.csv"))
    return [(row.date, row.values["citations"]) for row in rows]


def commits(remote: Path) -> list[str]:
    return sh(remote, "rev-list", BRANCH).splitlines()


def test_first_publish_creates_orphan_branch_and_leaves_repo_alone(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    results = write_results(tmp_path / "results", 100, DAY1)
    before = snapshot(work)
    result = pub.publish(results, repo=work, now=DAY1)
    assert result.committed and result.pushed
    assert sh(remote, "rev-parse", BRANCH) == result.commit
    assert sh(remote, "rev-list", "--parents", "-n1", BRANCH) == result.commit  # orphan
    files = set(sh(remote, "ls-tree", "-r", "--name-only", BRANCH).splitlines())
    assert files == {*render_author_files(AuthorData(SID, gs_data(100), 2021)), "status.json",
                     "history.csv"}
    assert json.loads(branch_file(remote, "gs_data.json"))["citedby"] == 100
    assert history(remote) == [("2026-03-01", 100)]
    assert snapshot(work) == before
    assert sh(remote, "rev-parse", "main") == sh(work, "rev-parse", "HEAD")


def test_changed_numbers_append_a_commit_and_a_history_row(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    first = pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    day2 = DAY1 + timedelta(days=1)
    second = pub.publish(write_results(tmp_path / "r2", 104, day2), repo=work, now=day2)
    assert second.pushed
    assert commits(remote) == [second.commit, first.commit]
    assert history(remote) == [("2026-03-01", 100), ("2026-03-02", 104)]
    assert json.loads(branch_file(remote, "shields/citations.json"))["message"] == "104"


def test_same_day_change_updates_todays_row(tmp_path: Path, work: Path, remote: Path) -> None:
    pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    later = DAY1 + timedelta(hours=5)
    assert pub.publish(write_results(tmp_path / "r2", 101, later), repo=work, now=later).pushed
    assert history(remote) == [("2026-03-01", 101)]
    assert len(commits(remote)) == 2


def test_unchanged_rerun_makes_no_commit_until_a_week_passed(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    first = pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    exact = pub.publish(tmp_path / "r1", repo=work, now=DAY1)
    assert not exact.committed and exact.commit == first.commit
    for days in (1, 6):  # new `updated`, new status.json, a new (identical) history row
        when = DAY1 + timedelta(days=days)
        result = pub.publish(write_results(tmp_path / f"d{days}", 100, when), repo=work, now=when)
        assert (result.committed, result.pushed) == (False, False), result
    assert commits(remote) == [first.commit]
    when = DAY1 + timedelta(days=8)
    alive = pub.publish(write_results(tmp_path / "d8", 100, when), repo=work, now=when)
    assert alive.pushed and commits(remote) == [alive.commit, first.commit]
    assert history(remote) == [("2026-03-01", 100), ("2026-03-09", 100)]


def test_failed_fetch_keeps_the_last_good_data(tmp_path: Path, work: Path, remote: Path) -> None:
    pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    when = DAY1 + timedelta(days=9)
    blocked = write_results(tmp_path / "blocked", 0, when, outcome="blocked")
    assert [p.name for p in blocked.iterdir()] == ["status.json"]
    assert pub.publish(blocked, repo=work, now=when).pushed  # keep-alive: a week passed
    assert json.loads(branch_file(remote, "gs_data.json"))["citedby"] == 100
    assert json.loads(branch_file(remote, "status.json"))["outcome"] == "blocked"
    assert history(remote) == [("2026-03-01", 100)]


def test_squash_replaces_the_branch_but_keeps_history(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    for day in range(3):
        when = DAY1 + timedelta(days=day)
        pub.publish(write_results(tmp_path / f"r{day}", 100 + day, when), repo=work, now=when)
    assert len(commits(remote)) == 3
    when = DAY1 + timedelta(days=3)
    before = snapshot(work)
    code = main(["publish", str(write_results(tmp_path / "r3", 103, when)), "--repo", str(work),
                 "--squash", "--message", "squashed"])
    assert code == 0
    assert len(commits(remote)) == 1
    assert sh(remote, "log", "-1", "--format=%s", BRANCH) == "squashed"
    assert [c for _, c in history(remote)][:3] == [100, 101, 102]
    assert history(remote)[-1][1] == 103
    assert snapshot(work) == before


def other_clone_pushes(tmp_path: Path, remote: Path, name: str) -> None:
    """Another runner moves the branch: clone it, change a file, push."""
    other = tmp_path / f"other-{name}"
    if not other.exists():
        subprocess.run(["git", "clone", "-q", "-b", BRANCH, str(remote), str(other)], check=True,
                       capture_output=True)
    else:
        sh(other, "pull", "-q", "--ff-only")
    (other / f"{name}.txt").write_text(name)
    sh(other, "add", f"{name}.txt")
    sh(other, "commit", "-q", "-m", f"concurrent {name}")
    sh(other, "push", "-q", "origin", BRANCH)


def test_concurrent_push_is_reapplied(tmp_path: Path, work: Path, remote: Path) -> None:
    pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    day2 = DAY1 + timedelta(days=1)
    calls: list[int] = []

    def race(attempt: int) -> None:
        calls.append(attempt)
        if attempt == 1:
            other_clone_pushes(tmp_path, remote, "sneaky")

    before = snapshot(work)
    result = pub.publish(write_results(tmp_path / "r2", 150, day2), repo=work, now=day2,
                         before_push=race)
    assert calls == [1, 2] and result.pushed
    log = sh(remote, "log", "--format=%s", BRANCH).splitlines()
    assert log[1] == "concurrent sneaky" and len(log) == 3
    assert branch_file(remote, "sneaky.txt") == b"sneaky"  # the other push survived
    assert history(remote) == [("2026-03-01", 100), ("2026-03-02", 150)]
    assert snapshot(work) == before


def test_squash_push_also_survives_a_race(tmp_path: Path, work: Path, remote: Path) -> None:
    pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    day2 = DAY1 + timedelta(days=1)

    def race(attempt: int) -> None:
        if attempt == 1:
            other_clone_pushes(tmp_path, remote, "sneaky")

    result = pub.publish(write_results(tmp_path / "r2", 150, day2), repo=work, now=day2,
                         squash=True, before_push=race)
    assert result.pushed and commits(remote) == [result.commit]
    assert branch_file(remote, "sneaky.txt") == b"sneaky"  # re-applied on the new head


def test_a_branch_that_keeps_moving_fails_with_exit_8(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    day2 = DAY1 + timedelta(days=1)
    calls: list[int] = []

    def always(attempt: int) -> None:
        calls.append(attempt)
        other_clone_pushes(tmp_path, remote, f"n{attempt}")

    before = snapshot(work)
    with pytest.raises(PublishFailed) as info:
        pub.publish(write_results(tmp_path / "r2", 150, day2), repo=work, now=day2,
                    attempts=3, before_push=always)
    assert calls == [1, 2, 3]
    assert info.value.exit_code == 8 and "\n" not in str(info.value)
    assert snapshot(work) == before


def test_push_refused_by_the_remote_exits_8_with_one_line(
    tmp_path: Path, work: Path, remote: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'branch is protected'\nprintenv GITHUB_TOKEN\nexit 1\n")
    hook.chmod(0o755)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    results = write_results(tmp_path / "r1", 100, DAY1)
    before = snapshot(work)
    code = main(["publish", str(results), "--repo", str(work)])
    out, err = capsys.readouterr()
    assert code == 8
    assert out == "" and err.count("\n") == 1 and "refused" in err
    assert TOKEN not in out + err
    assert sh(remote, "branch", "--list", BRANCH) == ""
    assert snapshot(work) == before


def test_token_is_used_by_git_but_never_shown_or_stored(
    tmp_path: Path, work: Path, remote: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    caplog.set_level("DEBUG")
    # git itself gets the token from the helper, for any https remote, without a prompt
    fill = subprocess.run(["git", "-C", str(work), "credential", "fill"],
                          input="protocol=https\nhost=github.com\n\n", capture_output=True,
                          text=True, check=True,
                          env=pubgit.auth_env({**os.environ, "GIT_TERMINAL_PROMPT": "0"}))
    assert f"password={TOKEN}" in fill.stdout and "username=x-access-token" in fill.stdout
    assert TOKEN not in json.dumps(pubgit.auth_env(dict(os.environ)) | {"GITHUB_TOKEN": ""})

    code = main(["-v", "publish", str(write_results(tmp_path / "r1", 100, DAY1)),
                 "--repo", str(work)])
    # a remote that cannot be reached: the error names it without credentials
    bad = main(["publish", str(tmp_path / "r1"), "--repo", str(work),
                "--remote", f"https://x-access-token:{TOKEN}@127.0.0.1:9/nowhere.git"])
    out, err = capsys.readouterr()
    assert code == 0 and bad == 8
    seen = out + err + caplog.text
    assert TOKEN not in seen and "127.0.0.1:9" in err and err.count("\n") == 1
    for path in (work / ".git").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in branch_file(remote, "gs_data.json").decode()


def test_several_authors_get_one_history_each(tmp_path: Path, work: Path, remote: Path) -> None:
    other = "AAAAAAAAAAAJ"
    results = tmp_path / "results"
    write_results(results / SID, 100, DAY1)
    write_results(results / other, 7, DAY1, scholar_id=other)
    assert pub.publish(results, repo=work, now=DAY1).pushed
    assert history(remote, f"{SID}/") == [("2026-03-01", 100)]
    assert history(remote, f"{other}/") == [("2026-03-01", 7)]
    assert "history.csv" not in sh(remote, "ls-tree", "--name-only", BRANCH).splitlines()


def test_works_from_a_shallow_checkout(tmp_path: Path, work: Path, remote: Path) -> None:
    """GitHub Actions checks out with depth 1; the shallow file must stay as it was."""
    pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "-b", "main", f"file://{remote}",
                    str(shallow)], check=True, capture_output=True)
    before = snapshot(shallow)
    shallow_file = (shallow / ".git" / "shallow").read_bytes()
    day2 = DAY1 + timedelta(days=1)
    assert pub.publish(write_results(tmp_path / "r2", 120, day2), repo=shallow, now=day2).pushed
    assert history(remote) == [("2026-03-01", 100), ("2026-03-02", 120)]
    assert (shallow / ".git" / "shallow").read_bytes() == shallow_file
    assert snapshot(shallow) == before


def test_bad_input_is_a_usage_error(tmp_path: Path, work: Path) -> None:
    assert main(["publish", str(tmp_path / "missing"), "--repo", str(work)]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["publish", str(tmp_path / "empty"), "--repo", str(work)]) == 2
    results = write_results(tmp_path / "r", 1, DAY1)
    assert main(["publish", str(results), "--repo", str(work), "--branch", "bad..name"]) == 2


def test_only_volatile_changes_is_semantic() -> None:
    old = {"gs_data.json": b'{"citedby": 1, "updated": "a"}', "status.json": b"{}",
           "history.csv": b"x"}
    assert pub.only_volatile_changes(old, {**old, "gs_data.json": b'{"updated":"b","citedby":1}',
                                           "status.json": b'{"x": 1}', "history.csv": b"y"})
    assert not pub.only_volatile_changes(old, {**old, "gs_data.json": b'{"citedby": 2}'})
    assert not pub.only_volatile_changes(old, {**old, "shields/x.json": b"{}"})


def test_scrub_removes_token_and_url_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    text = pubgit.scrub(f"fatal: https://user:pw@host/x {TOKEN} done")
    assert TOKEN not in text and "pw@" not in text and "https://***@host/x" in text


@pytest.mark.skipif(shutil.which("git") is None, reason="git is required")
def test_git_helper_reports_one_line(tmp_path: Path) -> None:
    with pytest.raises(pub.GitError) as info:
        pubgit.git(tmp_path, "rev-parse", "HEAD")
    assert "\n" not in str(info.value) and "rev-parse" in str(info.value)


def test_full_path_fetch_publish_and_read_back(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any
) -> None:
    """fetch from the fake Scholar, publish, then read the branch from a fresh clone."""
    synthetic = "SYNTHpubsAAJ"
    fake_scholar.add_profile(synthetic, pubs=230, citations=5000)
    results = tmp_path / "results"
    assert main(["fetch", SID, synthetic, "--out", str(results), "--delay", "0"]) == 0
    assert main(["publish", str(results), "--repo", str(work)]) == 0
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", "-b", BRANCH, str(remote), str(fresh)], check=True,
                   capture_output=True)
    for scholar_id, npubs in ((SID, 12), (synthetic, 230)):
        local = json.loads((results / scholar_id / "gs_data.json").read_bytes())
        published = json.loads((fresh / scholar_id / "gs_data.json").read_bytes())
        assert published == local
        pubs = published["publications"]
        assert len(pubs) == npubs
        assert all(isinstance(p["num_citations"], int) for p in pubs.values())
        assert {k: p["num_citations"] for k, p in pubs.items()} == {
            k: p["num_citations"] for k, p in local["publications"].items()}
        rows = parse_history_csv((fresh / scholar_id / "history.csv").read_bytes())
        assert len(rows) == 1 and rows[0].values["citations"] == published["citedby"]
        assert rows[0].values["publications"] == npubs
    # a second run with nothing new on Scholar commits nothing
    assert main(["fetch", SID, synthetic, "--out", str(results), "--delay", "0"]) == 0
    head = sh(remote, "rev-parse", BRANCH)
    assert main(["publish", str(results), "--repo", str(work)]) == 0
    assert sh(remote, "rev-parse", BRANCH) == head


# ----------------------------------------------------------------------------- hostile input
# Issue 9, class 13: the branch moving under a push, in every way git reports it, over every
# transport; symlinks and other non-regular entries in the results folder; a repository or a
# remote that is not there; branch names git allows but that name something else.


def moved_away(remote: Path, message: str) -> str:
    """A commit on the branch's current head (or parentless) adding ``<message>.txt``, pushed
    to ``refs/other/<message>`` only, so a hook can move the branch to it later."""
    other = remote.parent / f"other-{message}"
    if not other.exists():
        subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True,
                       capture_output=True)
    base = sh(remote, "rev-parse", "--verify", "-q", BRANCH, check=False)
    if base:
        sh(other, "fetch", "-q", "origin", BRANCH)
        sh(other, "checkout", "-q", "--detach", base)
    else:
        sh(other, "checkout", "-q", "--orphan", f"o-{message}")
    (other / f"{message}.txt").write_text(message)
    sh(other, "add", f"{message}.txt")
    sh(other, "commit", "-q", "-m", message)
    sh(other, "push", "-q", "origin", f"HEAD:refs/other/{message}")
    return sh(other, "rev-parse", "HEAD")


def pre_receive(remote: Path, first: str, later: str = "") -> None:
    """A hook doing ``first`` during the first push only (``later`` during the others): the
    adversary that moves the branch after git advertised it and before the update."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nunset GIT_QUARANTINE_PATH\nif [ ! -e raced ]; then touch raced; "
                    f"{first or ':'}; else {later or ':'}; fi\n")
    hook.chmod(0o755)


@pytest.fixture(params=["path", "file", "http"])
def transport(request: pytest.FixtureRequest, tmp_path: Path, remote: Path,
              monkeypatch: pytest.MonkeyPatch) -> Any:
    """How publish reaches the bare remote: a path, a file:// URL, or smart HTTP with a token."""
    if request.param == "path":
        yield str(remote)
    elif request.param == "file":
        yield f"file://{remote}"
    else:
        from support.git_servers import git_http_server

        with git_http_server(tmp_path, token=TOKEN) as base:
            monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
            yield f"{base}/{remote.name}"


MOVES = ["fetch first", "non-fast-forward", "stale info", "moved during the push",
         "created during the push", "lock held during the push"]


@pytest.mark.parametrize("move", MOVES)
def test_every_way_the_branch_moves_is_retried(
    tmp_path: Path, work: Path, remote: Path, transport: str, move: str,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    """Each of git's answers for "the branch moved" (client side from the advertisement, server
    side from the ref transaction) is re-applied on the new head and pushed on attempt 2."""
    caplog.set_level("INFO", logger="scholar_stats.publish")
    if move != "created during the push":
        pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    survivor = "index.html" if move == "non-fast-forward" else "other.txt"
    expect = {"fetch first": "fetch first", "non-fast-forward": "non-fast-forward",
              "stale info": "stale info", "moved during the push": "but expected",
              "created during the push": "reference already exists",
              "lock held during the push": ".lock': File exists"}[move]
    ref = f"refs/heads/{BRANCH}"
    if move in ("moved during the push", "created during the push"):
        other = moved_away(remote, "other")
        pre_receive(remote, f"git update-ref {ref} {other}")
    elif move == "lock held during the push":
        survivor = ""
        pre_receive(remote, f"touch {ref}.lock", f"rm -f {ref}.lock")
    calls: list[int] = []

    def race(attempt: int) -> None:
        calls.append(attempt)
        if attempt > 1:
            return
        if move in ("fetch first", "stale info"):
            sh(remote, "update-ref", ref, moved_away(remote, "other"))
        elif move == "non-fast-forward":  # a commit publish already has: the site's main
            sh(remote, "update-ref", ref, sh(work, "rev-parse", "HEAD"))

    day2 = DAY1 + timedelta(days=1)
    before = snapshot(work)
    result = pub.publish(write_results(tmp_path / "r2", 150, day2), repo=work, now=day2,
                         remote=transport, squash=move == "stale info", before_push=race)
    assert result.pushed and calls == [1, 2]
    assert expect in caplog.text  # git really answered this way, and publish said so
    assert sh(remote, "rev-parse", BRANCH) == result.commit
    assert json.loads(branch_file(remote, "gs_data.json"))["citedby"] == 150
    if survivor:  # re-applied on the new head: what the other writer pushed is still there
        assert branch_file(remote, survivor)
    assert sh(remote, "rev-list", "--min-parents=2", BRANCH) == ""  # linear
    assert not list(remote.glob("refs/heads/*.lock"))
    assert snapshot(work) == before
    out, err = capsys.readouterr()
    assert TOKEN not in out + err + caplog.text


def race_hook(remote: Path, racers: int) -> None:
    """Hold every push in pre-receive until all ``racers`` have arrived (or 30 s passed), once:
    the first round then collides for sure, as runs started by one cron minute do."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nmkdir -p arrived\n[ -e released ] && exit 0\ntouch arrived/$$\ni=0\n"
        f'while [ "$(ls arrived | wc -l)" -lt {racers} ] && [ $i -lt 300 ]; do '
        "sleep 0.1; i=$((i+1)); done\ntouch released\n"
    )
    hook.chmod(0o755)


RACE_SECONDS = 60  # docs: retries stop after 60 s


def test_ten_racing_publish_processes_all_land(tmp_path: Path, work: Path, remote: Path) -> None:
    """10 real `scholar-stats publish` processes, each with its own author, on one remote."""
    racers = 10
    race_hook(remote, racers)
    ids = [f"RACE{i:02d}xxAAAJ" for i in range(racers)]
    for i, scholar_id in enumerate(ids):
        write_results(tmp_path / f"run{i}" / scholar_id, 100 + i, DAY1, scholar_id=scholar_id)
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "scholar_stats", "publish",
                               str(tmp_path / f"run{i}"), "--repo", str(work)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(racers)]
    outcomes = [(proc.wait(timeout=RACE_SECONDS + 60), *proc.communicate()) for proc in procs]
    took = time.monotonic() - started
    assert [code for code, _, _ in outcomes] == [0] * racers, outcomes
    assert len(list((remote / "arrived").iterdir())) >= racers  # they really collided
    assert took < RACE_SECONDS + 30, took
    log = sh(remote, "rev-list", "--parents", BRANCH).splitlines()
    assert len(log) == racers  # one commit per run, none lost
    assert [len(line.split()) for line in log] == [2] * (racers - 1) + [1]  # a line
    for i, scholar_id in enumerate(ids):
        assert json.loads(branch_file(remote, f"{scholar_id}/gs_data.json"))["citedby"] == 100 + i
        assert [value for _, value in history(remote, f"{scholar_id}/")] == [100 + i]


def test_a_branch_that_keeps_moving_stops_retrying_in_time(
    tmp_path: Path, work: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pub.publish(write_results(tmp_path / "r1", 100, DAY1), repo=work, now=DAY1)
    monkeypatch.setattr(pub, "RETRY_SECONDS", 2.0)

    def always(attempt: int) -> None:
        other_clone_pushes(tmp_path, remote, f"n{attempt}")

    day2 = DAY1 + timedelta(days=1)
    started = time.monotonic()
    with pytest.raises(PublishFailed) as info:
        pub.publish(write_results(tmp_path / "r2", 150, day2), repo=work, now=day2,
                    attempts=1000, before_push=always)
    took = time.monotonic() - started
    # docs: retries stop within their window (60 s; here 2 s), plus one last attempt on a
    # loaded machine
    assert took < 2.0 + 15, took
    message = str(info.value)
    assert re.search(r"after \d+ attempts in \d+ s", message) and "\n" not in message
    assert "moving" in message


def test_only_regular_files_are_published(tmp_path: Path, work: Path, remote: Path) -> None:
    """Symlinks (to a file or folder, outside or inside) and a FIFO are skipped with a warning
    naming each; nothing they point to reaches the branch, and the FIFO does not hang."""
    secret = "OUTSIDE-SECRET-7c1f"
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "private.key").write_text(secret)
    (outside / "folder" / "gs_data.json").write_text(json.dumps({"name": secret}))
    results = write_results(tmp_path / "results", 100, DAY1)
    (results / "stolen.key").symlink_to(outside / "private.key")
    (results / "shields" / "alias.json").symlink_to(results / "shields" / "citations.json")
    (results / "linked").symlink_to(outside / "folder", target_is_directory=True)
    (results / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(results / "pipe")
    proc = subprocess.run([sys.executable, "-m", "scholar_stats", "publish", str(results),
                           "--repo", str(work)], capture_output=True, text=True,
                          timeout=60)  # the FIFO does not hang it
    assert proc.returncode == 0, proc.stderr
    warnings = proc.stderr.splitlines()
    for name in ("stolen.key", "shields/alias.json", "linked", "dangling", "pipe"):
        assert sum(name in line and "warning" in line and "skipped" in line
                   for line in warnings) == 1, (name, warnings)
    assert len(warnings) == 5, warnings
    names = set(sh(remote, "ls-tree", "-r", "--name-only", BRANCH).splitlines())
    assert names == {*render_author_files(AuthorData(SID, gs_data(100), 2021)), "status.json",
                     "history.csv"}
    assert sh(remote, "ls-tree", "-r", BRANCH).count("100644 blob") == len(names)
    for name in names:
        assert secret not in branch_file(remote, name).decode()


@pytest.mark.parametrize("case", ["missing", "a file", "not a repository", "no such remote",
                                  "remote path is not a repository"])
def test_a_bad_repository_or_remote_is_named(
    tmp_path: Path, work: Path, remote: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = write_results(tmp_path / "r", 100, DAY1)
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "plain").mkdir()
    argv, expect = {
        "missing": (["--repo", str(tmp_path / "nonexistent")], "does not exist"),
        "a file": (["--repo", str(tmp_path / "plain.txt")], "not a folder"),
        "not a repository": (["--repo", str(tmp_path / "plain")], "not a git repository"),
        "no such remote": (["--repo", str(work), "--remote", "upstream"], "no remote named"),
        "remote path is not a repository": (["--repo", str(work), "--remote",
                                             str(tmp_path / "plain")], "not a git repository"),
    }[case]
    before = sh(remote, "for-each-ref")
    assert main(["publish", str(results), *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert expect in err and "branch" not in err, err
    assert sh(remote, "for-each-ref") == before


def test_a_foreign_json_file_nested_past_json_is_published_as_bytes(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    """A file beside the data that fetch did not write, nested deeper than ``json`` can read,
    is compared as bytes: published, and an unchanged run commits nothing."""
    nested = b"[" * 100_000 + b"]" * 100_000
    results = write_results(tmp_path / "r", 100, DAY1)
    (results / "notes.json").write_bytes(nested)
    assert pub.publish(results, repo=work, now=DAY1).pushed
    assert sh(remote, "show", f"{BRANCH}:notes.json").encode() == nested
    later = DAY1 + timedelta(hours=1)  # the same numbers: only volatile members differ
    results = write_results(tmp_path / "r", 100, later)
    assert not pub.publish(results, repo=work, now=later).pushed


@pytest.mark.parametrize("name", [
    "HEAD", "@", "refs/heads/x", "-x", "--force", "heads/x", "tags/v1", "remotes/origin/x",
    "FETCH_HEAD", "ORIG_HEAD", "0123456789abcdef0123456789abcdef01234567", "@{-1}", "a..b",
    "x.lock", "a b", "", "x/", "ma\nin",
])
def test_odd_branch_names_are_refused_before_anything_is_pushed(
    tmp_path: Path, work: Path, remote: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = write_results(tmp_path / "r", 100, DAY1)
    before = sh(remote, "for-each-ref")
    assert main(["publish", str(results), "--repo", str(work), f"--branch={name}"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "branch" in err, err
    assert sh(remote, "for-each-ref") == before  # no odd ref was created


@pytest.mark.parametrize("name", ["google-scholar-stats", "stats/scholar", "gh-pages-data", "é"])
def test_ordinary_branch_names_are_accepted(tmp_path: Path, work: Path, remote: Path,
                                            name: str) -> None:
    results = write_results(tmp_path / "r", 100, DAY1)
    assert pub.publish(results, repo=work, branch=name, now=DAY1).pushed
    refs = sh(remote, "for-each-ref", "--format=%(refname)", "refs/heads/").splitlines()
    assert refs == sorted({"refs/heads/main", f"refs/heads/{name}"})


def branch_with(remote: Path, tmp_path: Path, entries: list[str]) -> str:
    """Push a branch whose root tree is built by ``git mktree`` from ``entries`` (ls-tree lines
    with ``{blob}`` for a blob holding "x"), so it can hold what no checkout would write."""
    blob = subprocess.run(["git", "-C", str(remote), "hash-object", "-w", "--stdin"],
                          input=b"x", capture_output=True, check=True).stdout.decode().strip()
    listing = "".join(line.format(blob=blob) + "\n" for line in entries)
    tree = subprocess.run(["git", "-C", str(remote), "mktree"], input=listing.encode(),
                          capture_output=True, check=True).stdout.decode().strip()
    commit = subprocess.run(["git", "-C", str(remote), "commit-tree", tree, "-m", "odd"],
                            capture_output=True, check=True).stdout.decode().strip()
    sh(remote, "update-ref", f"refs/heads/{BRANCH}", commit)
    return commit


def test_entries_that_are_not_regular_files_stay_as_they_are(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    """A symlink, an executable and a submodule already on the branch keep mode and object."""
    gitlink = "0123456789abcdef0123456789abcdef01234567"
    branch_with(remote, tmp_path, ["120000 blob {blob}\tlink", "100755 blob {blob}\trun.sh",
                                   f"160000 commit {gitlink}\tsub", "100644 blob {blob}\tkeep.txt"])
    before = {line.split("\t")[1]: line.split("\t")[0]
              for line in sh(remote, "ls-tree", BRANCH).splitlines()}
    assert pub.publish(write_results(tmp_path / "r", 100, DAY1), repo=work, now=DAY1).pushed
    after = {line.split("\t")[1]: line.split("\t")[0]
             for line in sh(remote, "ls-tree", BRANCH).splitlines()}
    assert {path: after[path] for path in before} == before
    assert json.loads(branch_file(remote, "gs_data.json"))["citedby"] == 100


def test_branch_paths_that_leave_the_folder_are_never_read(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    """Tree entries named '..' or '.git' (git mktree makes them): the Action seeds its folder
    from read_branch, so such a path would write outside it, or into a git dir."""
    escaped = subprocess.run(["git", "-C", str(remote), "hash-object", "-w", "--stdin"],
                             input=b"escaped", capture_output=True, check=True).stdout.decode()
    inner = subprocess.run(["git", "-C", str(remote), "mktree"], capture_output=True, check=True,
                           input=f"100644 blob {escaped.strip()}\tescaped.txt\n".encode())
    tree = inner.stdout.decode().strip()
    branch_with(remote, tmp_path, [f"040000 tree {tree}\t..", f"040000 tree {tree}\t.git",
                                   f"040000 tree {tree}\tsub", "100644 blob {blob}\tok.txt"])
    files = pub.read_branch(work, remote="origin", branch=BRANCH)
    assert files == {"ok.txt": b"x", "sub/escaped.txt": b"escaped"}


def test_a_push_whose_answer_is_lost_counts_as_pushed(
    tmp_path: Path, work: Path, remote: Path
) -> None:
    """The server updates the branch, then dies before it reports (a reference-transaction
    hook kills receive-pack): git sees only a disconnect, yet the commit is on the branch."""
    hook = remote / "hooks" / "reference-transaction"
    hook.write_text('#!/bin/sh\n[ "$1" = committed ] && kill -9 $PPID\nexit 0\n')
    hook.chmod(0o755)
    result = pub.publish(write_results(tmp_path / "r", 100, DAY1), repo=work, now=DAY1)
    assert result.pushed and sh(remote, "rev-parse", BRANCH) == result.commit


@pytest.mark.parametrize("content", [b"garbage", b'{"citedby": 5}', b"[1]", b"\xff\xfe",
                                     b'{"citedby": "many", "citedby5y": 1, "hindex": 1}',
                                     b"[" * 100_000 + b"]" * 100_000,  # past json's recursion
                                     b'{"citedby": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"])
def test_a_damaged_gs_data_json_is_named_and_nothing_is_pushed(
    tmp_path: Path, work: Path, remote: Path, content: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = write_results(tmp_path / "r", 100, DAY1)
    (results / "gs_data.json").write_bytes(content)
    before = sh(remote, "for-each-ref")
    assert main(["publish", str(results), "--repo", str(work)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "gs_data.json" in err, err
    assert "internal error" not in err
    assert sh(remote, "for-each-ref") == before
