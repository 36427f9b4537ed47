"""The GitHub Action in a test: its ``action.yml``, the step that runs scholar-stats as the runner
gets it, and the runner's environment around ``run_action``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from support.git_repos import SID, TOKEN
from support.paths import ROOT

ACTION = ROOT / "action.yml"


def action_env(tmp_path: Path, work: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "runner").mkdir(exist_ok=True)
    return {**os.environ, "SCHOLAR_IDS": SID, "GITHUB_WORKSPACE": str(work),
            "RUNNER_TEMP": str(tmp_path / "runner"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"), "GITHUB_TOKEN": TOKEN, **extra}


def load_action() -> dict[str, Any]:
    data = yaml.safe_load(ACTION.read_text())
    assert isinstance(data, dict)
    return data


def step_script() -> str:
    """The `run:` of action.yml's step that runs scholar-stats, exactly as the runner gets it."""
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    (step,) = [step for step in steps if step.get("id") == "run"]
    return step["run"]
