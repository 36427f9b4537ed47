"""The action's Python step against the fake Scholar and a real bare remote."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scholar_stats.action import annotation, parse_ids, run_action
from scholar_stats.model import Metrics
from scholar_stats.summary import AuthorReport, render_summary

from test_publish import BRANCH, SID, TOKEN, git_env, remote, sh, snapshot, work  # noqa: F401


def action_env(tmp_path: Path, work: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "runner").mkdir(exist_ok=True)
    return {**os.environ, "SCHOLAR_IDS": SID, "GITHUB_WORKSPACE": str(work),
            "RUNNER_TEMP": str(tmp_path / "runner"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"), "GITHUB_TOKEN": TOKEN, **extra}


def test_ok_run_publishes_and_summarises(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = snapshot(work)
    assert run_action(action_env(tmp_path, work)) == 0
    published = json.loads(subprocess.run(["git", "-C", str(remote), "show",
                                           f"{BRANCH}:gs_data.json"], capture_output=True,
                                          check=True).stdout)
    summary = (tmp_path / "summary.md").read_text()
    assert f"`{SID}`" in summary and f"{published['citedby']:,}" in summary
    assert "**Outcome:** published" in summary
    assert "published=true" in (tmp_path / "output.txt").read_text()
    assert snapshot(work) == before
    # Scholar blocks the next run: previous data kept, a warning, the job does not fail
    fake_scholar.mode = "403"
    head = sh(remote, "rev-parse", BRANCH)
    assert run_action(action_env(tmp_path, work)) == 0
    out = capsys.readouterr().out
    assert "::warning title=Scholar blocked the fetch::" in out and TOKEN not in out
    assert sh(remote, "rev-parse", BRANCH) == head  # only status changed: no commit
    summary = (tmp_path / "summary.md").read_text()
    assert "blocked: previous data kept" in summary and f"{published['citedby']:,}" in summary
    assert run_action(action_env(tmp_path, work, FAIL_ON_BLOCK="true")) == 3


def test_missing_id_is_an_error(tmp_path: Path, work: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run_action(action_env(tmp_path, work, SCHOLAR_IDS=" ")) == 2
    assert capsys.readouterr().out.startswith("::error ")


def test_annotation_cannot_be_injected() -> None:
    line = annotation("warning", "a:b,c", "50%\n::error::pwned")
    assert line == "::warning title=a%3Ab%2Cc::50%25%0A::error::pwned"
    assert "\n" not in line


def test_parse_ids() -> None:
    assert parse_ids(" a, b\nc ") == ["a", "b", "c"]


def test_summary_shows_changes() -> None:
    old = Metrics(100, 90, 5, 4, 3, 2, 10)
    new = Metrics(104, 93, 5, 4, 3, 2, 11)
    text = render_summary([AuthorReport(SID, "Ada | Example", old, new, None)], "published x")
    assert "104 (+4)" in text and "| 5 |" in text and "11 (+1)" in text
    assert "Ada \\| Example" in text and text.endswith("**Outcome:** published x\n")
