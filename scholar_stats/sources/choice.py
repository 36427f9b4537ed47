"""Which source a fetch asks, behind one small interface the drivers share.

A ``Source`` fetches one ``AuthorData`` under the run's deadline (its client holds it), counts
its HTTP requests, and counts every page it receives in the attempt's ``Intake`` (shared by the
sources one attempt asks, so their pages together stay within its bounds). ``--source auto``
asks Scholar first and SerpApi only when Scholar blocks (exit 3) and ``SERPAPI_API_KEY`` is set;
``scholar`` never touches SerpApi; ``serpapi`` never touches Scholar. ``refresh/attempt.py``
walks the list ``open_sources`` returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from scholar_stats import config
from scholar_stats.core.model import AuthorData, Metrics
from scholar_stats.core.validate import Intake
from scholar_stats.errors import UsageError
from scholar_stats.net.deadline import Deadline
from scholar_stats.parsers import SOURCES, url_problem
from scholar_stats.settings import DIRECT, FetchSettings, egress_key, egress_label
from scholar_stats.sources.scholar.client import ScholarClient
from scholar_stats.sources.scholar.parse import PAGE_SIZE
from scholar_stats.sources.serpapi.client import SerpApiClient
from scholar_stats.sources.serpapi.parse import KEY_VARIABLE

NAMES = {"scholar": "Scholar", "serpapi": "SerpApi"}


class Source(Protocol):
    name: str  # "scholar" or "serpapi", as status.json records it

    @property
    def requests_made(self) -> int: ...

    def fetch(self, scholar_id: str, now: datetime, previous: Metrics | None,
              intake: Intake) -> AuthorData: ...

    def close(self) -> None: ...


class SearchBudget(Protocol):
    """SerpApi's monthly searches: in memory for ``fetch`` (``MonthlySearches``), in the store
    for the engine (``refresh.budget.MonthlySearchBudget``)."""

    def require(self, searches: int) -> None: ...

    def check(self) -> None: ...

    def spend(self) -> None: ...

    def refund(self) -> None: ...


class ScholarSource:
    """Scholar through ``client``; ``owned``: closing the source closes the client (not when
    the client is shared by a pass over several authors)."""

    name = "scholar"

    def __init__(self, client: ScholarClient, owned: bool = True) -> None:
        self.client = client
        self.owned = owned
        entry = client.settings.proxy or DIRECT
        self.egress = egress_key(entry)  # the address, as the store names it
        self.label = egress_label(entry)  # ... and as a message may name it

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    def fetch(self, scholar_id: str, now: datetime, previous: Metrics | None,
              intake: Intake) -> AuthorData:
        return self.client.fetch_author(scholar_id, now, intake)

    def close(self) -> None:
        if self.owned:
            self.client.close()


class SerpApiSource:
    name = "serpapi"

    def __init__(self, client: SerpApiClient, budget: SearchBudget | None) -> None:
        self.client = client
        self.budget = budget

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


@dataclass(frozen=True)
class SourceSettings:
    choice: str = config.default("source")
    serpapi_url: str = config.default("serpapi_url")
    serpapi_key: str | None = field(default=None, repr=False)  # never printed
    monthly_limit: int = config.default("serpapi_monthly_limit")

    def __post_init__(self) -> None:
        if self.choice not in SOURCES:
            raise UsageError(f"--source: expected one of {', '.join(SOURCES)}, "
                             f"got {self.choice!r}")
        problem = url_problem(self.serpapi_url, ("http", "https"))
        if problem:
            raise UsageError(f"SCHOLAR_STATS_SERPAPI_URL: {problem}")
        if self.choice == "serpapi" and not self.serpapi_key:
            raise UsageError(f"--source serpapi needs {KEY_VARIABLE}: set it to your SerpApi "
                             "key (in the Action: the serpapi-key input, from a secret)")

    @classmethod
    def from_args(cls, args: Any) -> SourceSettings:
        """From the settings ``args`` holds (a command's resolved namespace)."""
        return cls(
            choice=args.source,
            serpapi_url=args.serpapi_url,
            serpapi_key=(args.serpapi_api_key or "").strip() or None,
            monthly_limit=args.serpapi_monthly_limit,
        )

    @property
    def order(self) -> tuple[str, ...]:
        """The sources a fetch asks, in order; the next only when the one before blocks."""
        if self.choice == "serpapi":
            return ("serpapi",)
        if self.choice == "auto" and self.serpapi_key:
            return ("scholar", "serpapi")
        return ("scholar",)


def open_sources(sources: SourceSettings, settings: FetchSettings, deadline: Deadline,
                 budget: SearchBudget | None = None, *, order: tuple[str, ...] | None = None,
                 egresses: tuple[str, ...] | None = None,
                 scholar: Callable[[str], ScholarSource] | None = None) -> list[Source]:
    """The sources of one run, in ``order`` (``sources.order`` by default); close each when
    done. Scholar is one source per egress address (``egresses``, by default the whole pool,
    in order), each made by ``scholar`` when given (the engine's: a shared client, its
    address's budget), else with a client of its own."""
    opened: list[Source] = []
    for name in sources.order if order is None else order:
        if name == "scholar":
            for entry in settings.egresses if egresses is None else egresses:
                opened.append(scholar(entry) if scholar is not None else
                              ScholarSource(ScholarClient(settings.through(entry), deadline)))
        else:
            client = SerpApiClient(settings, deadline, sources.serpapi_key or "",
                                   base_url=sources.serpapi_url,
                                   before_request=budget.check if budget else None,
                                   on_answer=budget.spend if budget else None,
                                   on_unanswered=budget.refund if budget else None)
            opened.append(SerpApiSource(client, budget))
    return opened
