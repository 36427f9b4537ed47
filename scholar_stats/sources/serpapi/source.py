"""SerpApi as a source: the same Scholar profile, fetched from SerpApi's addresses. A fallback
under ``--source auto`` (asked only when Scholar blocks), and only with a key; its cost is one
search per 100 publications, at most ``--serpapi-monthly-limit`` a month (``monthly.py``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scholar_stats import config
from scholar_stats.errors import UsageError
from scholar_stats.parsers import url_problem
from scholar_stats.settings import DIRECT
from scholar_stats.sources.serpapi.monthly import FolderSearches, StoreSearches, month_of, spent_in
from scholar_stats.sources.serpapi.parse import KEY_VARIABLE, PAGE_SIZE
from scholar_stats.sources.source import Fetcher, Opening, Source

if TYPE_CHECKING:
    from scholar_stats.core.model import AuthorData, FetchStatus, Metrics
    from scholar_stats.core.validate import Intake
    from scholar_stats.sources.serpapi.client import SerpApiClient
    from scholar_stats.store.database import Store

@dataclass(frozen=True)
class SerpApiOptions:
    """What SerpApi needs from the settings."""

    url: str = config.default("serpapi_url")
    key: str | None = field(default=None, repr=False)  # never printed
    monthly_limit: int = config.default("serpapi_monthly_limit")


class SerpApiFetcher:
    def __init__(self, source: Source, client: SerpApiClient, budget: Any) -> None:
        self.source = source
        self.client = client
        self.budget = budget
        self.egress: str | None = None  # asked directly, never through the Scholar pool
        self.label = DIRECT

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    def fetch(self, scholar_id: str, now: datetime, previous: Metrics | None,
              intake: Intake) -> AuthorData:
        """Not started when the month's searches left cannot cover the pages the author had
        last time (one when unknown); the client stops before any page past the limit."""
        if self.budget is not None:
            pages = max(1, math.ceil(previous.publications / PAGE_SIZE)) if previous else 1
            self.budget.require(pages)
        return self.client.fetch_author(scholar_id, now, intake)

    def close(self) -> None:
        self.client.close()


class SerpApi(Source):
    name = "serpapi"
    title = "SerpApi"
    fallback = True

    def options(self, args: Any) -> SerpApiOptions:
        return SerpApiOptions(url=args.serpapi_url,
                              key=(args.serpapi_api_key or "").strip() or None,
                              monthly_limit=args.serpapi_monthly_limit)

    def check(self, options: SerpApiOptions | None) -> None:
        problem = url_problem((options or SerpApiOptions()).url, ("http", "https"))
        if problem:
            raise UsageError(f"SCHOLAR_STATS_SERPAPI_URL: {problem}")

    def missing(self, options: SerpApiOptions | None) -> str | None:
        if options is None or not options.key:
            return (f"--source serpapi needs {KEY_VARIABLE}: set it to your SerpApi key (in the "
                    "Action: the serpapi-key input, from a secret)")
        return None

    def open(self, opening: Opening) -> Fetcher:
        """A client whose every search is counted by the run's budget, when there is one."""
        from scholar_stats.sources.serpapi.client import SerpApiClient

        options, budget = opening.options or SerpApiOptions(), opening.budget
        client = SerpApiClient(opening.settings, opening.deadline, options.key or "",
                               base_url=options.url,
                               before_request=budget.check if budget else None,
                               on_answer=budget.spend if budget else None,
                               on_unanswered=budget.refund if budget else None)
        return SerpApiFetcher(self, client, budget)

    def ledger(self, options: SerpApiOptions | None, statuses: Iterable[FetchStatus | None],
               now: datetime, asked: bool) -> FolderSearches:
        month, statuses = month_of(now), list(statuses)
        limit = (options or SerpApiOptions()).monthly_limit
        return FolderSearches(month, limit, spent_in(month, statuses) if asked else 0, asked)

    def budget(self, store: Store, options: SerpApiOptions | None,
               clock: Any) -> StoreSearches:
        return StoreSearches(store, (options or SerpApiOptions()).monthly_limit, clock)

    def gauges(self, store: Store, now: datetime) -> Mapping[str, tuple[str, float]]:
        return {"scholar_stats_store_serpapi_searches_month": (
            "SerpApi searches counted against the shared monthly budget this calendar month",
            store.searches_in(month_of(now)))}


SERPAPI = SerpApi()
