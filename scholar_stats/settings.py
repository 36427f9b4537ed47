"""How to reach Scholar: one frozen value built from flags and environment, passed down.

Also the parsers every setting is read with, whether it comes from a flag or from its
``SCHOLAR_STATS_*`` variable: pure functions that return the value or raise ``ValueError`` with
a message meant for a person ("expected ..., got ..."); the caller names the flag or variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scholar_stats.errors import UsageError

ENV_PREFIX = "SCHOLAR_STATS_"
T = TypeVar("T")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def parse_bool(text: str) -> bool:
    """true/false, 1/0, yes/no, on/off in any case: anything else is a mistake, not "true"."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"expected true/false, 1/0, yes/no or on/off, got {text!r}")


def parse_seconds(text: str) -> float:
    """A finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"expected a finite number >= 0, got {text!r}")
    return value


def parse_count(text: str) -> int:
    """A whole number >= 1 (workers, attempts, requests per hour)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def parse_interval(text: str) -> float:
    """A refresh interval: more than 0 s, at most ``plan.MAX_INTERVAL`` (as ``POST /authors``)."""
    from scholar_stats.core.plan import MAX_INTERVAL

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_INTERVAL:  # NaN fails too
        raise ValueError(
            f"expected seconds, more than 0 and at most {MAX_INTERVAL:g} (365 days), got {text!r}"
        )
    return value


def parse_port(text: str) -> int:
    """A TCP port 1-65535, or 0 for "let the system pick one"."""
    if not text.strip().isdigit() or int(text) > 65535:
        raise ValueError(f"expected a port number 1-65535 (0 picks a free one), got {text!r}")
    return int(text)


SOURCES = ("auto", "scholar", "serpapi")


def parse_source(text: str) -> str:
    """Where profiles come from: auto (Scholar, then SerpApi when blocked), scholar, serpapi."""
    word = text.strip().lower()
    if word not in SOURCES:
        raise ValueError(f"expected one of {', '.join(SOURCES)}, got {text!r}")
    return word


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def parse_proxy_url(text: str) -> str:
    """A proxy URL we can use; the message never echoes its password."""
    problem = url_problem(text, PROXY_SCHEMES)
    if problem:
        raise ValueError(problem)
    return text


def read_env(name: str, default: T, parse: Callable[[str], T]) -> T:
    """``SCHOLAR_STATS_<name>`` read with ``parse``; ``default`` when unset or empty. A bad value
    is a usage error (exit 2) naming the variable."""
    raw = os.environ.get(ENV_PREFIX + name)
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise UsageError(f"{ENV_PREFIX}{name}: {exc}") from None


DEFAULT_SCHOLAR_URL = "https://scholar.google.com"

# A current desktop browser; Scholar serves its normal markup to it.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class FetchSettings:
    scholar_url: str = DEFAULT_SCHOLAR_URL
    proxy: str | None = None
    deadline: float = 300.0  # seconds for the whole run: nothing sleeps or waits past it
    delay: float = 5.0  # politeness delay between pages, jittered +-50 %
    timeout: float = 20.0  # one request
    attempts: int = 3  # tries per page for transient failures
    backoff: float = 2.0  # first retry wait; doubles each time (jittered)
    user_agent: str = DEFAULT_USER_AGENT

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise UsageError("SCHOLAR_STATS_ATTEMPTS must be at least 1")
        check_url(self.scholar_url, "SCHOLAR_STATS_SCHOLAR_URL", ("http", "https"))
        if self.proxy:
            check_url(self.proxy, "--proxy", PROXY_SCHEMES)

    @classmethod
    def from_args(cls, args: Any) -> FetchSettings:
        """From the parsed CLI flags (which already fall back to their env vars), plus the
        env-only tuning knobs SCHOLAR_STATS_SCHOLAR_URL, _TIMEOUT, _ATTEMPTS and _BACKOFF."""
        return cls(
            scholar_url=os.environ.get("SCHOLAR_STATS_SCHOLAR_URL") or DEFAULT_SCHOLAR_URL,
            proxy=getattr(args, "proxy", None) or None,
            deadline=float(getattr(args, "deadline", cls.deadline)),
            delay=float(getattr(args, "delay", cls.delay)),
            timeout=env_number("TIMEOUT", cls.timeout),
            attempts=read_env("ATTEMPTS", cls.attempts, parse_count),
            backoff=env_number("BACKOFF", cls.backoff),
        )


def env_number(name: str, default: float) -> float:
    """``SCHOLAR_STATS_<name>`` as a finite number >= 0, ``default`` when unset; else exit 2."""
    return read_env(name, default, parse_seconds)


def check_url(url: str, name: str, schemes: tuple[str, ...]) -> None:
    """Refuse a URL we cannot use, without ever echoing its credentials."""
    problem = url_problem(url, schemes)
    if problem:
        raise UsageError(f"{name}: {problem}")


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with ``url`` (credentials redacted), or ``None`` when it is usable."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in schemes or not parts.hostname:
        return (f"expected a URL like {schemes[0]}://host:port (schemes: {', '.join(schemes)}), "
                f"got {redact_url(url)!r}")
    return None


def redact_url(url: str) -> str:
    """``socks5://user:secret@host:1080`` → ``socks5://***@host:1080``: safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()
