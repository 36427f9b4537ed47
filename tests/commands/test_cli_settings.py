"""Settings from the environment (issue 9, classes 6 and 7): a variable is read and validated only
by the commands that use it, ``--help`` always works, and every on/off variable is read by one
parser (true/false, 1/0, yes/no, on/off; anything else is exit 2 naming the variable)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.cli_helpers import ROOT, cli_env, run_cli, run_main, serving
from support.fake_scholar import FakeScholar
from support.service_helpers import free_port
from support.waiting import wait_until

REAL = "LZ5D_p4AAAAJ"

FETCHING = {"fetch", "refresh", "schedule", "serve", "site"}
STORE = {"authors add", "authors remove", "authors list", "groups add", "groups remove",
         "groups list", "groups show", "refresh", "history", "export", "schedule", "serve"}
ALL = {"fetch", "publish", "site"} | STORE
LONG_RUNNING = {"schedule", "serve"}  # run as subprocesses: a bug would make them run forever

# Every SCHOLAR_STATS_* variable the code reads: a value the commands using it must refuse
# (None: free text, checked where it is used, e.g. a host that does not resolve is exit 11),
# and the commands that use it.
VARIABLES: dict[str, tuple[str | None, set[str]]] = {
    "VERBOSE": ("loud", ALL),
    "DEBUG": ("very", ALL),
    "OUT": (None, {"fetch", "export", "site"}),
    "SITE": (None, {"site"}),
    "FROM": (None, {"site"}),
    "PROXY": ("ftp://user:pw@proxy.invalid:21", FETCHING),
    "DEADLINE": ("soon", FETCHING),
    "DELAY": ("-1", FETCHING),
    "FORCE": ("maybe", {"fetch", "site"}),
    "NOTIFY": ("ftp://hooks.invalid/secret-path", FETCHING),
    "SCHOLAR_URL": ("gopher://scholar.invalid", FETCHING),
    "TIMEOUT": ("twenty", FETCHING),
    "ATTEMPTS": ("1.5", FETCHING),
    "BACKOFF": ("inf", FETCHING),
    "BRANCH": (None, {"publish"}),
    "REMOTE": (None, {"publish"}),
    "REPO": (None, {"publish"}),
    "MESSAGE": (None, {"publish"}),
    "SQUASH": ("perhaps", {"publish"}),
    "DB": (None, STORE),
    "INTERVAL": ("-5", {"authors add", "serve"}),
    "REQUESTS_PER_HOUR": ("0", {"refresh", "schedule", "serve"}),
    "HOST": (None, {"serve"}),
    "PORT": ("abc", {"serve"}),
    "NO_SCHEDULER": ("sometimes", {"serve"}),
    "WORKERS": ("0", {"serve"}),
    "MAX_AGE": ("an hour", {"serve"}),
    "STALE_AGE": ("-1", {"serve", "export"}),
    "POLL_SECONDS": ("nan", {"serve"}),
    "BADGE_CACHE": ("many", {"serve"}),
    "BADGE_CACHE_BYTES": ("lots", {"serve"}),
    "FORWARDED_ALLOW_IPS": ("proxy.example", {"serve"}),
    "ADMIN_TOKEN": (None, {"serve"}),
    "SOURCE": ("bing", FETCHING),
    "SERPAPI_URL": ("gopher://serpapi.invalid", FETCHING),
    "SERPAPI_MONTHLY_LIMIT": ("0", FETCHING),
}
BOOLEANS = ["VERBOSE", "DEBUG", "FORCE", "SQUASH", "NO_SCHEDULER"]
FREE_TEXT = "a bad value"


def test_the_declaration_is_what_this_test_covers() -> None:
    """Every declared SCHOLAR_STATS_* setting is here with the commands that use it, and every
    one here is declared: nothing is read without being declared (see the next test)."""
    from scholar_stats import config

    declared = {s.variable.removeprefix(config.PREFIX): s.commands - {"action"}
                for s in config.SETTINGS if s.variable.startswith(config.PREFIX)}
    assert declared == {name: users for name, (_bad, users) in VARIABLES.items()}
    assert set(BOOLEANS) == {name for name, (bad, _) in VARIABLES.items()
                             if bad in ("loud", "very", "maybe", "perhaps", "sometimes")}


# Modules that touch the process environment for something other than a setting, and why.
ENVIRONMENT_READERS = {
    "config.py": "the settings: the only module that reads them",
    "publish/git.py": "hands the environment to git, whose credential helper reads GITHUB_TOKEN "
                      "from it, and scrubs that token from git's messages",
    "commands/action.py": "hands the runner's environment to run_action, which resolves the "
                          "Action's settings through config and reads the runner's own "
                          "GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP, GITHUB_WORKSPACE",
    "store/connect.py": "XDG_DATA_HOME: where the user's data directory is, not a setting",
    "redact.py": "reads the variables of the settings raw (and GITHUB_TOKEN, GH_TOKEN) only to "
                 "know the secrets to mask, even those the command does not read",
}


def environment_reads(path: Path) -> list[int]:
    """Lines of ``path`` that touch ``os.environ``/``os.environb``/``os.getenv``/``os.putenv``,
    however imported (``from os import environ`` included)."""
    import ast

    tree = ast.parse(path.read_text("utf-8"))
    names = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
    lines = []
    for node in ast.walk(tree):
        attribute = isinstance(node, ast.Attribute) and node.attr in names
        imported = isinstance(node, ast.ImportFrom) and node.module == "os" and any(
            alias.name in names for alias in node.names)
        if attribute or imported:
            lines.append(node.lineno)
    return lines


def test_only_config_reads_the_environment() -> None:
    package = ROOT / "scholar_stats"
    readers = {path.relative_to(package).as_posix() for path in package.rglob("*.py")
               if environment_reads(path)}
    assert readers == set(ENVIRONMENT_READERS)


def test_the_environment_scan_finds_reads() -> None:
    """The scan above is not blind: it finds each way of reading the environment."""
    import tempfile

    for source in ["import os\nos.environ.get('X')", "import os\nos.getenv('X')",
                   "from os import environ\n", "import os as o\no.environ['X']"]:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
            handle.write(source)
        assert environment_reads(Path(handle.name)), source
        Path(handle.name).unlink()
    assert environment_reads(ROOT / "scholar_stats" / "parsers.py") == []


FAKE_SCHOLAR_VARIABLES = {"SCHOLAR_URL", "BACKOFF", "TIMEOUT", "DELAY"}  # set by fake_scholar


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """None of the variables set, except those the fake_scholar fixture points at itself."""
    for name in set(VARIABLES) - FAKE_SCHOLAR_VARIABLES:
        monkeypatch.delenv(f"SCHOLAR_STATS_{name}", raising=False)
    return monkeypatch


HELP = [[], ["fetch"], ["publish"], ["authors"], ["authors", "add"], ["authors", "remove"],
        ["authors", "list"], ["groups"], ["groups", "add"], ["groups", "remove"],
        ["groups", "list"], ["groups", "show"], ["refresh"], ["history"], ["export"],
        ["schedule"], ["serve"], ["site"]]


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_help_works_whatever_the_environment_says(name: str, clean_env: pytest.MonkeyPatch) -> None:
    bad, _users = VARIABLES[name]
    clean_env.setenv(f"SCHOLAR_STATS_{name}", bad or FREE_TEXT)
    for command in HELP:
        code, out, err = run_main([*command, "--help"])
        assert (code, err) == (0, ""), (command, err)
        assert out.startswith("usage: scholar-stats"), command


def invocation(command: str, tmp_path: Path) -> list[str]:
    """A run of ``command`` that stops at its settings when one is bad (and does no harm)."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    return {
        "fetch": ["fetch", REAL, "--out", str(tmp_path / "results")],
        "publish": ["publish", str(tmp_path / "results"), "--repo", str(tmp_path / "no-repo")],
        "authors add": ["authors", "add", REAL, "--db", db],
        "authors remove": ["authors", "remove", REAL, "--db", db],
        "authors list": ["authors", "list", "--db", db],
        "groups add": ["groups", "add", "lab", REAL, "--db", db],
        "groups remove": ["groups", "remove", "lab", "--db", db],
        "groups list": ["groups", "list", "--db", db],
        "groups show": ["groups", "show", "lab", "--db", db],
        "refresh": ["refresh", "--db", db],
        "history": ["history", REAL, "--db", db],
        "export": ["export", REAL, "--db", db, "--out", str(tmp_path / "exported")],
        "schedule": ["schedule", "--db", db],
        "serve": ["serve", "--db", db],
        "site": ["site", "jekyll", REAL, "--site", str(tmp_path), "--out",
                 str(tmp_path / "results")],
    }[command]


