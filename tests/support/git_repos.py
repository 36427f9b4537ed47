"""Real git repositories for the publish tests: a bare repository as the remote, a clone with
local changes as the working repository, and git run with no user or system config.

``git_env`` is autouse: a test module that imports it gets it for every test (with
``# noqa: F401`` on the import, as pytest finds fixtures by name)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.fake_scholar import REAL_ID

SID = REAL_ID  # a real saved page, so a fetch before publishing finds it
BRANCH = "google-scholar-stats"
TOKEN = "ghp_FAKEtoken0123456789abcdefABCDEF012345"


def sh(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=False, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args} failed: {proc.stderr}")
    return proc.stdout.strip()


@pytest.fixture(autouse=True)
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config, a fixed identity, no token unless a test sets one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    for key in list(os.environ):
        if key.startswith("GIT_CONFIG_") and key not in ("GIT_CONFIG_NOSYSTEM",):
            monkeypatch.delenv(key)
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test Bot")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "bot@example.invalid")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    for key in ("BRANCH", "REMOTE", "REPO", "MESSAGE", "SQUASH"):
        monkeypatch.delenv(f"SCHOLAR_STATS_{key}", raising=False)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


@pytest.fixture
def work(tmp_path: Path, remote: Path) -> Path:
    """A clone with a commit on main, a tracked file and an uncommitted change."""
    path = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True,
                   capture_output=True)
    (path / "index.html").write_text("<html></html>\n")
    sh(path, "add", "index.html")
    sh(path, "commit", "-q", "-m", "site")
    sh(path, "push", "-q", "origin", "HEAD:refs/heads/main")
    (path / "index.html").write_text("<html>edited</html>\n")  # a dirty working tree
    (path / "staged.txt").write_text("staged\n")
    sh(path, "add", "staged.txt")
    return path


def snapshot(repo: Path) -> dict[str, Any]:
    """Everything publish promises not to touch (read without refreshing the index)."""
    git_dir = repo / ".git"
    return {
        "index": (git_dir / "index").read_bytes(),
        "config": (git_dir / "config").read_bytes(),
        "HEAD": sh(repo, "rev-parse", "HEAD"),
        "symbolic": sh(repo, "symbolic-ref", "HEAD"),
        "status": sh(repo, "status", "--porcelain"),
        "refs": sh(repo, "for-each-ref"),
        "objects": sh(repo, "count-objects", "-v"),
        "files": sorted(str(p.relative_to(git_dir)) for p in git_dir.rglob("*")),
        "worktree": {p.name: p.read_bytes() for p in repo.iterdir() if p.is_file()},
    }
