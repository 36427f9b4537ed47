"""One table of exit codes, written once in ``errors.py`` (each error class's code, brief,
meaning and remedy): ``--help`` prints it and the table of docs/exit-codes.md is it, verbatim."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from support.cli_helpers import run_cli
from support.docs import page

import scholar_stats
from scholar_stats import errors
from scholar_stats.cli import build_parser

PAGE = page("exit-codes.md")


def documented_table() -> str:
    """The page's table of exit codes, as ``errors.exit_codes()`` says it must read."""
    rows = ["| code | meaning | what to do |", "| --- | --- | --- |"]
    rows += [f"| {row.code} | {row.meaning} | {row.remedy} |" for row in errors.exit_codes()]
    return "\n".join(rows) + "\n"


def test_the_documented_table_of_exit_codes_is_the_one_in_errors() -> None:
    """On a mismatch, run python docs/gen_reference.py."""
    table = documented_table()
    assert table in PAGE, "docs/exit-codes.md's table should read:\n" + table
    assert PAGE.count("\n| ") == len(errors.exit_codes()) + 2  # no second table beside it


def test_the_table_holds_every_code_once_in_order() -> None:
    codes = [row.code for row in errors.exit_codes()]
    assert codes == list(range(len(codes))) and codes[:3] == [0, 1, 2]
    for row in errors.exit_codes():
        assert row.brief and row.meaning and "|" not in row.meaning + row.remedy + row.brief
        assert "\n" not in row.meaning + row.remedy


def every_error_class() -> set[type[errors.ScholarStatsError]]:
    for module in pkgutil.walk_packages(scholar_stats.__path__, "scholar_stats."):
        if module.name != "scholar_stats.__main__":
            importlib.import_module(module.name)
    found, pending = set(), [errors.ScholarStatsError]
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending += cls.__subclasses__()
    return found


def test_every_error_anywhere_in_the_package_exits_with_a_code_of_the_table() -> None:
    table = {row.code for row in errors.exit_codes()}
    classes = every_error_class()
    assert len(classes) > 13  # the other modules' errors were found (BudgetSpent, GitError, ...)
    assert {cls.exit_code for cls in classes} <= table
    # and every code of the table is some error's (0 aside)
    assert table - {0} == {cls.exit_code for cls in classes}


def epilog_words(text: str) -> str:
    return " ".join(text.split())


def test_help_prints_the_table_of_errors() -> None:
    """``scholar-stats --help`` as a person runs it: every code with its brief, in order."""
    result = run_cli(["--help"])
    assert result.returncode == 0
    shown = epilog_words(result.stdout)
    listed = ", ".join(f"{row.code} {row.brief}" for row in errors.exit_codes())
    assert f"Exit codes: {listed}." in shown


def test_the_epilog_is_made_from_errors_not_written_beside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A changed brief in errors.py is what --help says next: nothing is copied by hand."""
    monkeypatch.setattr(errors.Blocked, "brief", "refused by the source (planted)")
    epilog = epilog_words(build_parser().epilog or "")
    assert "3 refused by the source (planted), 4 author not found" in epilog
    assert not re.search(r"\b3 blocked by Scholar\b", epilog)
