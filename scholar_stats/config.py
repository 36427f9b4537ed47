"""Every setting, declared once: its name, flag, environment variable, parser, default, help and
the commands that use it. The command line is generated from this table (cli.py), and so are the
tables of docs/settings.md and docs/commands.md (docs/gen_reference.py); this is the only module
that reads ``os.environ`` for settings.

A setting is read, and validated, only by the commands that use it: a bad
``SCHOLAR_STATS_PORT`` concerns ``serve`` alone. A flag wins over its variable, an empty
variable counts as unset, and a bad value is a ``UsageError`` (exit 2) naming the variable.

Why a small table over the standard library rather than pydantic-settings: that library is not
installed with the lean install (``fetch``, ``publish`` and the Action need only scholarly and
httpx) and would bring pydantic to every run, adds its import time to every command (``--help``
included), and builds no argparse flags, so the flags, their help and the "only the commands
that use it" rule would still be written here. What it would add (parsing and validation) is a
few pure functions in ``parsers.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scholar_stats.core.plan import STALE_AGE
from scholar_stats.errors import UsageError
from scholar_stats.notify.urls import parse_webhook_urls
from scholar_stats.parsers import (
    parse_bool,
    parse_count,
    parse_interval,
    parse_port,
    parse_proxy_pool,
    parse_scholar_url,
    parse_seconds,
    parse_serpapi_url,
    parse_size,
    parse_source,
    parse_trusted_proxies,
)

PREFIX = "SCHOLAR_STATS_"

STORE_COMMANDS = frozenset({"authors add", "authors remove", "authors list", "groups add",
                            "groups remove", "groups list", "groups show", "refresh",
                            "history", "export", "schedule", "serve"})
COMMANDS = STORE_COMMANDS | {"fetch", "publish", "site"}  # the command line's; "action": the Action
FETCHING = frozenset({"fetch", "refresh", "schedule", "serve", "site"})
PACED = frozenset({"refresh", "schedule", "serve"})


@dataclass(frozen=True)
class Setting:
    """One setting. ``flag``: its command-line flag (none: environment only); ``switch``: an
    on/off flag that takes no value (its variable is read with parse_bool); ``env``: the
    variable when it is not ``SCHOLAR_STATS_<NAME>``; ``shown``: the default as people read it;
    ``secret``: a token, never printed (``repr=False`` where it is kept); ``external``: read by
    another program from the environment (git), not by scholar-stats; ``many``: the flag is
    repeatable, each use read with ``parse`` (which reads a list, as the variable holds one) and
    the lists joined."""

    name: str
    default: Any
    help: str
    commands: frozenset[str]
    parse: Callable[[str], Any] = str
    flag: str | None = None
    short: str | None = None
    metavar: str | None = None
    switch: bool = False
    env: str | None = None
    shown: str | None = None
    secret: bool = False
    external: bool = False
    many: bool = False

    @property
    def variable(self) -> str:
        return self.env or PREFIX + self.name.upper()

    @property
    def shown_default(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.switch:
            return "off"
        if self.default is None:
            return "none"
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)


def declare(name: str, default: Any, help: str, commands: str | set[str] | frozenset[str],
            **more: Any) -> Setting:
    """A :class:`Setting`; ``commands`` may be one command's name."""
    return Setting(name, default, help, frozenset({commands} if isinstance(commands, str)
                                                  else commands), **more)


