"""Command line entry point.

Only argparse, the standard library, ``errors``, ``settings`` (the value parsers, standard
library only) and ``notify.urls`` (likewise) are imported here, so ``--help`` stays fast: each command's module (and scholarly, httpx, SQLAlchemy, FastAPI behind it) is imported only when
that command runs. Every flag has an environment variable; the flag wins.

Environment defaults are read after parsing, and only for the flags of the command being run:
a bad ``SCHOLAR_STATS_PORT`` concerns ``serve`` alone, and ``--help`` never reads any.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from scholar_stats import __version__
from scholar_stats.errors import ScholarStatsError, UsageError
from scholar_stats.notify.urls import parse_webhook_url, parse_webhook_urls
from scholar_stats.settings import (
    parse_bool,
    parse_count,
    parse_interval,
    parse_port,
    parse_proxy_url,
    parse_seconds,
    read_env,
)


def flag_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` as an argparse ``type``: its ValueError message becomes argparse's message."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


@dataclass(frozen=True)
class FromEnv:
    """A flag's default: ``SCHOLAR_STATS_<name>`` read with the flag's own ``parse`` (``default``
    when unset or empty). This is where a flag is bound to its variable: argparse leaves such an
    object in the namespace when the flag is not given, and :func:`parse_args` resolves the ones
    of the command being run, so no other command ever reads the variable."""

    name: str
    default: Any = None
    parse: Callable[[str], Any] = str

    def resolve(self) -> Any:
        return read_env(self.name, self.default, self.parse)


class _AppendOverEnv(argparse.Action):
    """``append`` for a flag whose default is a ``FromEnv``: the flag's first use replaces the
    environment's list (the flag wins), later uses add to it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        current = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, [*(current if isinstance(current, list) else []), values])


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=FromEnv("DB"),
        metavar="URL",
        help="SQLAlchemy database URL [env SCHOLAR_STATS_DB; default: a SQLite file in the "
        "user data directory, see README]",
    )


def _add_fetch_tuning(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--proxy",
        type=flag_type(parse_proxy_url),
        default=FromEnv("PROXY", None, parse_proxy_url),
        metavar="URL",
        help="proxy for Scholar requests: http://, https:// or socks5://user:pass@host:port "
        "[env SCHOLAR_STATS_PROXY]",
    )
    parser.add_argument(
        "--deadline",
        type=flag_type(parse_seconds),
        default=FromEnv("DEADLINE", 300.0, parse_seconds),
        metavar="SECONDS",
        help="the whole run ends by then: no request, retry or sleep goes past it "
        "[env SCHOLAR_STATS_DEADLINE; default 300]",
    )
    parser.add_argument(
        "--delay",
        type=flag_type(parse_seconds),
        default=FromEnv("DELAY", 5.0, parse_seconds),
        metavar="SECONDS",
        help="politeness delay between Scholar pages, jittered +-50%% "
        "[env SCHOLAR_STATS_DELAY; default 5]",
    )


def _add_budget(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--requests-per-hour", type=flag_type(parse_count), metavar="N",
        default=FromEnv("REQUESTS_PER_HOUR", 30, parse_count),
        help="at most N Scholar requests (every page and retry) in any hour "
        "[env SCHOLAR_STATS_REQUESTS_PER_HOUR; default 30]",
    )


