"""The README (what it is, the quick start, the shortest path per kind of user, links into the
site) and the settings table of docs/settings.md are kept true by these tests (the table of exit
codes: tests/project/test_exit_codes.py; every generated table: test_docs_reference.py)."""

from __future__ import annotations

import re

from support.paths import ROOT

from scholar_stats.cli import parse_args

README = (ROOT / "README.md").read_text("utf-8")
SETTINGS_PAGE = (ROOT / "docs" / "settings.md").read_text("utf-8")


SAMPLES = {"--out": "elsewhere", "--proxy": "http://proxy.example:3128", "--deadline": "7",
           "--delay": "9", "--force": "1", "--source": "serpapi", "--serpapi-monthly-limit": "40",
           "--notify": "https://hooks.example/a, https://hooks.example/b"}


def test_every_fetch_flag_in_the_settings_page_obeys_its_env_var(monkeypatch) -> None:
    rows = [(flag, env) for flag, env, commands in re.findall(
        r"^\| `(--[a-z-]+)[^`]*` \| `(SCHOLAR_STATS_[A-Z_]+)` \| [^|]* \| ([^|]*) \|",
        SETTINGS_PAGE, re.M)
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


# -- the first five minutes: a short README that points into the site --------------------------

README_MOST_LINES = 250


def test_the_readme_is_short() -> None:
    assert len(README.splitlines()) <= README_MOST_LINES


def test_the_quick_start_is_two_commands_that_install_fetch_and_test() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("```", 2)[1]
    assert quick_start.strip().splitlines() == [
        "sh",
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' "
        "&& scholar-stats fetch DhtAFkwAAAAJ",
        "python -m pytest"]


def test_the_readme_shows_the_pictures_and_a_path_per_kind_of_user() -> None:
    for picture in re.findall(r'(?:\]\(|src=")(docs/images/[^)"]+)', README):
        assert (ROOT / picture).is_file(), picture
    assert "docs/images/badge-citations.svg" in README and "docs/images/card-light.svg" in README
    for path in ("docs/action.md", "docs/themes.md", "docs/service.md"):  # AcadHomepage, al-folio
        assert f"]({path}" in README, path                                # and Hugo, a lab


def test_every_link_of_the_readme_into_the_repository_exists() -> None:
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), target
