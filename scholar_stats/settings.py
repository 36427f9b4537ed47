"""How to reach Scholar: one frozen value built from flags and environment, passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import UsageError

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
            check_url(self.proxy, "--proxy", ("http", "https", "socks5", "socks5h"))

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
            attempts=int(env_number("ATTEMPTS", cls.attempts)),
            backoff=env_number("BACKOFF", cls.backoff),
        )


def env_number(name: str, default: float) -> float:
    """``SCHOLAR_STATS_<name>`` as a finite number >= 0, ``default`` when unset; else exit 2."""
    raw = os.environ.get(f"SCHOLAR_STATS_{name}")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"SCHOLAR_STATS_{name} must be a finite number >= 0, got {raw!r}")
    return value


def check_url(url: str, name: str, schemes: tuple[str, ...]) -> None:
    """Refuse a URL we cannot use, without ever echoing its credentials."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise UsageError(f"{name} is not a valid URL") from None
    if parts.scheme not in schemes or not parts.hostname:
        raise UsageError(
            f"{name} must be a URL like {schemes[0]}://host:port "
            f"(schemes: {', '.join(schemes)}); got {redact_url(url)!r}"
        )


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
