"""The Action's ``theme`` and ``deploy-workflow`` inputs: the site's data files written into the
workspace from the fetched results, committed to the checked-out branch only when they changed,
and the deploy workflow started through a fake GitHub API on loopback. Real git: a bare remote
and a clone of a site on ``main`` with local changes the commit must leave out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.fake_github import FakeGitHub, running_fake_github
from support.git_repos import BRANCH, SID, TOKEN, git_env, remote, sh  # noqa: F401
from support.github_action import action_env, step_script

from scholar_stats.commands.action import run_action
from scholar_stats.outputs.themes import THEMES

SITE_BRANCH = "main"
REPOSITORY = "ada/ada.github.io"


def file_stamps(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file of the site outside .git: (inode, size, mtime); a rewrite changes it."""
    return {path.relative_to(root).as_posix(): (path.stat().st_ino, path.stat().st_size,
                                                  path.stat().st_mtime_ns)
            for path in root.rglob("*") if path.is_file() and ".git" not in path.parts}


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with running_fake_github() as fake:
        yield fake


@pytest.fixture
def site(tmp_path: Path, remote: Path) -> Path:
    """A clone of a Jekyll/Hugo site on ``main``, pushed, with an edited and a staged file."""
    path = tmp_path / "site"
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True,
                   capture_output=True)
    sh(path, "checkout", "-q", "-b", SITE_BRANCH)
    (path / "_config.yml").write_text("title: Ada\n")
    (path / "index.md").write_text("# Ada\n")
    sh(path, "add", "_config.yml", "index.md")
    sh(path, "commit", "-q", "-m", "site")
    sh(path, "push", "-q", "origin", f"HEAD:refs/heads/{SITE_BRANCH}")
    (path / "index.md").write_text("# Ada, edited\n")  # the job's own changes: never committed
    (path / "draft.md").write_text("draft\n")
    sh(path, "add", "draft.md")
    return path


def env_for(tmp_path: Path, site: Path, github: FakeGitHub, **extra: str) -> dict[str, str]:
    runner = {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPOSITORY,
              "GITHUB_REF": f"refs/heads/{SITE_BRANCH}"}
    return action_env(tmp_path, site, **{**runner, **extra})


