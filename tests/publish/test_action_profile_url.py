"""The Action's `scholar-id` input takes profile URLs too (``commands/action.py`` hands its
entries to fetch): the branch gets folders and files named by the ids, and a URL that is not a
profile's is exit 2 without a request, its secrets shown nowhere."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.git_repos import BRANCH, SID, git_env, remote, sh, work  # noqa: F401
from support.github_action import action_env

from scholar_stats.commands.action import run_action

OTHER = "SYNTH_act__J"
SID_URL = f"https://scholar.google.com/citations?user={SID}&hl=en"
OTHER_URL = f"https://scholar.google.com.hk/citations?hl=zh-TW&user={OTHER}&oi=ao"


def on_branch(remote: Path, path: str) -> dict[str, Any]:
    return json.loads(subprocess.run(["git", "-C", str(remote), "show", f"{BRANCH}:{path}"],
                                     capture_output=True, check=True).stdout)


def test_one_profile_url_is_published_as_its_id(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any,
) -> None:
    assert run_action(action_env(tmp_path, work, SCHOLAR_IDS=f"  {SID_URL}\n")) == 0
    assert on_branch(remote, "gs_data.json")["scholar_id"] == SID
    assert on_branch(remote, "status.json")["scholar_id"] == SID
    assert f"`{SID}`" in (tmp_path / "summary.md").read_text()


def test_urls_and_ids_mixed_get_one_folder_per_author(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any,
) -> None:
    fake_scholar.add_profile(OTHER, pubs=4, citations=44)
    ids = f"{SID_URL},\n{OTHER_URL} {SID}"
    assert run_action(action_env(tmp_path, work, SCHOLAR_IDS=ids)) == 0
    files = sh(remote, "ls-tree", "-r", "--name-only", BRANCH).splitlines()
    assert {name.split("/")[0] for name in files if "/" in name} == {SID, OTHER}
    assert on_branch(remote, f"{OTHER}/status.json")["scholar_id"] == OTHER
    assert on_branch(remote, f"{OTHER}/gs_data.json")["citedby"] == 44


SECRET = "hunter2hunter2"


@pytest.mark.parametrize("hostile", [
    f"https://scholar.google.com.evil.example/citations?user={SID}",
    f"https://x:{SECRET}@scholar.google.com/citations?user={SID}",
    f"https://scholar.google.com/citations?hl=en&key={SECRET}",
])
def test_a_url_that_is_no_profile_fails_the_fetch_without_a_request(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any,
    capsys: pytest.CaptureFixture[str], hostile: str,
) -> None:
    assert run_action(action_env(tmp_path, work, SCHOLAR_IDS=f"{SID} {hostile}")) == 2
    captured = capsys.readouterr()
    assert "not a Google Scholar id or profile URL" in captured.err
    assert fake_scholar.requests == []
    everything = captured.out + captured.err + (tmp_path / "summary.md").read_text() \
        + (tmp_path / "output.txt").read_text()
    assert SECRET not in everything