def _switch(parser: argparse.ArgumentParser, *flags: str, env: str, help: str) -> None:
    """An on/off flag: given means on; otherwise ``SCHOLAR_STATS_<env>`` read with parse_bool."""
    parser.add_argument(*flags, action="store_true", default=FromEnv(env, False, parse_bool),
                        help=help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scholar-stats",
        description="Google Scholar statistics for homepages: fetch a profile without getting "
        "stuck, write AcadHomepage-compatible files and shields.io badges, publish them to a git "
        "branch, keep their history, and serve them live.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 usage, 3 blocked by Scholar, 4 author not "
        "found, 5 page not understood, 6 network failure or deadline, 7 implausible data "
        "refused, 8 push failed, 9 cannot write the output, 10 database unreachable, "
        "11 cannot listen, 12 author busy in another process. The Scholar base URL can be "
        "changed with "
        "SCHOLAR_STATS_SCHOLAR_URL (default https://scholar.google.com).",
    )
    parser.add_argument("--version", action="version", version=f"scholar-stats {__version__}")
    _switch(parser, "-v", "--verbose", env="VERBOSE",
            help="log every request and retry to stderr [env SCHOLAR_STATS_VERBOSE]")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fetch = sub.add_parser(
        "fetch",
        help="fetch authors from Scholar and write gs_data.json and badge files",
        description="Fetch one or more Scholar profiles and write gs_data.json, "
        "gs_data_shieldsio.json, shields/<metric>.json and status.json. With one id the files "
        "go into OUT; with several, into OUT/<id>/. Data already in OUT is never replaced by a "
        "failed or implausible fetch.",
    )
    fetch.add_argument("scholar_ids", nargs="+", metavar="SCHOLAR_ID")
    fetch.add_argument(
        "--out", default=FromEnv("OUT", "results"), metavar="DIR",
        help="output folder [env SCHOLAR_STATS_OUT; default results]",
    )
    _add_fetch_tuning(fetch)
    _switch(fetch, "--force", env="FORCE",
            help="write even when the new numbers drop implausibly [env SCHOLAR_STATS_FORCE]")
    fetch.add_argument(
        "--notify", action=_AppendOverEnv, type=flag_type(parse_webhook_url), metavar="URL",
        default=FromEnv("NOTIFY", [], parse_webhook_urls),
        help="POST a message to this webhook (Slack, Discord or generic JSON) when a fetch "
        "finds changes; repeatable. The URL is a secret and never printed "
        "[env SCHOLAR_STATS_NOTIFY: URLs separated by commas or spaces]",
    )
    fetch.set_defaults(handler="scholar_stats.commands.fetch:cli_fetch")

    publish = sub.add_parser(
        "publish",
        help="commit a results folder to a git branch and push it",
        description="Commit the files of DIR (as `fetch --out DIR` wrote them) to BRANCH and "
        "push it, without touching the working tree, index or current branch.",
    )
    publish.add_argument("dir", metavar="DIR")
    publish.add_argument("--branch", default=FromEnv("BRANCH", "google-scholar-stats"),
                         help="[env SCHOLAR_STATS_BRANCH; default google-scholar-stats]")
    publish.add_argument("--remote", default=FromEnv("REMOTE", "origin"),
                         help="[env SCHOLAR_STATS_REMOTE; default origin]")
    publish.add_argument("--repo", default=FromEnv("REPO", "."), metavar="PATH",
                         help="the git repository [env SCHOLAR_STATS_REPO; default .]")
    publish.add_argument("--message", default=FromEnv("MESSAGE"), metavar="TEXT",
                         help="commit message [env SCHOLAR_STATS_MESSAGE]")
    _switch(publish, "--squash", env="SQUASH",
            help="replace the branch with a single commit [env SCHOLAR_STATS_SQUASH]")
    publish.set_defaults(handler="scholar_stats.publish.branch:cli_publish")

    authors = sub.add_parser("authors", help="manage the tracked authors in the store")
    authors_sub = authors.add_subparsers(dest="authors_command", metavar="ACTION", required=True)
    add = authors_sub.add_parser("add", help="track authors")
    add.add_argument("scholar_ids", nargs="+", metavar="SCHOLAR_ID")
    add.add_argument("--interval", type=flag_type(parse_interval),
                     default=FromEnv("INTERVAL", 86400.0, parse_interval),
                     metavar="SECONDS",
                     help="refresh interval [env SCHOLAR_STATS_INTERVAL; default 86400]")
    _add_db(add)
    add.set_defaults(handler="scholar_stats.commands.tracked:cli_authors_add")
    remove = authors_sub.add_parser("remove", help="stop tracking an author (keeps nothing)")
    remove.add_argument("scholar_id", metavar="SCHOLAR_ID")
    _add_db(remove)
    remove.set_defaults(handler="scholar_stats.commands.tracked:cli_authors_remove")
    listing = authors_sub.add_parser("list", help="tracked authors, last success, next due")
    _add_db(listing)
    listing.set_defaults(handler="scholar_stats.commands.tracked:cli_authors_list")

    refresh = sub.add_parser(
        "refresh", help="one pass over the due authors (or the given ones), then exit",
    )
    refresh.add_argument("scholar_ids", nargs="*", metavar="SCHOLAR_ID")
    _add_db(refresh)
    _add_fetch_tuning(refresh)
    _add_budget(refresh)
    refresh.set_defaults(handler="scholar_stats.commands.tracked:cli_refresh")

    history = sub.add_parser("history", help="an author's metric history from the store")
    history.add_argument("scholar_id", metavar="SCHOLAR_ID")
    history.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _add_db(history)
    history.set_defaults(handler="scholar_stats.commands.tracked:cli_history")

    export = sub.add_parser("export", help="write the files of `fetch --out` from the store")
    export.add_argument("scholar_id", metavar="SCHOLAR_ID")
    export.add_argument("--out", default=FromEnv("OUT", "results"), metavar="DIR",
                        help="[env SCHOLAR_STATS_OUT; default results]")
    _add_db(export)
    export.set_defaults(handler="scholar_stats.commands.tracked:cli_export")

    schedule = sub.add_parser("schedule", help="run the refresh scheduler in the foreground")
    _add_db(schedule)
    _add_fetch_tuning(schedule)
    _add_budget(schedule)
    schedule.set_defaults(handler="scholar_stats.commands.tracked:cli_schedule")

    serve = sub.add_parser("serve", help="serve badges and data over HTTP (with the scheduler)")
    serve.add_argument("--host", default=FromEnv("HOST", "127.0.0.1"),
                       help="[env SCHOLAR_STATS_HOST; default 127.0.0.1]")
    serve.add_argument("--port", type=flag_type(parse_port),
                       default=FromEnv("PORT", 8000, parse_port),
                       help="1-65535, or 0 to let the system pick a free port (the log line "
                       "names it) [env SCHOLAR_STATS_PORT; default 8000]")
    _switch(serve, "--no-scheduler", env="NO_SCHEDULER",
            help="serve only; do not refresh [env SCHOLAR_STATS_NO_SCHEDULER]")
    _add_db(serve)
    _add_fetch_tuning(serve)
    _add_budget(serve)
    serve.add_argument(
        "--workers", type=flag_type(parse_count), metavar="N",
        default=FromEnv("WORKERS", 1, parse_count),
        help="worker processes sharing the port, each holding every author in memory; the "
        "scheduler then runs in the supervisor [env SCHOLAR_STATS_WORKERS; default 1]",
    )
    serve.set_defaults(handler="scholar_stats.service.server:cli_serve")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line, then fill each flag not given from its environment variable:
    only the flags of the command being run are in the namespace, so only they are read. A bad
    value exits 2 naming the variable, like a bad flag."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, value in list(vars(args).items()):
        if isinstance(value, FromEnv):
            try:
                setattr(args, name, value.resolve())
            except UsageError as exc:
                _usage_exit(str(exc))
    return args


def _usage_exit(message: str) -> NoReturn:
    print(f"scholar-stats: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        debug = read_env("DEBUG", False, parse_bool)
    except UsageError as exc:
        _usage_exit(str(exc))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    module_name, func_name = args.handler.split(":")

    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(args))
    except ScholarStatsError as exc:
        print(f"scholar-stats: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("scholar-stats: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"scholar-stats: internal error: {type(exc).__name__}: {exc} "
            "(set SCHOLAR_STATS_DEBUG=1 for a traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