SETTINGS: tuple[Setting, ...] = (
    # every command
    declare("verbose", False, "log every request and retry to stderr",
            COMMANDS, flag="--verbose", short="-v", switch=True),
    declare("debug", False, "a traceback instead of the one-line internal error",
            COMMANDS, parse=parse_bool, shown="off"),
    # Scholar
    declare("out", "results", "output folder (`site` without --from: where its fetch keeps the "
            "results, as `fetch` does)", {"fetch", "export", "site"}, flag="--out", metavar="DIR"),
    declare("proxy", None, "proxy for Scholar requests: http://, https:// or "
            "socks5://user:pass@host:port, or `direct`; give it several times (the variable: "
            "a comma list) for a pool, tried in order when one is blocked, each with its own "
            "pause and hourly budget; the password is never printed",
            FETCHING, parse=parse_proxy_pool, flag="--proxy", metavar="URL", many=True),
    declare("deadline", 300.0, "the whole run ends by then: no request, retry or sleep goes "
            "past it", FETCHING, parse=parse_seconds, flag="--deadline", metavar="SECONDS"),
    declare("delay", 5.0, "politeness delay between Scholar pages, jittered ±50 %",
            FETCHING, parse=parse_seconds, flag="--delay", metavar="SECONDS"),
    declare("force", False, "write even when the plausibility gate refuses the new numbers",
            {"fetch", "site"}, flag="--force", switch=True),
    declare("scholar_url", "https://scholar.google.com", "another base URL: a mirror, or a "
            "test server", FETCHING, parse=parse_scholar_url),
    declare("timeout", 20.0, "seconds for one request",
            FETCHING, parse=parse_seconds),
    declare("attempts", 3, "tries per page for transient failures",
            FETCHING, parse=parse_count),
    declare("backoff", 2.0, "first retry wait in seconds, doubled each time, jittered",
            FETCHING, parse=parse_seconds),
    # a homepage's source tree
    declare("site", ".", "the site's source folder (its _config.yml, hugo.toml, ...), where "
            "`site` writes the theme's files", "site", flag="--site", metavar="DIR"),
    declare("from_results", None, "take the numbers from this results folder (as `fetch --out` "
            "wrote it: gs_data.json, or ID/gs_data.json for several authors) and make no "
            "request", "site", env=PREFIX + "FROM", flag="--from", metavar="RESULTS",
            shown="none: fetch"),
    # SerpApi, the second source
    declare("source", "auto", "where profiles come from: auto asks Scholar, then SerpApi when "
            "Scholar blocks and SERPAPI_API_KEY is set; scholar; serpapi",
            FETCHING, parse=parse_source, flag="--source", metavar="SOURCE"),
    declare("serpapi_url", "https://serpapi.com", "SerpApi's base URL: another one for tests",
            FETCHING, parse=parse_serpapi_url),
    declare("serpapi_api_key", None, "your SerpApi key; in the Action, the serpapi-key input, "
            "from a secret", FETCHING, env="SERPAPI_API_KEY", secret=True,
            shown="none: SerpApi is not used"),
    declare("serpapi_monthly_limit", 100, "at most N SerpApi searches (one per 100 "
            "publications) in a calendar month (UTC): counted in the store, shared by every "
            "process on it; for `fetch`, in each output folder's status.json",
            FETCHING, parse=parse_count, flag="--serpapi-monthly-limit", metavar="N"),
    # notifications
    declare("notify", (), "POST a message to this webhook (Slack, Discord or generic JSON) for "
            "each fetch that found changes; repeatable; the variable: URLs separated by commas "
            "or spaces", FETCHING,
            parse=parse_webhook_urls, many=True, flag="--notify", metavar="URL",
            secret=True, shown="none"),
    # publishing
    declare("branch", "google-scholar-stats", "the branch the files are published to",
            {"publish", "action"}, flag="--branch", metavar="NAME"),
    declare("remote", "origin", "the remote pushed to: a configured remote, a URL or a path",
            {"publish", "action"}, flag="--remote", metavar="NAME"),
    declare("repo", ".", "the git repository (the Action: the workflow's workspace)",
            {"publish", "action"}, flag="--repo", metavar="PATH"),
    declare("message", None, "commit message",
            {"publish", "action"}, flag="--message", metavar="TEXT"),
    declare("squash", False, "replace the branch with a single commit",
            "publish", flag="--squash", switch=True),
    declare("github_token", None, "token git pushes with, handed to git by a credential helper "
            "through its environment: never in a URL, an argument or a file",
            {"publish", "action"}, env="GITHUB_TOKEN", secret=True, external=True),
    declare("scholar_id", "", "the Action's `scholar-id` input: ids or profile URLs separated "
            "by spaces, commas or newlines", "action", env="SCHOLAR_IDS", shown="none: required"),
    declare("fail_on_block", False, "the Action's `fail-on-block` input: a blocked fetch fails "
            "the job", "action", env="FAIL_ON_BLOCK", parse=parse_bool, shown="off"),
    # the store and refreshing
    declare("db", None, "the store: a SQLite file's path (~ expanded; the file is made, its "
            "folder must exist) or a SQLAlchemy URL (sqlite:///PATH, "
            "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE, ...)",
            STORE_COMMANDS, flag="--db", metavar="PATH_OR_URL",
            shown="a SQLite file in the user data directory"),
    declare("interval", 86400.0, "refresh interval of the authors added (by `serve`: over HTTP)",
            {"authors add", "serve"}, parse=parse_interval, flag="--interval",
            metavar="SECONDS"),
    declare("requests_per_hour", 30, "at most N Scholar requests (every page and retry) in any "
            "hour", PACED, parse=parse_count, flag="--requests-per-hour", metavar="N"),
    declare("stale_age", STALE_AGE, "data older than this many seconds is marked stale (grey "
            "badges)", {"export", "serve"}, parse=parse_seconds, shown="604800 (7 days)"),
    # the service
    declare("host", "127.0.0.1", "address to listen on",
            "serve", flag="--host", metavar="HOST"),
    declare("port", 8000, "1-65535, or 0 to let the system pick a free port (the log line "
            "names it)", "serve", parse=parse_port, flag="--port", metavar="PORT"),
    declare("no_scheduler", False, "serve only; do not refresh",
            "serve", flag="--no-scheduler", switch=True),
    declare("workers", 1, "worker processes sharing the port, each holding every author in "
            "memory; the scheduler then runs in the supervisor",
            "serve", parse=parse_count, flag="--workers", metavar="N"),
    declare("forwarded_allow_ips", ("127.0.0.1", "::1"), "the proxies trusted to say the "
            "scheme the page was asked with (`X-Forwarded-Proto`: the pages' snippets say "
            "https behind a TLS proxy) and the client's address (`X-Forwarded-For`): IP "
            "addresses or networks separated by commas, or * for any",
            "serve", parse=parse_trusted_proxies, shown="127.0.0.1,::1 (a proxy on this machine)"),
    declare("admin_token", None, "enables the admin routes: `Authorization: Bearer <token>`",
            "serve", secret=True, shown="none: no admin routes"),
    declare("max_age", 3600, "`Cache-Control: max-age` of public answers, in seconds",
            "serve", parse=parse_size),
    declare("poll_seconds", 5.0, "how often the store is checked for other processes' changes",
            "serve", parse=parse_seconds),
    declare("badge_cache", 10000, "rendered badges, charts and paper endpoints kept in memory",
            "serve", parse=parse_size),
    declare("badge_cache_bytes", 32 * 2**20, "the bytes those may take",
            "serve", parse=parse_size, shown="33554432 (32 MiB)"),
)

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


