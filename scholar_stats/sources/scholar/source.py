"""Google Scholar as a source: the site the profiles are on, asked through each egress address
in turn. Its cost is one request per 100 publications, counted per address (the engine's
hourly budget); it needs no settings beyond the fetch settings (``--proxy``, the URL)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from scholar_stats.settings import egress_key, egress_label
from scholar_stats.sources.source import Fetcher, Opening, Source

if TYPE_CHECKING:
    from scholar_stats.core.model import AuthorData, Metrics
    from scholar_stats.core.validate import Intake
    from scholar_stats.sources.scholar.client import ScholarClient


class ScholarFetcher:
    """Scholar through ``client`` (one egress address)."""

    def __init__(self, source: Source, client: ScholarClient, entry: str) -> None:
        self.source = source
        self.client = client
        self.egress: str | None = egress_key(entry)  # the address, as the store names it
        self.label = egress_label(entry)  # ... and as a message may name it

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    def fetch(self, scholar_id: str, now: datetime, previous: Metrics | None,
              intake: Intake) -> AuthorData:
        return self.client.fetch_author(scholar_id, now, intake)

    def close(self) -> None:
        self.client.close()


class Scholar(Source):
    name = "scholar"
    title = "Scholar"
    origin = True
    per_egress = True

    def open(self, opening: Opening) -> Fetcher:
        """A client through ``opening.egress``, its requests counted by the address's hourly
        budget when there is one (``take`` refuses a request past it)."""
        from scholar_stats.sources.scholar.client import ScholarClient

        budget = opening.budget
        client = ScholarClient(opening.settings.through(opening.egress), opening.deadline,
                               before_request=budget.take if budget is not None else None)
        return ScholarFetcher(self, client, opening.egress)


SCHOLAR = Scholar()
