"""The ready workflows of docs/workflows/, one per theme: each passes actionlint as a workflow
that uses this action (as ``./``, so actionlint reads action.yml's inputs and refuses one it does
not have), names its own theme, and asks for exactly the permissions its job needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from project import test_actions_lint as lint
from support.github_action import ACTION, load_action
from support.paths import ROOT

from scholar_stats import config

WORKFLOWS = ROOT / "docs" / "workflows"
OWN = "scholar-stats/scholar-stats@v1"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def own_step(workflow: dict[str, Any]) -> dict[str, Any]:
    (job,) = workflow["jobs"].values()
    (step,) = [step for step in job["steps"] if step.get("uses") == OWN]
    return step


def test_there_is_a_workflow_per_theme() -> None:
    assert {path.stem for path in WORKFLOWS.glob("*.yml")} == set(config.ACTION_THEMES)


@pytest.mark.parametrize("theme", config.ACTION_THEMES)
def test_the_workflow_sets_its_theme_and_only_the_permissions_it_needs(theme: str) -> None:
    workflow = load(WORKFLOWS / f"{theme}.yml")
    inputs = own_step(workflow)["with"]
    assert inputs["theme"] == theme
    assert set(inputs) <= set(load_action()["inputs"])
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    dispatches = bool(inputs.get("deploy-workflow"))
    assert dispatches == (theme != config.ACADHOMEPAGE)  # AcadHomepage's page needs no deploy
    assert job["permissions"] == {"contents": "write", **({"actions": "write"} if dispatches
                                                         else {})}
    assert lint.unpinned_uses((WORKFLOWS / f"{theme}.yml").read_text(),
                              frozenset({OWN})) == []


@pytest.mark.parametrize("theme", config.ACTION_THEMES)
def test_the_workflow_passes_actionlint_with_this_action(theme: str, tmp_path: Path) -> None:
    """Linted in a repository holding this action.yml, the step pointed at it (``./``)."""
    shutil.copy(ACTION, tmp_path / "action.yml")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    text = (WORKFLOWS / f"{theme}.yml").read_text()
    assert f"uses: {OWN}\n" in text
    (workflows / "stats.yml").write_text(text.replace(f"uses: {OWN}\n", "uses: ./\n"))
    proc = lint.run_actionlint(tmp_path, Path(".github/workflows/stats.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and the check is real: an input the action does not have is reported
    (workflows / "stats.yml").write_text(text.replace(f"uses: {OWN}\n", "uses: ./\n").replace(
        f"theme: {theme}", f"themes: {theme}"))
    proc = lint.run_actionlint(tmp_path, Path(".github/workflows/stats.yml"))
    assert proc.returncode != 0 and "themes" in proc.stdout