def outputs(tmp_path: Path) -> dict[str, str]:
    """The step's outputs, the last value of each (the file is appended to by every run)."""
    lines = (tmp_path / "output.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def tree(remote: Path, ref: str) -> set[str]:
    return set(sh(remote, "ls-tree", "-r", "--name-only", ref).splitlines())


def commits(remote: Path, ref: str = SITE_BRANCH) -> list[str]:
    return sh(remote, "rev-list", ref).splitlines()


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_changed_data_is_one_commit_and_one_dispatch_then_nothing(
    theme: str, tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_THEME=theme,
                  SCHOLAR_STATS_DEPLOY_WORKFLOW="deploy.yml")
    before = commits(remote)
    assert run_action(env) == 0
    written = {file.path for file in THEMES[theme].files}
    assert all((site / path).is_file() for path in written)
    new = commits(remote)
    assert len(new) == len(before) + 1 and new[1:] == before  # one commit, on top of main
    assert tree(remote, SITE_BRANCH) == {"_config.yml", "index.md", *written}
    assert sh(remote, "show", f"{SITE_BRANCH}:index.md") == "# Ada"  # local edits left out
    for path in written:  # the bytes committed are the bytes written
        assert sh(remote, "show", f"{SITE_BRANCH}:{path}") == (site / path).read_text().strip()
    assert sh(site, "status", "--porcelain", "--", "draft.md") == "A  draft.md"
    assert "gs_data.json" in tree(remote, BRANCH)  # the data branch as ever
    assert outputs(tmp_path)["site-committed"] == "true"
    assert outputs(tmp_path)["deploy-started"] == "true"
    (request,) = github.requests
    assert request.path == f"/repos/{REPOSITORY}/actions/workflows/deploy.yml/dispatches"
    assert request.body == {"ref": SITE_BRANCH}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    summary = (tmp_path / "summary.md").read_text()
    assert f"the site's data committed to {SITE_BRANCH}" in summary
    assert "deploy.yml started" in summary

    # the next day, the same numbers: no commit, no dispatch, not a byte of the site rewritten
    stamps = file_stamps(site)
    assert run_action(env) == 0
    assert commits(remote) == new and len(github.requests) == 1
    assert file_stamps(site) == stamps
    assert outputs(tmp_path)["site-committed"] == "false"
    assert outputs(tmp_path)["deploy-started"] == "false"
    assert "the site's data unchanged" in (tmp_path / "summary.md").read_text()
    out, err = capfd.readouterr()
    assert TOKEN not in out + err


def test_new_numbers_are_a_new_commit_and_dispatch(
    tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
) -> None:
    fake_scholar.add_profile("SYNTHprofAAJ", pubs=5, citations=100)
    env = env_for(tmp_path, site, github, SCHOLAR_IDS="SYNTHprofAAJ", SCHOLAR_STATS_THEME="hugo",
                  SCHOLAR_STATS_DEPLOY_WORKFLOW=".github/workflows/hugo.yaml")
    assert run_action(env) == 0
    first = commits(remote)
    fake_scholar.add_profile("SYNTHprofAAJ", pubs=5, citations=104)
    assert run_action(env) == 0
    assert len(commits(remote)) == len(first) + 1
    data = yaml.safe_load(sh(remote, "show", f"{SITE_BRANCH}:data/scholar_stats.yaml"))
    assert "104" in json.dumps(data)
    assert [r.path.rsplit("/", 2)[-2] for r in github.requests] == ["hugo.yaml", "hugo.yaml"]


def test_a_refused_dispatch_is_one_error_line_and_exit_8_with_the_data_committed(
    tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    github.status = 403
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_THEME="al-folio",
                  SCHOLAR_STATS_DEPLOY_WORKFLOW="deploy.yml")
    before = commits(remote)
    assert run_action(env) == 8
    out, err = capfd.readouterr()
    (line,) = [line for line in out.splitlines() if line.startswith("::error")]
    assert line == ("::error title=scholar-stats deploy::could not start the workflow deploy.yml "
                    "on main: GitHub answered 403 (Resource not accessible by integration); "
                    "give the job `permissions: actions: write` (and `contents: write`)")
    assert len(commits(remote)) == len(before) + 1  # the data are on the branch all the same
    assert "_data/citations.yml" in tree(remote, SITE_BRANCH)
    assert outputs(tmp_path)["deploy-started"] == "false"
    assert outputs(tmp_path)["site-committed"] == "true"
    assert TOKEN not in out + err
    assert len(github.requests) == 1  # no retry


@pytest.mark.parametrize("status,remedy", [
    (404, "no such workflow in this repository"),
    (422, "add `workflow_dispatch:` to its `on:`"),
    (500, "run it again"),
])
def test_each_refusal_says_what_to_fix(
    status: int, remedy: str, tmp_path: Path, site: Path, github: FakeGitHub, fake_scholar: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    github.status, github.message = status, f"say {TOKEN}"  # GitHub's words are shown, masked
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_THEME="jekyll",
                  SCHOLAR_STATS_DEPLOY_WORKFLOW="deploy.yml")
    assert run_action(env) == 8
    out, err = capfd.readouterr()
    assert f"GitHub answered {status} (say ***); " in out and remedy in out
    assert TOKEN not in out + err


def test_an_unreachable_api_is_one_line_too(
    tmp_path: Path, site: Path, github: FakeGitHub, fake_scholar: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_THEME="jekyll",
                  SCHOLAR_STATS_DEPLOY_WORKFLOW="deploy.yml", GITHUB_API_URL="http://127.0.0.1:9")
    assert run_action(env) == 8
    out, _err = capfd.readouterr()
    assert ("could not start the workflow deploy.yml: GitHub's API at http://127.0.0.1:9 could "
            "not be reached (ConnectError)") in out


def test_without_a_deploy_workflow_it_commits_and_dispatches_nothing(
    tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
) -> None:
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_THEME="jekyll")
    assert run_action(env) == 0
    assert "_data/scholar_stats.yml" in tree(remote, SITE_BRANCH)
    assert github.requests == [] and outputs(tmp_path)["deploy-started"] == "false"


def test_acadhomepage_writes_no_site_file_and_starts_nothing(
    tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The default theme is today's Action: the data branch and nothing else."""
    before, stamps = commits(remote), file_stamps(site)
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_DEPLOY_WORKFLOW="deploy.yml")
    assert run_action(env) == 0
    assert commits(remote) == before and file_stamps(site) == stamps
    assert github.requests == [] and "gs_data.json" in tree(remote, BRANCH)
    assert outputs(tmp_path)["site-committed"] == "false"
    warning = "::warning title=scholar-stats::deploy-workflow is for the themes"
    assert warning in capsys.readouterr().out


