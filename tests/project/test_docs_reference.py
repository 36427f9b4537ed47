"""The reference pages are made from the code (docs/gen_reference.py) and agree with it: every
generated block is what the code says today, and each page covers what it claims to, checked
here against the code directly (the parsers, the settings, the errors, the catalogue, the
service's routes, the Action), the ``--help`` epilog included."""

from __future__ import annotations

import argparse
import re
from dataclasses import replace

import pytest
from support.docs import DOCS, every_page, generator, page
from support.paths import ROOT

from scholar_stats import config, errors
from scholar_stats.cli import SETTINGS_PAGE, build_parser, epilog


def test_every_generated_block_is_what_the_code_says() -> None:
    stale = generator().stale_pages()
    assert not stale, ("pages that disagree with the code (run python docs/gen_reference.py): "
                       + ", ".join(str(p.relative_to(ROOT)) for p in stale))


def test_every_generator_is_shown_on_a_page() -> None:
    shown = {m["name"] for text in every_page().values() for m in generator().BLOCK.finditer(text)}
    assert shown == set(generator().GENERATORS)


def test_a_change_in_the_code_makes_the_pages_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a planted change of an exit code's meaning and of a setting's help
    makes exactly the pages that show them stale."""
    monkeypatch.setattr(errors.Blocked, "meaning", "refused by the source (planted)")
    stale = {p.name for p in generator().stale_pages()}
    assert stale == {"exit-codes.md"}
    planted = tuple(replace(s, help="planted") if s.name == "deadline" else s
                    for s in config.SETTINGS)
    monkeypatch.setattr(config, "SETTINGS", planted)
    assert {p.name for p in generator().stale_pages()} == {"exit-codes.md", "settings.md",
                                                            "commands.md"}


def parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command that runs something, by its full name, read from the parser itself."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and prefix != "scholar-stats":
            found[prefix] = parser
        for action in subs:
            for name, sub in action.choices.items():
                walk(sub, f"{prefix} {name}")

    walk(build_parser(), "scholar-stats")
    return found


def test_the_commands_page_has_every_command_and_flag_with_its_variable_and_default() -> None:
    text = page("commands.md")
    by_flag = {s.flag: s for s in config.SETTINGS if s.flag}
    commands = parsers()
    assert len(commands) >= 14  # fetch, publish, authors x3, groups x4, refresh ... serve
    for name, parser in commands.items():
        section = text.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.option_strings:
                assert f"| `{action.metavar}`" in section, (name, action.metavar)
                continue
            setting = by_flag.get(action.option_strings[-1])
            if setting is not None and setting.commands == config.COMMANDS:
                continue  # on every command: listed once, at the top
            row = next((line for line in section.splitlines()
                        if line.startswith(f"| `{action.option_strings[0]}")), None)
            assert row is not None, (name, action.option_strings)
            if setting is not None:
                assert f"| `{setting.variable}` | {setting.shown_default} |" in row, row


def test_the_epilog_points_at_the_settings_page_which_lists_what_it_names() -> None:
    text = epilog()
    assert SETTINGS_PAGE in text and (ROOT / SETTINGS_PAGE).is_file()
    settings = page("settings.md")
    for name in re.findall(r"(?:SCHOLAR_STATS)?(_[A-Z_]+)\b", text):
        assert f"`SCHOLAR_STATS{name}`" in settings, name
    # every exit code of the epilog, in order, is a row of the exit codes page
    codes = [int(code) for code in re.findall(r"(\d+) [a-z]", text.split("Exit codes:")[1])]
    rows = [int(code) for code in re.findall(r"^\| (\d+) \|", page("exit-codes.md"), re.M)]
    assert codes == rows == [row.code for row in errors.exit_codes()]


def test_the_routes_page_has_every_route_of_the_service() -> None:
    from fastapi.routing import APIRoute

    from scholar_stats.service.app import create_app
    from scholar_stats.service.settings import ServiceSettings

    text = page("routes.md")
    app = create_app(ServiceSettings(admin_token="docs-test"))
    routes = [r for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema]
    assert len(routes) > 20
    for route in routes:
        method = sorted(route.methods)[0]
        assert re.search(rf"^\| {method} \| `{re.escape(route.path)}[`?]", text, re.M), route.path


def test_the_action_page_has_every_input_and_output() -> None:
    import yaml

    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    text = page("action.md")
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"| `{name}` |" in text, name


def test_every_page_is_in_the_site_navigation() -> None:
    import yaml

    site = yaml.safe_load((ROOT / "mkdocs.yml").read_text("utf-8"))

    def pages_of(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, dict):
            return [p for value in nav.values() for p in pages_of(value)]
        if isinstance(nav, list):
            return [p for item in nav for p in pages_of(item)]
        return []

    listed = pages_of(site["nav"])
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert on_disk <= set(listed), on_disk - set(listed)
    assert len(listed) == len(set(listed))
