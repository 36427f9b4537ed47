"""The action's Python step against the fake Scholar and a real bare remote."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from support.git_repos import BRANCH, SID, TOKEN, git_env, remote, sh, snapshot, work  # noqa: F401
from support.github_action import action_env, step_script

from scholar_stats.commands.action import annotation, parse_ids, run_action
from scholar_stats.core.model import FetchStatus, Metrics
from scholar_stats.core.text import log_safe
from scholar_stats.outputs.summary import AuthorReport, render_summary
from scholar_stats.sources.registry import noted_titles


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
    text = render_summary([AuthorReport(SID, "Ada | Example", old, new, None)], "published x",
                          noted_titles())
    assert "104 (+4)" in text and "| 5 |" in text and "11 (+1)" in text
    assert "Ada \\| Example" in text and text.endswith("**Outcome:** published x\n")


# ----------------------------------------------------------------------------- hostile input
# Issue 9, class 14: Scholar ids may start with '-'; scraped text (a profile name) must never
# become a GitHub workflow command in the job log.

DASH_ID = "-SYNTHdashAJ"
EVIL_ID = "EVILnameAAAJ"
INJECTED = ("Ada Lovelace\n::warning::injected\n::add-mask::Lovelace\r::error title=t::e\n"
            "  ::set-output name=published::false\n\u200b::notice::zw ##[add-mask]Ada \u2028"
            "::debug::d ##[warning]w")
# Every command GitHub's runner knows (actions/runner, ActionCommandManager and its extensions).
RUNNER_COMMANDS = {"add-mask", "add-matcher", "remove-matcher", "debug", "notice", "warning",
                   "error", "group", "endgroup", "echo", "set-output", "set-env", "add-path",
                   "save-state", "stop-commands"}
OWN_COMMAND = re.compile(
    r"::(stop-commands::[0-9a-f]{32}|[0-9a-f]{32}::|(warning|error|notice) title=[^:]*::.*)")


def _visible(line: str) -> str:
    """The line as the runner may match it: format characters (zero-width space, soft hyphen,
    ...) can be ignored by .NET's culture-sensitive string search, so they are dropped."""
    return "".join(char for char in line if unicodedata.category(char) != "Cf")


def runner_commands(lines: Iterable[str], honour_stop: bool = True) -> list[tuple[str, str]]:
    """(command, data) for each line GitHub's runner would act on, as its ActionCommandManager
    parses them: ``::name ...::data`` at the start after leading whitespace (v2), or
    ``##[name ...]data`` anywhere (v1); after ``::stop-commands::T`` only ``::T::`` counts.
    With ``honour_stop=False`` the pause is ignored, to check the escaping on its own."""
    acted: list[tuple[str, str]] = []
    token: str | None = None
    for line in map(_visible, lines):
        known = RUNNER_COMMANDS | ({token} if token else set())
        found = None
        text = line.lstrip()
        end = text.find("::", 2)
        if text.startswith("::") and end > 0:
            found = text[2:end].split(" ")[0].lower(), text[end + 2:]
        elif "##[" in line and "]" in line[line.find("##["):]:
            start = line.find("##[")
            close = line.find("]", start)
            found = line[start + 3 : close].split(" ")[0].lower(), line[close + 1:]
        if found is None or found[0] not in known:
            continue
        if token is not None:
            if found[0] == token:
                acted.append(("resume", "")) if honour_stop else None
                token = None
            continue
        acted.append(found)
        if found[0] == "stop-commands" and honour_stop:
            token = found[1].lower()
    return acted