def test_a_file_the_user_wrote_is_never_overwritten(
    tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    (site / "_includes").mkdir()
    (site / "_includes" / "scholar-stats.html").write_text("mine\n")
    before = commits(remote)
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_THEME="jekyll",
                  SCHOLAR_STATS_DEPLOY_WORKFLOW="deploy.yml")
    assert run_action(env) == 2
    out, err = capfd.readouterr()
    assert "_includes/scholar-stats.html was not written by scholar-stats" in out + err
    assert ("::error title=scholar-stats site::writing the jekyll site's data failed: "
            f"{site}/_includes/scholar-stats.html was not written by scholar-stats") in out
    assert (site / "_includes" / "scholar-stats.html").read_text() == "mine\n"
    assert not (site / "_data").exists()  # all or nothing
    assert commits(remote) == before and github.requests == []
    assert "gs_data.json" in tree(remote, BRANCH)  # the data branch was still published


def test_a_detached_head_takes_the_branch_of_github_ref_or_is_an_error(
    tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sh(site, "checkout", "-q", "--detach")
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_THEME="jekyll")
    assert run_action(env) == 0
    assert "_data/scholar_stats.yml" in tree(remote, SITE_BRANCH)
    before = commits(remote)
    (site / "_data" / "scholar_stats.yml").unlink()  # so that there is something to commit
    assert run_action({**env, "GITHUB_REF": "refs/pull/7/merge"}) == 2
    assert "commits to the checked-out branch, and none is" in capfd.readouterr().out
    assert commits(remote) == before


def test_a_bad_theme_or_workflow_input_is_a_usage_error(
    tmp_path: Path, site: Path, github: FakeGitHub, capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_action(env_for(tmp_path, site, github, SCHOLAR_STATS_THEME="wordpress")) == 2
    assert "SCHOLAR_STATS_THEME: expected one of acadhomepage, al-folio" in capsys.readouterr().out
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_DEPLOY_WORKFLOW="../../x.yml")
    assert run_action(env) == 2
    assert "SCHOLAR_STATS_DEPLOY_WORKFLOW: expected the file name" in capsys.readouterr().out
    assert github.requests == []


def test_the_step_as_the_runner_runs_it(
    tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
) -> None:
    """action.yml's own step script, with the inputs in the variables action.yml maps them to."""
    action = yaml.safe_load((Path(__file__).parents[2] / "action.yml").read_text())
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "run"]
    assert step["env"]["SCHOLAR_STATS_THEME"] == "${{ inputs.theme }}"
    assert step["env"]["SCHOLAR_STATS_DEPLOY_WORKFLOW"] == "${{ inputs.deploy-workflow }}"
    assert action["inputs"]["theme"]["default"] == "acadhomepage"
    env = env_for(tmp_path, site, github, SCHOLAR_STATS_THEME="al-folio",
                  SCHOLAR_STATS_DEPLOY_WORKFLOW="deploy.yml")
    (tmp_path / "runner" / "scholar-stats-venv").symlink_to(sys.prefix, target_is_directory=True)
    proc = subprocess.run(["bash", "-e", "-c", step_script()], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "_data/citations.yml" in tree(remote, SITE_BRANCH)
    assert len(github.requests) == 1
    assert TOKEN not in proc.stdout + proc.stderr


def test_an_author_without_data_yet_is_left_off_the_site_not_the_others(
    tmp_path: Path, site: Path, remote: Path, github: FakeGitHub, fake_scholar: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Several ids, one of which has no data (here: unknown, exit 4): the site gets the others,
    and the job ends with the fetch's code as ever."""
    missing = "NOSUCHidAAAJ"
    env = env_for(tmp_path, site, github, SCHOLAR_IDS=f"{SID} {missing}",
                  SCHOLAR_STATS_THEME="jekyll", SCHOLAR_STATS_DEPLOY_WORKFLOW="deploy.yml")
    assert run_action(env) == 4
    data = yaml.safe_load(sh(remote, "show", f"{SITE_BRANCH}:_data/scholar_stats.yml"))
    assert set(data["authors"]) == {SID}
    assert f"no data of {missing} yet" in capsys.readouterr().out
    assert len(github.requests) == 1
