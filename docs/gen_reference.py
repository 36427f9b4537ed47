"""The documentation's reference tables, made from the code: never typed twice.

A page holds a generated block between two markers::

    <!-- generated: NAME -->
    ...
    <!-- end generated -->

and this script rewrites the block from the code: ``settings`` (config.SETTINGS), ``commands``
(the command line's parsers, with each flag's variable and default), ``exit-codes``
(errors.exit_codes()), ``files`` and ``fetch-files`` (outputs/catalogue.py), ``routes`` (the
service's FastAPI routes) and ``action-inputs`` (action.yml).

    python docs/gen_reference.py          # rewrite the blocks of every page
    python docs/gen_reference.py --check  # exit 1, naming the pages that disagree with the code

tests/project/test_docs_reference.py runs the check. The pages are plain Markdown, readable on
the forge as in the built site; mkdocs needs no plugin for them.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)

# the order in which the settings table names commands ("site": the themes' command, issue 20)
COMMAND_ORDER = ["fetch", "publish", "site", "authors", "groups", "refresh", "history", "export",
                 "schedule", "serve", "action"]


def cell(text: str) -> str:
    """Text for one table cell: on one line, its pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


# -- settings ---------------------------------------------------------------------------------

def commands_cell(commands: frozenset[str]) -> str:
    from scholar_stats import config

    if commands == config.COMMANDS:
        return "all"
    names = {c.split()[0] for c in commands}  # "authors add" -> "authors"
    authors = {c for c in commands if c.startswith("authors ")}
    if authors and authors != {"authors add", "authors remove", "authors list"}:
        names = (names - {"authors"}) | authors
    ordered = sorted(names, key=lambda n: COMMAND_ORDER.index(n.split()[0]))
    return ", ".join("the Action" if n == "action" else f"`{n}`" for n in ordered)


def settings_table() -> str:
    """Every setting: its flag, variable, default, the commands that read it, and what it is."""
    from scholar_stats import config

    rows = ["| flag | variable | default | commands | meaning |", "| --- | --- | --- | --- | --- |"]
    for s in config.SETTINGS:
        flag = ""
        if s.flag:
            flag = ", ".join(f"`{f}`" for f in (s.short, s.flag) if f)
            if s.metavar and not s.switch:
                flag = flag[:-1] + f" {s.metavar}`"
        help_text = s.help + (" (secret: never printed)" if s.secret else "")
        rows.append(f"| {flag} | `{s.variable}` | {s.shown_default} | "
                    f"{commands_cell(s.commands)} | {help_text} |")
    return "\n".join(rows) + "\n"


# -- commands ---------------------------------------------------------------------------------

