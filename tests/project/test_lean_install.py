"""A base install (``pip install scholar-stats``, no extras) runs fetch, publish and the Action;
the commands that need an extra say which one in a line, exit 2.

The base install is simulated by tests/support/without_extras.py, which hides every installed
package the base does not bring (as read from scholar-stats' installed metadata): the commands run
in a subprocess exactly as they would in a lean venv, without building one (no network, no
minutes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli_helpers import cli_env
from support.fake_scholar import FakeScholar
from support.git_repos import BRANCH, SID, git_env, remote, sh, work  # noqa: F401
from support.github_action import action_env, load_action
from support.paths import ROOT, SUPPORT
from support.without_extras import read_excludes, requirement_closure

RUNNER = SUPPORT / "without_extras.py"
EXTRAS_ONLY = ("sqlalchemy", "apscheduler", "fastapi", "uvicorn", "prometheus_client",
               "psycopg", "starlette", "pydantic", "pytest")
BASE = ("httpx", "httpcore", "bs4", "bibtexparser", "scholarly.author_parser", "socksio", "yaml")


def lean(*args: str, env: dict[str, str] | None = None, block: str | None = None,
         excludes: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m scholar_stats ARGS`` (or another module, ``-c``) as a base install runs it;
    ``excludes``: as the Action's install (uv with that ``--excludes`` file) runs it."""
    hide = ["--block", block] if block else ["--excludes", str(excludes)] if excludes else []
    module = [] if args[0] in ("-c", "scholar_stats.commands.action") else ["scholar_stats"]
    return subprocess.run([sys.executable, str(RUNNER), *hide, *module, *args],
                          env=cli_env(env), capture_output=True, text=True, timeout=120,
                          check=False)


def importable_probe(modules: list[str]) -> str:
    """Python source that prints, as JSON, which of ``modules`` import where it runs."""
    return (
        "import importlib, json\n"
        "def has(m):\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "        return True\n"
        "    except ModuleNotFoundError:\n"
        "        return False\n"
        f"print(json.dumps({{m: has(m) for m in {modules!r}}}))\n"
    )


def test_the_simulated_base_install_hides_the_extras_and_keeps_the_base() -> None:
    """Guards the tests below: the extras' packages really are gone, the base's are there."""
    code = importable_probe([*EXTRAS_ONLY, *BASE])
    run = lean("-c", code)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found == {**dict.fromkeys(EXTRAS_ONLY, False), **dict.fromkeys(BASE, True)}


def test_fetch_and_publish_work_from_a_base_install(
    fake_scholar: FakeScholar, tmp_path: Path, work: Path, remote: Path,
) -> None:
    out = tmp_path / "out"
    fetched = lean("fetch", SID, "--out", str(out))
    assert fetched.returncode == 0, fetched.stderr
    record = json.loads((out / "gs_data.json").read_text())
    assert record["citedby"] == 56 and len(record["publications"]) == 12
    assert json.loads((out / "shields" / "citations.json").read_text())["message"] == "56"
    published = lean("publish", str(out), "--repo", str(work), "--branch", BRANCH)
    assert published.returncode == 0, published.stderr
    on_branch = json.loads(sh(remote, "show", f"{BRANCH}:gs_data.json"))
    assert on_branch == record


def test_the_action_works_from_a_base_install(
    fake_scholar: FakeScholar, tmp_path: Path, work: Path, remote: Path,
) -> None:
    run = lean("scholar_stats.commands.action", env=action_env(tmp_path, work))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "published=true" in (tmp_path / "output.txt").read_text()
    assert json.loads(sh(remote, "show", f"{BRANCH}:gs_data.json"))["citedby"] == 56