def test_an_id_starting_with_a_dash_is_fetched_and_published(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any,
) -> None:
    fake_scholar.add_profile(DASH_ID, pubs=30, citations=321)
    for ids, path in ((DASH_ID, "gs_data.json"), (f"{SID}, {DASH_ID}", f"{DASH_ID}/gs_data.json")):
        assert run_action(action_env(tmp_path, work, SCHOLAR_IDS=ids)) == 0
        published = json.loads(subprocess.run(
            ["git", "-C", str(remote), "show", f"{BRANCH}:{path}"], capture_output=True,
            check=True).stdout)
        assert (published["scholar_id"], published["citedby"]) == (DASH_ID, 321)
    # and an "id" that is an option is an id, refused as malformed: no option injection
    elsewhere = tmp_path / "elsewhere"
    assert run_action(action_env(tmp_path, work, SCHOLAR_IDS=f"--out={elsewhere}")) == 2
    assert not elsewhere.exists()


def test_scraped_text_never_becomes_a_workflow_command(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any,
) -> None:
    """The action's step, run as the runner runs it, fetching a profile whose name carries
    workflow commands: the job log holds only the action's own commands."""
    fake_scholar.add_profile(EVIL_ID, pubs=3, citations=50, name=INJECTED)
    env = action_env(tmp_path, work, SCHOLAR_IDS=f"{EVIL_ID} {SID}")
    (tmp_path / "runner" / "scholar-stats-venv").symlink_to(sys.prefix, target_is_directory=True)
    proc = subprocess.run(["bash", "-e", "-c", step_script()], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines() + proc.stderr.splitlines()
    commands = [line for line in lines if _visible(line).lstrip().startswith("::")]
    assert all(OWN_COMMAND.fullmatch(line) for line in commands), commands
    assert [name for name, _ in runner_commands(lines)] == ["stop-commands", "resume"]
    assert {name for name, _ in runner_commands(lines, honour_stop=False)} == {"stop-commands"}
    assert any("Ada Lovelace" in line and EVIL_ID in line for line in lines)  # still shown
    published = json.loads(subprocess.run(
        ["git", "-C", str(remote), "show", f"{BRANCH}:{EVIL_ID}/gs_data.json"],
        capture_output=True, check=True).stdout)
    assert published["name"].startswith("Ada Lovelace\n::warning::")  # the data stays verbatim
    assert TOKEN not in proc.stdout + proc.stderr


def test_log_safe_leaves_no_command_and_no_line_break() -> None:
    for text in (INJECTED, "::warning::x", "  ::error::x", "\u200b::x::y", "a ##[add-mask]b",
                 "a\x1b[31mred", "x\x85y"):
        line = log_safe(text)
        assert len(line.splitlines()) == 1 and runner_commands([line]) == [], (text, line)
        assert not _visible(line).lstrip().startswith("::") and "##[" not in _visible(line)
    assert log_safe("Ada Lovelace (ETH Zürich), 12% done") == "Ada Lovelace (ETH Zürich), 12% done"
    assert log_safe("a\nb") == "a\\nb"


def test_summary_and_annotations_carry_no_line_break() -> None:
    status = FetchStatus(SID, "blocked", 3, "blocked\n::warning::x", "t", None, requests=1)
    text = render_summary([AuthorReport(SID, INJECTED, None, None, status)], "x\n::error::y",
                          noted_titles())
    assert not any(_visible(line).lstrip().startswith("::") for line in text.splitlines())
    line = annotation("warning", "t", INJECTED)  # one command; the name is its escaped data
    assert "\n" not in line and [name for name, _ in runner_commands([line])] == ["warning"]


def test_a_malformed_id_on_a_first_run_fails_with_a_summary(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing to publish at all (no branch yet, fetch wrote nothing): exit 2, the summary and
    an error annotation, and commands are on again at the end."""
    assert run_action(action_env(tmp_path, work, SCHOLAR_IDS="not-an-id")) == 2
    assert "**Outcome:** publish failed" in (tmp_path / "summary.md").read_text()
    lines = capsys.readouterr().out.splitlines()
    assert [name for name, _ in runner_commands(lines)][:2] == ["stop-commands", "resume"]
    assert any(line.startswith("::error title=scholar-stats publish::") for line in lines)
