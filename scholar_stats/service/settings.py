"""The service's settings: one frozen value built from the declared settings (``config``) of
``serve``, passed to the app, and to each ``serve --workers`` worker as data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from scholar_stats import config
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.choice import SourceSettings

# SQLite's page cache of each of the service's connections (KiB; the store's default is 8 MiB):
# the service reads an author once and keeps its answers in its own memory, so a large cache per
# pooled connection (warm-up, render thread, poll) only holds pages never read again, up to
# 8 MiB each (157 MB against 135 MB seen with 10,000 authors when several had filled; see
# docs/scale.md).
SERVICE_PAGE_CACHE_KIB = 1024


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs; :func:`service_settings` builds it from ``serve``'s settings."""

    db_url: str | None = None
    max_age: int = config.default("max_age")  # Cache-Control max-age of public answers
    stale_age: float = config.default("stale_age")  # older data is served grey / "stale"
    admin_token: str | None = field(default=None, repr=False)  # admin routes exist only if set
    # How often the store is checked for other processes' changes (a cron ``refresh``, the
    # supervisor's scheduler, another worker's admin request, a group changed): four small
    # queries when idle.
    poll_seconds: float = config.default("poll_seconds")
    badge_cache: int = config.default("badge_cache")  # rendered badges, charts, papers in memory
    badge_cache_bytes: int = config.default("badge_cache_bytes")  # ... and the bytes they take
    scheduler: bool = True
    # ``serve --workers N``: the scheduler runs in the supervisor process, so an admin refresh
    # marks the author due in the store for it instead of fetching here.
    scheduler_elsewhere: bool = False
    fetch: FetchSettings | None = None  # Scholar access for the scheduler and admin refresh
    interval_seconds: float = config.default("interval")  # interval of authors added over HTTP
    requests_per_hour: int = config.default("requests_per_hour")  # Scholar request budget
    notify: tuple[str, ...] = field(default=(), repr=False)  # webhooks told of changes: secrets
    sources: SourceSettings | None = None  # Scholar, SerpApi or both (its key is never printed)
    # proxies whose X-Forwarded-Proto (the snippets' scheme) and X-Forwarded-For are believed
    forwarded_allow_ips: tuple[str, ...] = config.default("forwarded_allow_ips")

    def for_worker(self) -> ServiceSettings:
        """What a ``serve --workers N`` worker runs with: no scheduler of its own; an admin
        refresh leaves the author to the supervisor's scheduler when there is one."""
        return replace(self, scheduler=False, scheduler_elsewhere=self.scheduler)


def service_settings(args: Any) -> ServiceSettings:
    """The service's settings from ``serve``'s resolved settings (flags, variables, defaults)."""
    return ServiceSettings(
        db_url=args.db,
        max_age=args.max_age,
        stale_age=args.stale_age,
        admin_token=args.admin_token,
        poll_seconds=args.poll_seconds,
        badge_cache=args.badge_cache,
        badge_cache_bytes=args.badge_cache_bytes,
        scheduler=not args.no_scheduler,
        fetch=FetchSettings.from_args(args),
        interval_seconds=args.interval,
        requests_per_hour=args.requests_per_hour,
        notify=tuple(args.notify),
        sources=SourceSettings.from_args(args),
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
