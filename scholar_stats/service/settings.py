"""The service's settings: one frozen value, built from flags and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scholar_stats.service.snapshot import (
    DEFAULT_CACHE_BYTES,
    DEFAULT_CACHE_ITEMS,
)
from scholar_stats.settings import env_number

if TYPE_CHECKING:
    from scholar_stats.settings import FetchSettings


DEFAULT_MAX_AGE = 3600


DEFAULT_STALE_AGE = 7 * 86400.0


DEFAULT_INTERVAL = 86400.0


DEFAULT_POLL = 5.0


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs; built from flags and environment by :meth:`from_env`."""

    db_url: str | None = None
    max_age: int = DEFAULT_MAX_AGE  # Cache-Control max-age of public answers
    stale_age: float = DEFAULT_STALE_AGE  # data older than this is served grey / "stale"
    admin_token: str | None = field(default=None, repr=False)  # admin routes exist only if set
    # How often the store is checked for other processes' changes (a cron ``refresh``, the
    # supervisor's scheduler, another worker's admin request): two small queries when idle.
    poll_seconds: float = DEFAULT_POLL
    badge_cache: int = DEFAULT_CACHE_ITEMS  # rendered badges, charts, papers kept in memory
    badge_cache_bytes: int = DEFAULT_CACHE_BYTES  # ... and the bytes they may take
    scheduler: bool = True
    # ``serve --workers N``: the scheduler runs in the supervisor process, so an admin refresh
    # marks the author due in the store for it instead of fetching here.
    scheduler_elsewhere: bool = False
    fetch: FetchSettings | None = None  # Scholar access for the scheduler and admin refresh
    interval_seconds: float = DEFAULT_INTERVAL  # refresh interval of authors added over HTTP
    requests_per_hour: int = 30  # Scholar request budget of the scheduler and admin refreshes

    @classmethod
    def from_env(cls, **overrides: Any) -> ServiceSettings:
        """Env: SCHOLAR_STATS_MAX_AGE, _STALE_AGE, _ADMIN_TOKEN, _POLL_SECONDS, _BADGE_CACHE,
        _BADGE_CACHE_BYTES."""
        values: dict[str, Any] = {
            "db_url": os.environ.get("SCHOLAR_STATS_DB") or None,
            "max_age": int(env_number("MAX_AGE", DEFAULT_MAX_AGE)),
            "stale_age": env_number("STALE_AGE", DEFAULT_STALE_AGE),
            "admin_token": os.environ.get("SCHOLAR_STATS_ADMIN_TOKEN") or None,
            "poll_seconds": env_number("POLL_SECONDS", DEFAULT_POLL),
            "badge_cache": int(env_number("BADGE_CACHE", DEFAULT_CACHE_ITEMS)),
            "badge_cache_bytes": int(env_number("BADGE_CACHE_BYTES", DEFAULT_CACHE_BYTES)),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def service_settings(args: Any, **overrides: Any) -> ServiceSettings:
    """The service's settings from ``serve``'s parsed flags (which fall back to their env vars)."""
    from scholar_stats.settings import FetchSettings

    values: dict[str, Any] = {
        "db_url": getattr(args, "db", None),
        "scheduler": not getattr(args, "no_scheduler", False),
        "fetch": FetchSettings.from_args(args),
        "requests_per_hour": getattr(args, "requests_per_hour", None),
    }
    return ServiceSettings.from_env(**{**values, **overrides})
