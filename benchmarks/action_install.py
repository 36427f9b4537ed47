"""The Action's install step, the old way and the new way, cold and warm, in one run.

* old: what action.yml ran until issue 20: ``python -m venv`` and ``pip install <action>``.
  Cold: an empty pip cache. Warm: pip's cache kept from the cold run (the old Action kept no
  cache between runs, so on GitHub every run of it was the cold one).
* new: ``install/install.sh`` exactly as action.yml runs it: uv (pip-installed from uv.txt,
  hash-checked) makes the venv without the packages of install/excludes.txt. Cold: nothing
  cached, uv not installed. Warm: the venv restored as actions/cache restores it (a
  tar.zst of the path, unpacked), then install.sh, which finds it and installs nothing.

Every run gets a fresh runner folder and a fresh copy of the action's files, from the real
package index (pip and uv with no machine configuration: PIP_* and UV_* variables dropped,
no pip.conf); the machine must reach PyPI. Each new venv then runs
``scholar-stats fetch`` against the fake Scholar (tests/support/fake_scholar.py) and is checked
to hold none of the excluded packages.

Usage: python benchmarks/action_install.py [--python python3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.fake_scholar import REAL_ID, running_fake_scholar

ROOT = Path(__file__).resolve().parents[1]

# what the Action's checkout holds that an install reads
ACTION_FILES = ("pyproject.toml", "README.md", "LICENSE", "action.yml", "scholar_stats",
                "install")
EXCLUDED = ("sphinx", "sphinx-rtd-theme", "docutils", "babel", "alabaster", "pygments")


@dataclass
class Install:
    name: str
    seconds: float
    megabytes: float
    packages: int
    names: frozenset[str]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this machine's pip and uv configuration."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "PYTHON"))}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            **extra}


def action_copy(where: Path) -> Path:
    """A fresh copy of the action's files, as the runner checks the action out."""
    target = where / "action"
    target.mkdir(parents=True)
    for name in ACTION_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)
    return target


def megabytes(path: Path) -> float:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def distributions(venv: Path) -> frozenset[str]:
    found = venv.glob("lib/python*/site-packages/*.dist-info")
    return frozenset(p.name.split("-")[0].lower().replace("_", "-") for p in found)


def run(args: list[str], env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{args[:3]} failed:\n{proc.stdout}\n{proc.stderr}"


def measure(name: str, runner: Path, venv: Path, step: list[list[str]],
            env: dict[str, str]) -> Install:
    started = time.perf_counter()
    for args in step:
        run(args, env, runner)
    seconds = time.perf_counter() - started
    return Install(name, seconds, megabytes(venv), len(distributions(venv)),
                   distributions(venv))


def old_way(python: str, work: Path, pip_cache: Path, name: str) -> Install:
    runner = work / name
    action = action_copy(runner)
    venv = runner / "scholar-stats-venv"
    env = clean_env(PIP_CACHE_DIR=str(pip_cache))
    step = [[python, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", str(action)]]
    return measure(name, runner, venv, step, env)


def new_way(python: str, runner: Path, name: str, restore: Path | None = None) -> Install:
    """install.sh in ``runner`` (its RUNNER_TEMP); ``restore``: a tar.zst of the venv that
    actions/cache would unpack first (timed with the step)."""
    action = action_copy(runner)
    venv = runner / "scholar-stats-venv"
    env = clean_env(PYTHON=python, RUNNER_TEMP=str(runner), GITHUB_ACTION_PATH=str(action))
    step = [["bash", str(action / "install" / "install.sh")]]
    if restore is not None:
        step.insert(0, ["tar", "--zstd", "-xf", str(restore), "-C", str(runner)])
    return measure(name, runner, venv, step, env)


def check_fetch(venv: Path, url: str, out: Path) -> None:
    """The installed scholar-stats fetches a real saved profile from the fake Scholar."""
    env = clean_env(SCHOLAR_STATS_SCHOLAR_URL=url, SCHOLAR_STATS_DELAY="0")
    run([str(venv / "bin" / "python"), "-m", "scholar_stats", "fetch", REAL_ID, "--out",
         str(out)], env, out.parent)
    assert json.loads((out / "gs_data.json").read_text())["citedby"] == 56


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=shutil.which("python3") or "python3",
                        help="the interpreter setup-python would give (default: python3)")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="action-install-"))
    work.mkdir(parents=True, exist_ok=True)
    python = os.path.realpath(args.python)
    version = subprocess.run([python, "-V"], capture_output=True, text=True, check=True)
    print(f"{version.stdout.strip()} at {python}; work in {work}", flush=True)

    results: list[Install] = []
    pip_cache = work / "pip-cache"
    results.append(old_way(python, work, pip_cache, "old cold"))
    results.append(old_way(python, work, pip_cache, "old warm"))

    cold = work / "new cold"
    results.append(new_way(python, cold, "new cold"))
    archive = work / "venv.tar.zst"  # what actions/cache saves at the end of the job
    run(["tar", "--zstd", "-cf", str(archive), "scholar-stats-venv"], clean_env(), cold)
    results.append(new_way(python, work / "new warm", "new warm", restore=archive))

    with running_fake_scholar() as fake:
        for name in ("new cold", "new warm"):
            check_fetch(work / name / "scholar-stats-venv", fake.url, work / name / "out")
    for result in results[2:]:
        leaked = set(EXCLUDED) & result.names
        assert not leaked, f"{result.name} installed {sorted(leaked)}"

    print(f"\n{'install':<10} {'seconds':>8} {'MB':>7} {'packages':>9}")
    for result in results:
        print(f"{result.name:<10} {result.seconds:>8.1f} {result.megabytes:>7.1f} "
              f"{result.packages:>9}")
    by_name = {result.name: result for result in results}
    print(f"\ncache archive (what actions/cache stores and restores): "
          f"{archive.stat().st_size / 1e6:.1f} MB")
    print("left out by the new way: " + ", ".join(sorted(by_name["old cold"].names
                                                         - by_name["new cold"].names)))
    for kind in ("cold", "warm"):
        old, new = by_name[f"old {kind}"], by_name[f"new {kind}"]
        print(f"{kind}: new/old seconds {new.seconds / old.seconds:.2f}, "
              f"MB {new.megabytes / old.megabytes:.2f}, "
              f"packages {new.packages}/{old.packages}")
    print(f"the old Action on GitHub (no cache: every run cold) / the new one warm: "
          f"{by_name['old cold'].seconds / by_name['new warm'].seconds:.0f}x")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
