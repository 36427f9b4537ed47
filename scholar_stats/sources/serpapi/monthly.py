"""The month's SerpApi searches for ``fetch`` without a store: counted in the ``status.json`` of
each output folder, so the Action's daily runs (which keep only the results folder) respect the
limit too. A SerpApi plan is counted per calendar month (UTC here), every page a search; like
SerpApi's own count (its Account API documentation), only answered searches count, not errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from scholar_stats.core.model import FetchStatus
from scholar_stats.errors import Blocked


def month_of(when: datetime) -> str:
    return when.strftime("%Y-%m")


def spent_in(month: str, statuses: Iterable[FetchStatus | None]) -> int:
    """The searches the folders' last statuses record for ``month``."""
    return sum(s.serpapi_searches for s in statuses if s is not None and s.serpapi_month == month)


def spent_by(month: str, status: FetchStatus | None) -> int:
    return spent_in(month, [status])


@dataclass
class MonthlySearches:
    """The month's budget of SerpApi searches: ``check`` before every request, ``spend`` for each
    one SerpApi answered."""

    month: str
    limit: int
    used: int

    def _refusal(self, what: str) -> Blocked:
        return Blocked(
            f"SerpApi: {what}: {self.used} of the {self.limit} searches allowed in {self.month} "
            "are spent (--serpapi-monthly-limit, SCHOLAR_STATS_SERPAPI_MONTHLY_LIMIT)")

    def require(self, searches: int) -> None:
        """Refuse to start a fetch that needs more searches than are left."""
        if self.used + searches > self.limit:
            raise self._refusal(f"not started, it needs {searches} searches")

    def check(self) -> None:
        """Refuse the next search when the limit is reached."""
        if self.used >= self.limit:
            raise self._refusal("stopped before the next page")

    def spend(self) -> None:
        self.used += 1
