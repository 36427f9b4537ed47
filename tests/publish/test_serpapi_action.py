"""The fallback end to end through the Action's step: Scholar blocks the runner, SerpApi (the
serpapi-key input) fills in, the branch gets SerpApi's numbers with their provenance, and the
month's count survives on the branch for the next daily run. The key is nowhere on the branch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from support.git_repos import BRANCH, SID, TOKEN, remote, sh, work  # noqa: F401
from support.github_action import ACTION, action_env, step_script


def branch_file(remote: Path, path: str) -> Any:
    return json.loads(subprocess.run(["git", "-C", str(remote), "show", f"{BRANCH}:{path}"],
                                     capture_output=True, check=True).stdout)


def test_action_inputs_map_to_the_variables() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["inputs"]["source"]["default"] == "auto"
    assert action["inputs"]["serpapi-key"]["default"] == ""
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "run"]
    assert step["env"]["SERPAPI_API_KEY"] == "${{ inputs.serpapi-key }}"
    assert step["env"]["SCHOLAR_STATS_SOURCE"] == "${{ inputs.source }}"


def test_blocked_runner_falls_back_to_serpapi_through_the_action_step(
    tmp_path: Path, work: Path, remote: Path, fake_scholar: Any, fake_serpapi: Any,
) -> None:
    fake_serpapi.add_profile(SID, pubs=12, citations=70)
    fake_scholar.mode = "403"
    env = action_env(tmp_path, work, SCHOLAR_STATS_SOURCE="auto",
                     SERPAPI_API_KEY=fake_serpapi.key)
    (tmp_path / "runner" / "scholar-stats-venv").symlink_to(sys.prefix, target_is_directory=True)
    proc = subprocess.run(["bash", "-e", "-c", step_script()], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (len(fake_scholar.requests), len(fake_serpapi.requests)) == (1, 1)
    assert branch_file(remote, "gs_data.json")["citedby"] == 70
    st = branch_file(remote, "status.json")
    assert st["source"] == "serpapi" and st["serpapi_searches"]["count"] == 1
    assert "(from SerpApi)" in (tmp_path / "summary.md").read_text()
    # the next day's run reads the count back from the branch
    proc = subprocess.run(["bash", "-e", "-c", step_script()], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert branch_file(remote, "status.json")["serpapi_searches"]["count"] == 2
    # the key is in no output, no commit, no file of the branch
    history = sh(remote, "log", "-p", "--all", "--format=%B")
    for text in (proc.stdout, proc.stderr, history):
        assert fake_serpapi.key not in text and TOKEN not in text
    found = subprocess.run(["git", "-C", str(remote), "grep", "-F", fake_serpapi.key, BRANCH],
                           capture_output=True, check=False)
    assert found.returncode == 1 and not found.stdout  # 1: no match in any file of the branch
