"""The cache key of the Action's install (install/key.py): the same checkout and Python give
the same key, any change to what the venv holds gives another, so a restored venv is never an
older scholar-stats."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support.paths import ROOT

KEY = ROOT / "install" / "key.py"


def checkout(where: Path) -> Path:
    """A copy of the files the key reads, as the runner checks the action out."""
    where.mkdir()
    shutil.copytree(ROOT / "install", where / "install")
    shutil.copytree(ROOT / "scholar_stats", where / "scholar_stats",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", where / "pyproject.toml")
    return where


def key_of(action: Path, tmp_path: Path, runner_temp: str = "/runner/_temp") -> str:
    output = tmp_path / "github-output.txt"
    output.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-I", str(action / "install" / "key.py")],
                          env={"RUNNER_TEMP": runner_temp, "GITHUB_OUTPUT": str(output)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    (line,) = output.read_text().splitlines()
    assert line.startswith("key=") and proc.stdout.strip() == line
    return line[len("key="):]


def test_the_key_names_the_version_and_python_and_follows_every_change(tmp_path: Path) -> None:
    action = checkout(tmp_path / "action")
    key = key_of(action, tmp_path)
    version = ".".join(map(str, sys.version_info[:3]))
    assert key.startswith("scholar-stats-0.") and f"-py{version}-" in key
    assert key_of(checkout(tmp_path / "again"), tmp_path) == key  # another checkout, same key
    (action / "scholar_stats" / "__pycache__").mkdir(exist_ok=True)
    (action / "scholar_stats" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    assert key_of(action, tmp_path) == key  # bytecode is not the package
    assert key_of(action, tmp_path, "/elsewhere") != key  # the venv's own path is in it
    for changed in ("scholar_stats/publish/git.py", "install/excludes.txt", "pyproject.toml"):
        copy = checkout(tmp_path / changed.replace("/", "-"))
        with (copy / changed).open("a") as handle:
            handle.write("\n")
        assert key_of(copy, tmp_path) != key, changed