REFUSALS = [(name, command) for name, (bad, users) in sorted(VARIABLES.items())
            if bad is not None for command in sorted(users)]


@pytest.mark.parametrize("name,command", REFUSALS)
def test_a_command_refuses_a_bad_value_of_a_variable_it_uses(
    name: str, command: str, fake_scholar: FakeScholar, tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
) -> None:
    bad = VARIABLES[name][0]
    assert bad is not None
    argv = invocation(command, tmp_path)
    if command in LONG_RUNNING:
        # if the bad value slipped through, serve must not take a port someone else uses
        port = {} if name == "PORT" else {"SCHOLAR_STATS_PORT": str(free_port())}
        done = run_cli(argv, env={**port, f"SCHOLAR_STATS_{name}": bad}, timeout=30)
        code, err = done.returncode, done.stderr
    else:
        clean_env.setenv(f"SCHOLAR_STATS_{name}", bad)
        code, _out, err = run_main(argv)
    assert code == 2, err
    assert f"SCHOLAR_STATS_{name}" in err
    assert err.count("\n") == 1, err  # one line, no traceback, no usage block
    assert "pw@" not in err  # a proxy's password is never echoed
    assert "secret-path" not in err  # nor any part of a webhook URL
    assert fake_scholar.requests == []


def test_bad_values_do_not_reach_commands_that_do_not_use_them(
    fake_scholar: FakeScholar, tmp_path: Path, clean_env: pytest.MonkeyPatch,
) -> None:
    """Each command runs as usual with every variable it does not use set to a bad value."""
    remote, repo = git_remote_and_clone(tmp_path, clean_env)

    def unused_by(command: str) -> dict[str, str]:
        return {f"SCHOLAR_STATS_{name}": bad or FREE_TEXT
                for name, (bad, users) in VARIABLES.items() if command not in users}

    db = f"sqlite:///{tmp_path / 'store.db'}"
    runs = [
        ("fetch", ["fetch", REAL, "--out", str(tmp_path / "results")], f"{REAL}: Doaa"),
        ("publish", ["publish", str(tmp_path / "results"), "--repo", str(repo)], "google-scholar"),
        ("authors add", ["authors", "add", REAL, "--db", db], "tracking"),
        ("authors list", ["authors", "list", "--db", db], REAL),
        ("refresh", ["refresh", "--db", db], "56 citations"),
        ("history", ["history", REAL, "--db", db], "citations"),
        ("export", ["export", REAL, "--db", db, "--out", str(tmp_path / "exported")], "files"),
        ("site", ["site", "hugo", REAL, "--site", str(tmp_path / "site"), "--out",
                  str(tmp_path / "site-results")], "written (hugo)"),
    ]
    (tmp_path / "site").mkdir()
    for command, argv, expected in runs:
        with clean_env.context() as env:
            for key, value in unused_by(command).items():
                env.setenv(key, value)
            code, out, err = run_main(argv)
        assert (code, command) == (0, command), err
        assert expected in out, (command, out)
    assert (tmp_path / "exported" / "gs_data.json").exists()
    assert subprocess.run(["git", "-C", str(remote), "rev-parse", "google-scholar-stats"],
                          capture_output=True).returncode == 0

    # schedule: fetches the author added for it, and stops on SIGTERM with exit 0 (its signal
    # handlers are in place once it fetches: the "started" line comes before them)
    fake_scholar.add_profile("SCHEDAUTHOR1", pubs=5)
    assert run_main(["authors", "add", "SCHEDAUTHOR1", "--db", db])[0] == 0
    proc = subprocess.Popen([sys.executable, "-m", "scholar_stats", "schedule", "--db", db,
                             "--requests-per-hour", "36000"],  # paced 0.1 s, not 2 min
                            env=cli_env(unused_by("schedule")), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: proc.poll() is not None or any(
            "SCHEDAUTHOR1" in path for path in fake_scholar.profile_requests()),
            "schedule fetched")
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "scheduler started: 2 tracked authors" in out

    env = unused_by("serve")
    flags = ["--db", db, "--port", str(free_port()), "--no-scheduler"]
    with serving(flags, env=env) as (base, _proc):
        assert httpx.get(f"{base}/authors/{REAL}/gs_data_shieldsio.json").json()["message"] == "56"

    with clean_env.context() as env:
        for key, value in unused_by("authors remove").items():
            env.setenv(key, value)
        assert run_main(["authors", "remove", REAL, "--db", db])[0] == 0