def default(name: str) -> Any:
    """The declared default of setting ``name``: the one place each default is written."""
    return BY_NAME[name].default


def settings_of(command: str) -> list[Setting]:
    """The settings ``command`` uses, in declaration order."""
    return [s for s in SETTINGS if command in s.commands and not s.external]


def read_variable(setting: Setting, environ: Mapping[str, str] | None = None,
                  fallback: Any = None) -> Any:
    """The setting's variable read with its parser; when unset or empty, ``fallback`` if given,
    else the declared default."""
    raw = (os.environ if environ is None else environ).get(setting.variable)
    if not raw:
        return setting.default if fallback is None else fallback
    parse = parse_bool if setting.switch else setting.parse
    try:
        return parse(raw)
    except ValueError as exc:
        raise UsageError(f"{setting.variable}: {exc}") from None


def resolve(command: str, given: Mapping[str, Any] | None = None,
            environ: Mapping[str, str] | None = None,
            defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every setting ``command`` uses: the value ``given`` (a flag, already parsed) when there
    is one, else its variable (from ``environ``, the process environment by default), else its
    default (``defaults`` overrides the declared one, as the Action does for its workspace).
    A bad variable is a ``UsageError`` naming it."""
    given = given or {}
    defaults = defaults or {}
    return {
        setting.name: given[setting.name] if given.get(setting.name) is not None
        else read_variable(setting, environ, defaults.get(setting.name))
        for setting in settings_of(command)
    }
