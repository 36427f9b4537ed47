"""How to reach Scholar: one frozen value built from the declared settings (``config``), passed
down to the client and every fetch. Its defaults are the declared ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scholar_stats import config
from scholar_stats.errors import UsageError
from scholar_stats.parsers import PROXY_SCHEMES, url_problem

# A current desktop browser; Scholar serves its normal markup to it.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)

FETCH_FIELDS = ("scholar_url", "proxy", "deadline", "delay", "timeout", "attempts", "backoff")


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

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise UsageError("SCHOLAR_STATS_ATTEMPTS must be at least 1")
        for value, name, schemes in ((self.scholar_url, "SCHOLAR_STATS_SCHOLAR_URL",
                                      ("http", "https")), (self.proxy, "--proxy", PROXY_SCHEMES)):
            problem = value and url_problem(value, schemes)
            if problem:
                raise UsageError(f"{name}: {problem}")

    @classmethod
    def from_args(cls, args: Any) -> FetchSettings:
        """From the settings ``args`` holds (a command's resolved namespace); any it lacks are
        resolved as ``fetch`` would (variable, then default)."""
        values = {name: getattr(args, name) for name in FETCH_FIELDS if hasattr(args, name)}
        if len(values) < len(FETCH_FIELDS):
            values = {**config.resolve("fetch", values), **values}
        return cls(**{name: values[name] for name in FETCH_FIELDS})
