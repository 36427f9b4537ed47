"""Command line entry point.

Only argparse, the standard library, ``errors``, ``parsers``, ``config`` (the declared
settings), ``redact``, ``commands.runner`` (all standard library only) and ``outputs.themes``
(the themes' names; it imports PyYAML only when it draws a file) are imported here, so
``--help`` stays fast: each command's module (and scholarly, httpx, SQLAlchemy, FastAPI behind
it) is imported only when that command runs, by ``commands.runner``.

The flags of the settings are generated from ``config.SETTINGS``. A flag not given is absent
from the namespace (``argparse.SUPPRESS``); :func:`parse_args` then resolves the settings of the
command being run, and only them, so a bad ``SCHOLAR_STATS_PORT`` concerns ``serve`` alone and
``--help`` reads no variable at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from scholar_stats import __version__, config, redact
from scholar_stats.commands.runner import run, usage_error
from scholar_stats.errors import UsageError, exit_codes
from scholar_stats.outputs.themes import THEME_NAMES

# what every SCHOLAR_ID argument takes (``core.model.parse_scholar_id`` reads it)
ID_HELP = ("a Scholar id (DhtAFkwAAAAJ) or the profile URL it is in, pasted from the browser "
           "(quote it in a shell)")

# the documentation's page of every setting, named by the --help epilog
SETTINGS_PAGE = "docs/settings.md"
GROUP_HELP = "the group's name: 1-64 of a-z, 0-9, -, _"


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose errors (they may quote an argument) are redacted. With
    ``intermixed``, a command's ids may follow its flags (``site hugo --from R ID``): argparse
    alone fills an optional positional list before the flags and refuses the ids after them."""

    def __init__(self, *args: Any, intermixed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intermixed = intermixed
        self.parsing = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if not self.intermixed or self.parsing:
            return super().parse_known_args(args, namespace)
        self.parsing = True  # parse_known_intermixed_args calls this method back
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self.parsing = False

    def error(self, message: str) -> NoReturn:
        super().error(redact.redact(message))


def flag_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` as an argparse ``type``: its ValueError message becomes argparse's message."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def flag_help(setting: config.Setting) -> str:
    """The setting's help, its variable and its default, as ``--help`` shows them."""
    default = "" if setting.switch else f"; default {setting.shown_default}"
    return f"{setting.help} [env {setting.variable}{default}]".replace("%", "%%")


def add_flag(parser: argparse.ArgumentParser, setting: config.Setting) -> None:
    names = [name for name in (setting.short, setting.flag) if name]
    if setting.switch:
        parser.add_argument(*names, action="store_true", default=argparse.SUPPRESS,
                            dest=setting.name, help=flag_help(setting))
    else:
        parser.add_argument(*names, type=flag_type(setting.parse), default=argparse.SUPPRESS,
                            dest=setting.name, action="extend" if setting.many else "store",
                            metavar=setting.metavar, help=flag_help(setting))


def add_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of the settings ``command`` uses (those of every command are on the top
    parser); ``command`` is remembered so :func:`parse_args` resolves its settings."""
    for setting in config.settings_of(command):
        if setting.flag and setting.commands != config.COMMANDS:
            add_flag(parser, setting)
    parser.set_defaults(settings_of=command)


def epilog() -> str:
    """The exit codes, from ``errors`` (the one table of them), and where the rest is."""
    codes = ", ".join(f"{row.code} {row.brief}" for row in exit_codes())
    return (f"Exit codes: {codes}. Settings without a flag (SCHOLAR_STATS_SCHOLAR_URL, _TIMEOUT, "
            f"_ADMIN_TOKEN, ...) are listed in {SETTINGS_PAGE}.")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="scholar-stats",
        description="Google Scholar statistics for homepages: fetch a profile without getting "
        "stuck, write AcadHomepage-compatible files and shields.io badges, publish them to a git "
        "branch, keep their history, and serve them live.",
        epilog=epilog(),
    )
    parser.add_argument("--version", action="version", version=f"scholar-stats {__version__}")
    for setting in config.SETTINGS:
        if setting.flag and setting.commands == config.COMMANDS:
            add_flag(parser, setting)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fetch = sub.add_parser(
        "fetch",
        help="fetch authors from Scholar and write gs_data.json and badge files",
        description="Fetch one or more Scholar profiles and write gs_data.json, "
        "gs_data_shieldsio.json, shields/<metric>.json and status.json. With one id the files "
        "go into OUT; with several, into OUT/<id>/. Data already in OUT is never replaced by a "
        "failed or implausible fetch.",
    )
    fetch.add_argument("scholar_ids", nargs="+", metavar="SCHOLAR_ID", help=ID_HELP)
    add_flags(fetch, "fetch")
    fetch.set_defaults(handler="scholar_stats.commands.fetch:cli_fetch")

    publish = sub.add_parser(
        "publish",
        help="commit a results folder to a git branch and push it",
        description="Commit the files of DIR (as `fetch --out DIR` wrote them) to BRANCH and "
        "push it, without touching the working tree, index or current branch.",
    )
    publish.add_argument("dir", metavar="DIR", help="the folder `fetch --out DIR` wrote")
    add_flags(publish, "publish")
    publish.set_defaults(handler="scholar_stats.publish.branch:cli_publish")

    site = sub.add_parser(
        "site",
        help="write a homepage theme's data files (al-folio, Jekyll, Hugo) into its source tree",
        description="Write THEME's files into the site's source folder: al-folio's "
        "_data/citations.yml; for any Jekyll site a data file and an include, for Hugo a data "
        "file and a shortcode (docs/themes.md). Without --from it fetches first, as `fetch` "
        "does (into --out); with --from it reads that results folder and makes no request. "
        "Without an id it takes the one the site names (scholar_userid, or the "
        "author.googlescholar URL). Only files that change are written, all or none, and never "
        "a file scholar-stats did not write.",
        intermixed=True,
    )
    site.add_argument("theme", choices=THEME_NAMES, metavar="THEME",
                      help=f"one of {', '.join(THEME_NAMES)}")
    site.add_argument("scholar_ids", nargs="*", metavar="SCHOLAR_ID", help=ID_HELP)
    add_flags(site, "site")
    site.set_defaults(handler="scholar_stats.commands.site:cli_site")

    authors = sub.add_parser("authors", help="manage the tracked authors in the store")
    authors_sub = authors.add_subparsers(dest="authors_command", metavar="ACTION", required=True)
    add = authors_sub.add_parser("add", help="track authors")
    add.add_argument("scholar_ids", nargs="+", metavar="SCHOLAR_ID", help=ID_HELP)
    add_flags(add, "authors add")
    add.set_defaults(handler="scholar_stats.commands.tracked:cli_authors_add")
    remove = authors_sub.add_parser("remove", help="stop tracking an author (keeps nothing)")
    remove.add_argument("scholar_id", metavar="SCHOLAR_ID", help=ID_HELP)
    add_flags(remove, "authors remove")
    remove.set_defaults(handler="scholar_stats.commands.tracked:cli_authors_remove")
    listing = authors_sub.add_parser("list", help="tracked authors, last success, next due")
    add_flags(listing, "authors list")
    listing.set_defaults(handler="scholar_stats.commands.tracked:cli_authors_list")

    grouping = sub.add_parser("groups", help="groups of tracked authors (a lab) and their totals")
    groups_sub = grouping.add_subparsers(dest="groups_command", metavar="ACTION", required=True)
    gadd = groups_sub.add_parser("add", help="add tracked authors to a group (made if new)")
    gadd.add_argument("name", metavar="NAME", help=GROUP_HELP)
    gadd.add_argument("scholar_ids", nargs="+", metavar="SCHOLAR_ID", help=ID_HELP)
    add_flags(gadd, "groups add")
    gadd.set_defaults(handler="scholar_stats.commands.groups:cli_groups_add")
    gremove = groups_sub.add_parser("remove", help="remove authors from a group, or the group")
    gremove.add_argument("name", metavar="NAME", help=GROUP_HELP)
    gremove.add_argument("scholar_ids", nargs="*", metavar="SCHOLAR_ID", help=ID_HELP)
    add_flags(gremove, "groups remove")
    gremove.set_defaults(handler="scholar_stats.commands.groups:cli_groups_remove")
    glist = groups_sub.add_parser("list", help="the groups and their members")
    add_flags(glist, "groups list")
    glist.set_defaults(handler="scholar_stats.commands.groups:cli_groups_list")
    gshow = groups_sub.add_parser("show", help="a group's totals and each member's numbers")
    gshow.add_argument("name", metavar="NAME", help=GROUP_HELP)
    gshow.add_argument("--format", choices=("table", "json"), default="table",
                       help="a table for people, or JSON for programs")
    add_flags(gshow, "groups show")
    gshow.set_defaults(handler="scholar_stats.commands.groups:cli_groups_show")

    refresh = sub.add_parser(
        "refresh", help="one pass over the due authors (or the given ones), then exit",
    )
    refresh.add_argument("scholar_ids", nargs="*", metavar="SCHOLAR_ID", help=ID_HELP)
    add_flags(refresh, "refresh")
    refresh.set_defaults(handler="scholar_stats.commands.tracked:cli_refresh")

    history = sub.add_parser("history", help="an author's metric history from the store")
    history.add_argument("scholar_id", metavar="SCHOLAR_ID", help=ID_HELP)
    history.add_argument("--format", choices=("table", "csv", "json"), default="table",
                         help="a table for people, CSV (RFC 4180) or JSON for programs")
    history.add_argument("--papers", action="store_true",
                         help="each change of a paper's citations (date, author_pub_id, title, "
                         "citations, change) instead of the daily metrics")
    add_flags(history, "history")
    history.set_defaults(handler="scholar_stats.commands.tracked:cli_history")

    export = sub.add_parser("export", help="write the files of `fetch --out` from the store")
    export.add_argument("scholar_id", metavar="SCHOLAR_ID", nargs="?", help=ID_HELP)
    export.add_argument("--group", metavar="NAME",
                        help="write a group's files (gs_data.json, shields/) instead of an "
                        "author's")
    add_flags(export, "export")
    export.set_defaults(handler="scholar_stats.commands.tracked:cli_export")

    schedule = sub.add_parser("schedule", help="run the refresh scheduler in the foreground")
    add_flags(schedule, "schedule")
    schedule.set_defaults(handler="scholar_stats.commands.tracked:cli_schedule")

    serve = sub.add_parser("serve", help="serve badges and data over HTTP (with the scheduler)")
    add_flags(serve, "serve")
    serve.set_defaults(handler="scholar_stats.service.server:cli_serve")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line, then resolve the settings of the command being run (a flag
    given, else its variable, else its default) into the namespace. A bad variable exits 2
    naming it, like a bad flag."""
    args = build_parser().parse_args(argv)
    try:
        values = config.resolve(args.settings_of, vars(args))
    except UsageError as exc:
        _usage_exit(str(exc))
    for name, value in values.items():
        setattr(args, name, value)
    return args


def _usage_exit(message: str) -> NoReturn:
    raise SystemExit(usage_error(message))


def main(argv: Sequence[str] | None = None) -> int:
    redact.remember(redact.argv_secrets(sys.argv[1:] if argv is None else argv))
    args = parse_args(argv)
    return run(args, args.handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