def subcommands(parser: argparse.ArgumentParser, prefix: str = "scholar-stats",
                ) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(full name, one-line help, parser) of every command that runs something, in order."""
    for action in parser._actions:  # argparse keeps its sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                full = f"{prefix} {name}"
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from subcommands(sub, full)
                else:
                    yield full, helps.get(name, ""), sub


def argument_rows(parser: argparse.ArgumentParser, *, top: bool = False) -> list[str]:
    """One row per argument: its form, variable, default and meaning."""
    from scholar_stats import config

    by_flag = {s.flag: s for s in config.SETTINGS if s.flag}
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if not top and action.option_strings and by_flag.get(action.option_strings[-1]) and \
                by_flag[action.option_strings[-1]].commands == config.COMMANDS:
            continue  # every command's flags are listed once, above
        if not action.option_strings:
            form = f"`{action.metavar or action.dest.upper()}`"
            if action.nargs in ("+", "*"):
                form += " ..." if action.nargs == "+" else " (any number)"
            elif action.nargs == "?":
                form += " (optional)"
            default = "required" if action.nargs in (None, "+") else ""
            rows.append(f"| {form} |  | {default} | {cell(action.help or '')} |")
            continue
        setting = by_flag.get(action.option_strings[-1])
        names = ", ".join(f"`{o}`" for o in action.option_strings)
        if action.metavar and action.nargs != 0:
            names = names[:-1] + f" {action.metavar}`"
        elif action.choices:
            names = names[:-1] + f" {{{','.join(action.choices)}}}`"
        if setting is not None:
            help_text = setting.help + (" (secret: never printed)" if setting.secret else "")
            rows.append(f"| {names} | `{setting.variable}` | {cell(setting.shown_default)} | "
                        f"{cell(help_text)} |")
        else:
            default = "" if action.default in (None, False, argparse.SUPPRESS) else \
                str(action.default)
            help_text = "print the version and exit" if action.dest == "version" else \
                action.help or ""
            rows.append(f"| {names} |  | {cell(default)} | {cell(help_text)} |")
    return rows


HEAD = ["| argument | variable | default | meaning |", "| --- | --- | --- | --- |"]


def commands_reference() -> str:
    """A section per command: what it does and every argument, from the parsers themselves."""
    from scholar_stats.cli import build_parser

    parser = build_parser()
    out = ["### Every command", "", "`-h`, `--help` after any command prints its help; these "
           "go before the command's name (`scholar-stats -v fetch ID`):", "",
           *HEAD, *argument_rows(parser, top=True), ""]
    for name, help_text, sub in subcommands(parser):
        what = cell(sub.description or help_text).rstrip(".")
        out += [f"### `{name}`", "", what[:1].upper() + what[1:] + ".", ""]
        rows = argument_rows(sub)
        out += [*HEAD, *rows, ""] if rows else ["No arguments.", ""]
    return "\n".join(out)


# -- exit codes -------------------------------------------------------------------------------

def exit_codes_table() -> str:
    from scholar_stats import errors

    rows = ["| code | meaning | what to do |", "| --- | --- | --- |"]
    rows += [f"| {row.code} | {row.meaning} | {row.remedy} |" for row in errors.exit_codes()]
    return "\n".join(rows) + "\n"


# -- files ------------------------------------------------------------------------------------

def fetch_files_table() -> str:
    from scholar_stats.outputs import catalogue

    return catalogue.file_table()


def files_table() -> str:
    """Every file of an author, where it lives and its media type."""
    from scholar_stats.outputs import catalogue

    where = {catalogue.FETCH: "`fetch`, `export`; on the branch",
             catalogue.PUBLISH: "`publish` (on the branch), `export`",
             None: "the service only"}
    rows = ["| file | made by | served | media type | what |", "| --- | --- | --- | --- | --- |"]
    for f in catalogue.CATALOGUE:
        place = where[f.branch] + (" (once, at the top of the folder)" if f.top else "")
        rows.append(f"| `{f.name}` | {place} | {'yes' if f.service else 'no'} | "
                    f"`{f.media.partition(';')[0]}` | {cell(f.what)} |")
    return "\n".join(rows) + "\n"


# -- routes -----------------------------------------------------------------------------------

def routes_table() -> str:
    """The service's documented routes, as FastAPI holds them (the admin ones included)."""
    from fastapi.routing import APIRoute

    from scholar_stats.service.app import create_app
    from scholar_stats.service.settings import ServiceSettings

    app = create_app(ServiceSettings(admin_token="docs"))  # noqa: S106 - not a secret: a token makes the admin routes
    rows = ["| method | path | what |", "| --- | --- | --- |"]
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            what = route.summary or (route.description or "").strip().splitlines()[0]
            methods = ", ".join(sorted(route.methods))
            query = "&".join(f"{q.alias}=" for q in route.dependant.query_params)
            path = route.path + (f"?{query}" if query else "")
            rows.append(f"| {methods} | `{path}` | {cell(what).rstrip('.')} |")
    return "\n".join(rows) + "\n"


# -- the Action -------------------------------------------------------------------------------

def action_inputs_table() -> str:
    import yaml

    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    rows = ["| input | default | meaning |", "| --- | --- | --- |"]
    for name, spec in action["inputs"].items():
        default = "required" if spec.get("required") else f"`{spec.get('default', '')}`"
        if default == "``":
            default = "empty"
        rows.append(f"| `{name}` | {cell(default)} | {cell(spec['description'])} |")
    rows += ["", "| output | meaning |", "| --- | --- |"]
    rows += [f"| `{name}` | {cell(spec['description'])} |"
             for name, spec in action["outputs"].items()]
    return "\n".join(rows) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_table,
    "commands": commands_reference,
    "exit-codes": exit_codes_table,
    "fetch-files": fetch_files_table,
    "files": files_table,
    "routes": routes_table,
    "action-inputs": action_inputs_table,
}


def pages() -> list[Path]:
    return [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]


def regenerate(text: str, made: dict[str, str] | None = None) -> str:
    """``text`` with every generated block made anew (``made`` caches each block's text)."""
    made = {} if made is None else made

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in GENERATORS:
            raise SystemExit(f"gen_reference: unknown block {name!r}")
        if name not in made:
            made[name] = GENERATORS[name]().rstrip("\n") + "\n"
        return match[1] + made[name] + match[4]

    return BLOCK.sub(fill, text)


def stale_pages() -> dict[Path, str]:
    """Every page whose generated blocks differ from the code: path -> what it should read."""
    made: dict[str, str] = {}
    stale = {}
    for page in pages():
        text = page.read_text("utf-8")
        fresh = regenerate(text, made)
        if fresh != text:
            stale[page] = fresh
    return stale


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = stale_pages()
    for page, fresh in stale.items():
        name = page.relative_to(ROOT)
        if check:
            print(f"{name}: its generated blocks disagree with the code "
                  "(run python docs/gen_reference.py)")
        else:
            page.write_text(fresh, "utf-8")
            print(f"rewrote {name}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
