"""The README's tables and quick start are kept true by these tests (the table of exit codes:
tests/project/test_exit_codes.py)."""

from __future__ import annotations

import re

from support.paths import ROOT

from scholar_stats.cli import parse_args

README = (ROOT / "README.md").read_text("utf-8")


SAMPLES = {"--out": "elsewhere", "--proxy": "http://proxy.example:3128", "--deadline": "7",
           "--delay": "9", "--force": "1", "--source": "serpapi", "--serpapi-monthly-limit": "40",
           "--notify": "https://hooks.example/a, https://hooks.example/b"}


def test_every_fetch_flag_in_the_readme_obeys_its_env_var(monkeypatch) -> None:
    rows = [(flag, env) for flag, env, commands in re.findall(
        r"^\| `(--[a-z-]+)[^`]*` \| `(SCHOLAR_STATS_[A-Z_]+)` \| [^|]* \| ([^|]*) \|", README, re.M)
        if "`fetch`" in commands]
    assert {flag for flag, _ in rows} == set(SAMPLES)
    for flag, env in rows:
        monkeypatch.setenv(env, SAMPLES[flag])
    args = parse_args(["fetch", "DhtAFkwAAAAJ"])
    assert (args.out, args.proxy, args.deadline, args.delay, args.force) == (
        "elsewhere", ("http://proxy.example:3128",), 7.0, 9.0, True)
    assert (args.source, args.serpapi_monthly_limit) == ("serpapi", 40)
    assert args.notify == ["https://hooks.example/a", "https://hooks.example/b"]
    assert parse_args(["fetch", "DhtAFkwAAAAJ", "--notify", "http://c.example/"]).notify == [
        "http://c.example/"]  # the flag wins


def test_quick_start_test_command_is_what_ci_runs() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("```", 2)[1]
    test_command = quick_start.strip().splitlines()[-1].strip()
    assert test_command == "python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_a_bad_environment_value_is_a_usage_error(monkeypatch, capsys) -> None:
    import pytest

    from scholar_stats.cli import main

    monkeypatch.setenv("SCHOLAR_STATS_DEADLINE", "soon")
    with pytest.raises(SystemExit) as exit_info:
        main(["fetch", "DhtAFkwAAAAJ"])
    assert exit_info.value.code == 2
    assert "SCHOLAR_STATS_DEADLINE" in capsys.readouterr().err