def git_remote_and_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A bare remote and a clone of it with one commit, under a fixed identity."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test Bot")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "bot@example.invalid")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    remote, repo = tmp_path / "remote.git", tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "clone", "-q", str(remote), str(repo)], check=True,
                   capture_output=True)
    (repo / "index.html").write_text("<html></html>\n")
    subprocess.run(["git", "-C", str(repo), "add", "index.html"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "site"], check=True)
    subprocess.run(["git", "-C", str(repo), "push", "-q", "origin", "HEAD:refs/heads/main"],
                   check=True, capture_output=True)
    return remote, repo


# -- booleans ------------------------------------------------------------------------------------

TRUE = ["true", "TRUE", "True", "1", "yes", "YES", "on", "On"]
FALSE = ["false", "FALSE", "False", "0", "no", "No", "off", "OFF"]
NEITHER = ["maybe", "2", "y", "n", "t", "enabled", "-1"]


@pytest.mark.parametrize("name", [n for n in BOOLEANS if n != "DEBUG"])
def test_every_switch_reads_its_variable_with_one_parser(
    name: str, clean_env: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from scholar_stats.cli import parse_args

    argv, dest = {
        "VERBOSE": (["authors", "list"], "verbose"),
        "FORCE": (["fetch", REAL], "force"),
        "SQUASH": (["publish", "results"], "squash"),
        "NO_SCHEDULER": (["serve"], "no_scheduler"),
    }[name]
    assert getattr(parse_args(argv), dest) is False
    for text, value in [*((t, True) for t in TRUE), *((t, False) for t in FALSE), ("", False)]:
        clean_env.setenv(f"SCHOLAR_STATS_{name}", text)
        assert getattr(parse_args(argv), dest) is value, text
    for text in NEITHER:
        clean_env.setenv(f"SCHOLAR_STATS_{name}", text)
        code, _out, err = run_main(argv)
        assert code == 2 and f"SCHOLAR_STATS_{name}" in err and repr(text) in err, (text, err)


def test_force_false_keeps_the_gate_on(fake_scholar: FakeScholar, tmp_path: Path,
                                       clean_env: pytest.MonkeyPatch) -> None:
    fake_scholar.add_profile("GateAuthor01", 200, citations=1000)
    assert run_main(["fetch", "GateAuthor01", "--out", str(tmp_path)])[0] == 0
    fake_scholar.add_profile("GateAuthor01", 200, citations=850)  # a 15 % drop
    for off in FALSE:
        clean_env.setenv("SCHOLAR_STATS_FORCE", off)
        code, _out, err = run_main(["fetch", "GateAuthor01", "--out", str(tmp_path)])
        assert code == 7, (off, err)
    assert json.loads((tmp_path / "gs_data.json").read_bytes())["citedby"] == 1000
    clean_env.setenv("SCHOLAR_STATS_FORCE", "yes")
    assert run_main(["fetch", "GateAuthor01", "--out", str(tmp_path)])[0] == 0
    assert json.loads((tmp_path / "gs_data.json").read_bytes())["citedby"] == 850


def test_squash_false_appends_a_commit(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    from support.store_helpers import gs_data

    from scholar_stats.core.model import AuthorData
    from scholar_stats.outputs.catalogue import render_author_files

    remote, repo = git_remote_and_clone(tmp_path, clean_env)
    results = tmp_path / "results"

    def publish(citations: int, squash: str) -> None:
        data = AuthorData(REAL, gs_data(REAL, {"P00000000001": citations}), 2021)
        for rel, blob in render_author_files(data).items():
            (results / rel).parent.mkdir(parents=True, exist_ok=True)
            (results / rel).write_bytes(blob)
        clean_env.setenv("SCHOLAR_STATS_SQUASH", squash)
        code, _out, err = run_main(["publish", str(results), "--repo", str(repo)])
        assert code == 0, err

    def commits() -> int:
        return int(subprocess.run(["git", "-C", str(remote), "rev-list", "--count",
                                   "google-scholar-stats"], capture_output=True, text=True,
                                  check=True).stdout)

    publish(100, "false")
    publish(101, "false")
    publish(102, "off")
    assert commits() == 3
    publish(103, "true")
    assert commits() == 1


def test_verbose_off_is_quiet(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    base = {"SCHOLAR_STATS_SCHOLAR_URL": fake_scholar.url, "SCHOLAR_STATS_DELAY": "0"}
    quiet = run_cli(["fetch", REAL, "--out", str(tmp_path)],
                    env={**base, "SCHOLAR_STATS_VERBOSE": "off"})
    assert quiet.returncode == 0 and "GET " not in quiet.stderr, quiet.stderr
    loud = run_cli(["fetch", REAL, "--out", str(tmp_path)],
                   env={**base, "SCHOLAR_STATS_VERBOSE": "on"})
    assert loud.returncode == 0 and "GET " in loud.stderr


def test_debug_false_keeps_the_one_line_error(clean_env: pytest.MonkeyPatch) -> None:
    import scholar_stats.commands.tracked

    def broken(args: object) -> int:
        raise RuntimeError("a bug")

    clean_env.setattr(scholar_stats.commands.tracked, "cli_authors_list", broken)
    for off in FALSE:
        clean_env.setenv("SCHOLAR_STATS_DEBUG", off)
        code, _out, err = run_main(["authors", "list"])
        assert code == 1 and "internal error: RuntimeError: a bug" in err, (off, err)
    clean_env.setenv("SCHOLAR_STATS_DEBUG", "on")
    with pytest.raises(RuntimeError, match="a bug"):
        run_main(["authors", "list"])


def test_no_scheduler_false_runs_the_scheduler(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"

    def scheduler(base: str) -> str:
        return str(httpx.get(f"{base}/healthz").json()["scheduler"])

    for value, expected in [("false", "running"), ("true", "disabled")]:
        env = {"SCHOLAR_STATS_NO_SCHEDULER": value}
        with serving(["--db", db, "--port", str(free_port())], env=env) as (base, _proc):
            wait_until(lambda: scheduler(base) == expected,  # noqa: B023 - awaited at once
                       f"NO_SCHEDULER={value}: the scheduler is {expected}", timeout=20)


# -- the documented table of settings --------------------------------------------------------

def test_the_documented_table_of_settings_is_the_declaration() -> None:
    """Both ways: every declared setting is in docs/settings.md with its flag, default and
    commands (the table docs/gen_reference.py makes from config.SETTINGS), and no page of the
    documentation names a setting that is not declared. On a mismatch, run
    python docs/gen_reference.py."""
    from support.docs import every_page, generator, page

    from scholar_stats import config

    table = generator().settings_table()
    assert table in page("settings.md"), "docs/settings.md's table should read:\n" + table
    assert table.count("\n") == len(config.SETTINGS) + 2
    for s in config.SETTINGS:
        assert f"| `{s.variable}` | {s.shown_default} |" in table
    documented = {name for text in every_page().values()
                  for name in re.findall(r"`((?:SCHOLAR_STATS_)[A-Z0-9_]+)`", text)}
    declared = {s.variable for s in config.SETTINGS}
    not_settings = {"SCHOLAR_STATS_TEST_PG_URL"}  # the test suite's, not scholar-stats'
    assert documented - declared <= not_settings, "documented but not declared"


# -- serve --workers: the settings reach the workers as data ------------------------------------

def test_serve_workers_run_with_the_settings_given_as_flags(
    fake_scholar: FakeScholar, tmp_path: Path,
) -> None:
    """``serve --workers 2`` with non-default flags, and variables that say otherwise (which the
    flags override): every worker serves the flag's database, without a scheduler, adds authors
    at the flag's interval, and fetches (admin refresh) with the flag's settings; the
    variable-only settings (max-age, admin token, Scholar URL) reach them too."""
    from scholar_stats.store.database import Store

    db, decoy = tmp_path / "flag.db", tmp_path / "variable.db"
    fake_scholar.add_profile("WORKERAUTH01", pubs=5, citations=321)
    env = {
        "SCHOLAR_STATS_DB": f"sqlite:///{decoy}", "SCHOLAR_STATS_NO_SCHEDULER": "false",
        "SCHOLAR_STATS_INTERVAL": "99", "SCHOLAR_STATS_DELAY": "30",
        "SCHOLAR_STATS_MAX_AGE": "123", "SCHOLAR_STATS_ADMIN_TOKEN": "worker-secret-token",
    }
    flags = ["--db", f"sqlite:///{db}", "--port", str(free_port()), "--workers", "2",
             "--no-scheduler", "--interval", "4321", "--delay", "0", "--deadline", "20"]
    auth = {"Authorization": "Bearer worker-secret-token"}
    with serving(flags, env=env) as (base, proc):
        def fresh(method: str, path: str, **kw: object) -> httpx.Response:
            with httpx.Client(timeout=10) as client:  # a new connection: either worker
                return client.request(method, base + path, **kw)  # type: ignore[arg-type]

        assert {fresh("GET", "/healthz").json()["scheduler"] for _ in range(10)} == {"disabled"}
        assert fresh("POST", "/authors", json={"ids": ["WORKERAUTH01"]},
                     headers=auth).status_code == 200
        status = "/authors/WORKERAUTH01/gs_data_shieldsio.json"

        def messages() -> set[str]:
            return {fresh("GET", status).json()["message"] for _ in range(6)}

        started = time.monotonic()
        wait_until(lambda: messages() == {"no data yet"},  # every worker polls the flag's store
                   lambda: f"every worker answers 'no data yet' (not {messages()})", timeout=15)

        # no scheduler in any worker: the admin refresh fetches in the worker, with --delay 0
        assert fresh("POST", "/authors/WORKERAUTH01/refresh", headers=auth).status_code == 202
        replies: list[httpx.Response] = []

        def landed() -> bool:  # every worker sampled has polled the new number
            replies[:] = [fresh("GET", status) for _ in range(6)]
            return {r.json()["message"] for r in replies} == {"321"}

        wait_until(landed, "the worker's refresh landed in every worker",
                   timeout=15 - (time.monotonic() - started))
        assert {r.headers["cache-control"] for r in replies} == {"public, max-age=123"}
        assert proc.poll() is None
    with Store(f"sqlite:///{db}") as store:
        author = store.get_author("WORKERAUTH01")
    assert author is not None and author.interval_seconds == 4321
    assert not decoy.exists()
    assert len(fake_scholar.profile_requests()) == 1


def test_the_action_maps_its_inputs_to_declared_settings() -> None:
    """Each input action.yml hands to the run step is the variable of a declared setting that
    the Action (or the fetch it runs) reads; the rest of that environment is git's identity."""
    import yaml

    from scholar_stats import config

    steps = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))["runs"]["steps"]
    env = next(step for step in steps if step.get("id") == "run")["env"]
    from_inputs = {name for name, value in env.items() if "inputs." in str(value)}
    readers = {s.variable: s.commands for s in config.SETTINGS}
    assert {name for name in from_inputs
            if not readers.get(name, set()) & {"action", "fetch"}} == set()
    assert set(env) - from_inputs == {f"GIT_{who}_{what}" for who in ("AUTHOR", "COMMITTER")
                                      for what in ("NAME", "EMAIL")}


def test_every_variable_named_in_the_code_is_declared() -> None:
    """No module names a SCHOLAR_STATS_* variable the declaration does not have (messages that
    name one included), so nothing can be read, or pointed to, without being documented."""
    from scholar_stats import config

    named: set[str] = set()
    for path in (ROOT / "scholar_stats").rglob("*.py"):
        named |= set(re.findall(r"SCHOLAR_STATS_[A-Z][A-Z0-9_]*", path.read_text("utf-8")))
    assert named - {s.variable for s in config.SETTINGS} == set()


def test_a_variable_wins_over_a_default_given_by_the_caller() -> None:
    """The Action's repository defaults to the workspace; SCHOLAR_STATS_REPO still wins."""
    from scholar_stats import config
    from scholar_stats.errors import UsageError

    workspace = {"repo": "/work/space"}
    assert config.resolve("action", environ={}, defaults=workspace)["repo"] == "/work/space"
    assert config.resolve("action", environ={"SCHOLAR_STATS_REPO": "."},
                          defaults=workspace)["repo"] == "."
    assert config.resolve("action", environ={})["repo"] == "."
    with pytest.raises(UsageError, match="FAIL_ON_BLOCK: expected true/false"):
        config.resolve("action", environ={"FAIL_ON_BLOCK": "sure"})
