"""The Action's `notify-webhook` input (SCHOLAR_STATS_NOTIFY): the folder is seeded from the
branch, so the day's changes are found against what was published, and the webhook hears of
them once; the URL is never in the job log."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.git_repos import BRANCH, SID, git_env, remote, work  # noqa: F401
from support.github_action import action_env
from support.webhook_receiver import running_receiver

from scholar_stats.commands.action import run_action


def test_the_action_notifies_of_changes_against_the_branch(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_receiver() as receiver:
        url = receiver.url()
        monkeypatch.setenv("SCHOLAR_STATS_NOTIFY", url)  # what action.yml's env: maps it to
        assert run_action(action_env(tmp_path, work, SCHOLAR_STATS_NOTIFY=url)) == 0
        assert receiver.posts == []  # the first run has nothing to compare with
        fake_scholar.doctor = lambda _user, html: html.replace(
            '<td class="gsc_rsb_std">56</td>', '<td class="gsc_rsb_std">60</td>', 1)
        assert run_action(action_env(tmp_path, work, SCHOLAR_STATS_NOTIFY=url)) == 0
        assert run_action(action_env(tmp_path, work, SCHOLAR_STATS_NOTIFY=url)) == 0
    assert [post.body["events"][0]["new"] for post in receiver.posts] == [60]
    branch = subprocess.run(["git", "-C", str(remote), "show", f"{BRANCH}:changes.json"],
                            capture_output=True, check=True).stdout
    events = json.loads(branch)["events"]
    assert [(e["metric"], e["old"], e["new"]) for e in events] == [("citations", 56, 60)]
    out = capsys.readouterr()
    assert "secret-token-path" not in out.out + out.err
