"""Command line entry point.

Only argparse and the standard library are imported here, so ``--help`` stays fast: each
command's module (and scholarly, httpx, SQLAlchemy, FastAPI behind it) is imported only when
that command runs. Every flag has an environment variable; the flag wins.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from . import __version__

ENV_PREFIX = "SCHOLAR_STATS_"


def env(name: str, default: str | None = None) -> str | None:
    """The value of ``SCHOLAR_STATS_<name>``, or ``default`` when unset or empty."""
    return os.environ.get(ENV_PREFIX + name) or default


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value < 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


T = TypeVar("T")


def _bad_env(name: str, problem: Exception) -> NoReturn:
    print(f"scholar-stats: error: {ENV_PREFIX}{name}: {problem}", file=sys.stderr)
    raise SystemExit(2)


def _env_default(name: str, default: str, parse: Callable[[str], T]) -> T:
    """A flag's default from ``SCHOLAR_STATS_<name>``, read with the flag's own ``parse``; a bad
    value exits 2 naming the variable."""
    raw = env(name, default)
    assert raw is not None
    try:
        return parse(raw)
    except argparse.ArgumentTypeError as exc:
        _bad_env(name, exc)


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=env("DB"),
        metavar="URL",
        help="SQLAlchemy database URL [env SCHOLAR_STATS_DB; default: a SQLite file in the "
        "user data directory, see README]",
    )


def _add_fetch_tuning(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--proxy",
        default=env("PROXY"),
        metavar="URL",
        help="proxy for Scholar requests: http://, https:// or socks5://user:pass@host:port "
        "[env SCHOLAR_STATS_PROXY]",
    )
    parser.add_argument(
        "--deadline",
        type=_positive_float,
        default=_env_default("DEADLINE", "300", _positive_float),
        metavar="SECONDS",
        help="the whole run ends by then: no request, retry or sleep goes past it "
        "[env SCHOLAR_STATS_DEADLINE; default 300]",
    )
    parser.add_argument(
        "--delay",
        type=_positive_float,
        default=_env_default("DELAY", "5", _positive_float),
        metavar="SECONDS",
        help="politeness delay between Scholar pages, jittered +-50%% "
        "[env SCHOLAR_STATS_DELAY; default 5]",
    )


def _interval_seconds(text: str) -> float:
    """A refresh interval: more than 0 s, at most ``plan.MAX_INTERVAL`` (as ``POST /authors``)."""
    from .plan import MAX_INTERVAL

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_INTERVAL:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"expected seconds, more than 0 and at most {MAX_INTERVAL:g} (365 days), got {text!r}"
        )
    return value


def _at_least_one(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _add_budget(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--requests-per-hour", type=_at_least_one, metavar="N",
        default=_env_default("REQUESTS_PER_HOUR", "30", _at_least_one),
        help="at most N Scholar requests (every page and retry) in any hour "
        "[env SCHOLAR_STATS_REQUESTS_PER_HOUR; default 30]",
    )


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
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=bool(env("VERBOSE")),
        help="log every request and retry to stderr [env SCHOLAR_STATS_VERBOSE]",
    )
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
        "--out", default=env("OUT", "results"), metavar="DIR",
        help="output folder [env SCHOLAR_STATS_OUT; default results]",
    )
    _add_fetch_tuning(fetch)
    fetch.add_argument(
        "--force", action="store_true", default=bool(env("FORCE")),
        help="write even when the new numbers drop implausibly [env SCHOLAR_STATS_FORCE]",
    )
    fetch.set_defaults(handler="scholar_stats.fetch:cli_fetch")

    publish = sub.add_parser(
        "publish",
        help="commit a results folder to a git branch and push it",
        description="Commit the files of DIR (as `fetch --out DIR` wrote them) to BRANCH and "
        "push it, without touching the working tree, index or current branch.",
    )
    publish.add_argument("dir", metavar="DIR")
    publish.add_argument("--branch", default=env("BRANCH", "google-scholar-stats"),
                         help="[env SCHOLAR_STATS_BRANCH; default google-scholar-stats]")
    publish.add_argument("--remote", default=env("REMOTE", "origin"),
                         help="[env SCHOLAR_STATS_REMOTE; default origin]")
    publish.add_argument("--repo", default=env("REPO", "."), metavar="PATH",
                         help="the git repository [env SCHOLAR_STATS_REPO; default .]")
    publish.add_argument("--message", default=env("MESSAGE"), metavar="TEXT",
                         help="commit message [env SCHOLAR_STATS_MESSAGE]")
    publish.add_argument("--squash", action="store_true", default=bool(env("SQUASH")),
                         help="replace the branch with a single commit [env SCHOLAR_STATS_SQUASH]")
    publish.set_defaults(handler="scholar_stats.publish:cli_publish")

    authors = sub.add_parser("authors", help="manage the tracked authors in the store")
    authors_sub = authors.add_subparsers(dest="authors_command", metavar="ACTION", required=True)
    add = authors_sub.add_parser("add", help="track authors")
    add.add_argument("scholar_ids", nargs="+", metavar="SCHOLAR_ID")
    add.add_argument("--interval", type=_interval_seconds,
                     default=_env_default("INTERVAL", "86400", _interval_seconds),
                     metavar="SECONDS",
                     help="refresh interval [env SCHOLAR_STATS_INTERVAL; default 86400]")
    _add_db(add)
    add.set_defaults(handler="scholar_stats.commands:cli_authors_add")
    remove = authors_sub.add_parser("remove", help="stop tracking an author (keeps nothing)")
    remove.add_argument("scholar_id", metavar="SCHOLAR_ID")
    _add_db(remove)
    remove.set_defaults(handler="scholar_stats.commands:cli_authors_remove")
    listing = authors_sub.add_parser("list", help="tracked authors, last success, next due")
    _add_db(listing)
    listing.set_defaults(handler="scholar_stats.commands:cli_authors_list")

    refresh = sub.add_parser(
        "refresh", help="one pass over the due authors (or the given ones), then exit",
    )
    refresh.add_argument("scholar_ids", nargs="*", metavar="SCHOLAR_ID")
    _add_db(refresh)
    _add_fetch_tuning(refresh)
    _add_budget(refresh)
    refresh.set_defaults(handler="scholar_stats.commands:cli_refresh")

    history = sub.add_parser("history", help="an author's metric history from the store")
    history.add_argument("scholar_id", metavar="SCHOLAR_ID")
    history.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _add_db(history)
    history.set_defaults(handler="scholar_stats.commands:cli_history")

    export = sub.add_parser("export", help="write the files of `fetch --out` from the store")
    export.add_argument("scholar_id", metavar="SCHOLAR_ID")
    export.add_argument("--out", default=env("OUT", "results"), metavar="DIR",
                        help="[env SCHOLAR_STATS_OUT; default results]")
    _add_db(export)
    export.set_defaults(handler="scholar_stats.commands:cli_export")

    schedule = sub.add_parser("schedule", help="run the refresh scheduler in the foreground")
    _add_db(schedule)
    _add_fetch_tuning(schedule)
    _add_budget(schedule)
    schedule.set_defaults(handler="scholar_stats.commands:cli_schedule")

    serve = sub.add_parser("serve", help="serve badges and data over HTTP (with the scheduler)")
    serve.add_argument("--host", default=env("HOST", "127.0.0.1"),
                       help="[env SCHOLAR_STATS_HOST; default 127.0.0.1]")
    serve.add_argument("--port", type=int, default=int(env("PORT", "8000") or 8000),
                       help="[env SCHOLAR_STATS_PORT; default 8000]")
    serve.add_argument("--no-scheduler", action="store_true", default=bool(env("NO_SCHEDULER")),
                       help="serve only; do not refresh [env SCHOLAR_STATS_NO_SCHEDULER]")
    _add_db(serve)
    _add_fetch_tuning(serve)
    _add_budget(serve)
    serve.add_argument(
        "--workers", type=_at_least_one, metavar="N",
        default=_env_default("WORKERS", "1", _at_least_one),
        help="worker processes sharing the port, each holding every author in memory; the "
        "scheduler then runs in the supervisor [env SCHOLAR_STATS_WORKERS; default 1]",
    )
    serve.set_defaults(handler="scholar_stats.service:cli_serve")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    module_name, func_name = args.handler.split(":")
    from .errors import ScholarStatsError

    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(args))
    except ScholarStatsError as exc:
        print(f"scholar-stats: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("scholar-stats: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        if env("DEBUG"):
            raise
        print(
            f"scholar-stats: internal error: {type(exc).__name__}: {exc} "
            "(set SCHOLAR_STATS_DEBUG=1 for a traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
