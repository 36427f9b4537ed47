"""How to reach Scholar: one frozen value built from the declared settings (``config``), passed
down to the client and every fetch. Its defaults are the declared ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from scholar_stats import config
from scholar_stats.errors import UsageError
from scholar_stats.parsers import PROXY_SCHEMES, redact_url, url_problem

# A current desktop browser; Scholar serves its normal markup to it.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)

FETCH_FIELDS = ("scholar_url", "proxy", "deadline", "delay", "timeout", "attempts", "backoff")
DIRECT = "direct"  # the pool entry that means no proxy


def egress_label(entry: str) -> str:
    """A pool entry as it may be printed: ``direct``, or the proxy URL without its password."""
    return DIRECT if entry == DIRECT else redact_url(entry)


def egress_key(entry: str) -> str:
    """A pool entry's name in the store: "" for ``direct`` (the keys of a store from before
    the pool), else a digest of its printable label (never of the password)."""
    if entry == DIRECT:
        return ""
    return hashlib.sha256(egress_label(entry).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FetchSettings:
    scholar_url: str = config.default("scholar_url")
    proxy: str | None = None
    deadline: float = config.default("deadline")  # the whole run: nothing waits past it
    delay: float = config.default("delay")  # politeness delay between pages, jittered +-50 %
    timeout: float = config.default("timeout")  # one request
    attempts: int = config.default("attempts")  # tries per page for transient failures
    backoff: float = config.default("backoff")  # first retry wait; doubles each time (jittered)
    user_agent: str = DEFAULT_USER_AGENT
    # the pool of egress addresses (proxy URLs and "direct"), tried in order; ``proxy`` is the
    # one this value's client goes through (``through``)
    pool: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise UsageError("SCHOLAR_STATS_ATTEMPTS must be at least 1")
        for value, name, schemes in ((self.scholar_url, "SCHOLAR_STATS_SCHOLAR_URL",
                                      ("http", "https")), (self.proxy, "--proxy", PROXY_SCHEMES)):
            problem = value and url_problem(value, schemes)
            if problem:
                raise UsageError(f"{name}: {problem}")

    @property
    def egresses(self) -> tuple[str, ...]:
        return self.pool or (self.proxy or DIRECT,)

    def through(self, entry: str) -> FetchSettings:
        """These settings with Scholar asked through pool entry ``entry``."""
        return replace(self, proxy=None if entry == DIRECT else entry)

    @classmethod
    def from_args(cls, args: Any) -> FetchSettings:
        """From the settings ``args`` holds (a command's resolved namespace); any it lacks are
        resolved as ``fetch`` would (variable, then default)."""
        values = {name: getattr(args, name) for name in FETCH_FIELDS if hasattr(args, name)}
        if len(values) < len(FETCH_FIELDS):
            values = {**config.resolve("fetch", values), **values}
        proxies = values.pop("proxy")
        pool = (proxies,) if isinstance(proxies, str) else tuple(proxies or ())
        values["proxy"] = None if not pool or pool[0] == DIRECT else pool[0]
        return cls(**{name: values[name] for name in FETCH_FIELDS},
                   pool=pool if len(pool) > 1 else ())