def test_site_works_from_a_base_install(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    """``site`` is in the base install (the Action runs it): PyYAML comes with it."""
    site = tmp_path / "site"
    site.mkdir()
    fetched = lean("site", "jekyll", SID, "--site", str(site), "--out", str(tmp_path / "out"))
    assert fetched.returncode == 0, fetched.stderr
    assert (site / "_includes" / "scholar-stats.html").exists()
    written = lean("site", "al-folio", SID, "--site", str(site), "--from", str(tmp_path / "out"))
    assert written.returncode == 0, written.stderr
    assert f"{SID}:" in (site / "_data" / "citations.yml").read_text()


@pytest.mark.parametrize("argv", [
    ["serve", "--port", "0"], ["authors", "list"], ["authors", "add", SID], ["refresh"],
    ["history", SID], ["export", SID, "--out", "x"], ["schedule"],
], ids=lambda argv: " ".join(argv[:2]))
def test_a_command_whose_extra_is_missing_names_it(argv: list[str], tmp_path: Path) -> None:
    run = lean(*argv, "--db", f"sqlite:///{tmp_path / 'store.db'}")
    assert run.returncode == 2, run.stderr
    assert run.stderr == (f"scholar-stats: {argv[0]} needs the [serve] extra: "
                          "pip install 'scholar-stats[serve]'\n")
    assert not (tmp_path / "store.db").exists()  # it stopped before touching anything


def test_a_postgresql_url_without_psycopg_names_the_postgres_extra() -> None:
    run = lean("authors", "list", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/none",
               block="psycopg,psycopg_binary")
    assert run.returncode == 2, run.stderr
    assert run.stderr == ("scholar-stats: authors needs the [postgres] extra: "
                          "pip install 'scholar-stats[postgres]'\n")


def test_a_missing_module_of_our_own_is_a_bug_not_an_extra(tmp_path: Path) -> None:
    """Only the extras' packages are reported as a missing extra: hiding one of our own
    modules is an internal error (exit 1), not advice to install something."""
    run = lean("history", SID, "--db", f"sqlite:///{tmp_path / 'store.db'}",
               block="scholar_stats.store")
    assert run.returncode == 1, run.stderr
    assert "internal error: ModuleNotFoundError" in run.stderr and "extra" not in run.stderr


# ------------------------------------------------------------------ the Action's own install
# install/install.sh installs the base with uv, leaving out what install/excludes.txt names
# (scholarly's sphinx-rtd-theme: Sphinx, Babel, docutils, ...). The runs below hide those too.

EXCLUDES = ROOT / "install" / "excludes.txt"
LEFT_OUT = ("sphinx", "sphinx_rtd_theme", "docutils", "babel", "alabaster", "snowballstemmer",
            "imagesize")
# what scholarly imports when it is imported (its navigator and proxy generator), and badgepy's
KEPT = ("selenium", "fake_useragent", "fp", "dotenv", "arrow", "deprecated", "requests",
        "lxml", "bibtexparser", "bs4", "badgepy", "jinja2")


def test_the_action_installs_with_the_excludes_file() -> None:
    """The file these tests hide is the one the Action's install step passes uv."""
    script = (ROOT / "install" / "install.sh").read_text()
    assert 'here="$GITHUB_ACTION_PATH/install"' in script
    assert '--excludes "$here/excludes.txt"' in script
    steps = load_action()["runs"]["steps"]
    assert any('"$GITHUB_ACTION_PATH/install/install.sh"' in step.get("run", "") for step in steps)
    assert read_excludes(str(EXCLUDES)) == {"sphinx-rtd-theme"}
    assert "sphinx-rtd-theme" in requirement_closure("scholar-stats")  # it is really left out


def test_the_action_install_leaves_out_sphinx_and_keeps_what_scholarly_imports() -> None:
    code = (importable_probe([*LEFT_OUT, *KEPT])
            + "import scholarly.author_parser, scholar_stats.commands.action\n")
    run = lean("-c", code, excludes=EXCLUDES)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {**dict.fromkeys(LEFT_OUT, False),
                                      **dict.fromkeys(KEPT, True)}


def test_fetch_and_the_action_work_from_the_action_install(
    fake_scholar: FakeScholar, tmp_path: Path, work: Path, remote: Path,
) -> None:
    out = tmp_path / "out"
    fetched = lean("fetch", SID, "--out", str(out), excludes=EXCLUDES)
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads((out / "shields" / "citations.json").read_text())["message"] == "56"
    run = lean("scholar_stats.commands.action", env=action_env(tmp_path, work),
               excludes=EXCLUDES)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "published=true" in (tmp_path / "output.txt").read_text()
    assert json.loads(sh(remote, "show", f"{BRANCH}:gs_data.json"))["citedby"] == 56
    # and a theme: the site's files written and committed to the checked-out branch
    if sh(work, "symbolic-ref", "--short", "HEAD") != "main":
        sh(work, "checkout", "-q", "-b", "main")
    run = lean("scholar_stats.commands.action", excludes=EXCLUDES,
               env=action_env(tmp_path, work, SCHOLAR_STATS_THEME="hugo"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "site-committed=true" in (tmp_path / "output.txt").read_text()
    assert "data/scholar_stats.yaml" in sh(remote, "ls-tree", "-r", "--name-only", "main")
