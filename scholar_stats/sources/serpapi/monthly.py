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


def refusal(month: str, limit: int, used: int, needed: int, what: str) -> Blocked | None:
    """The refusal of ``needed`` more searches when ``used`` of ``limit`` are spent in
    ``month``, or ``None`` when they fit. Pure: ``fetch``'s count (status.json) and the
    store's both decide here."""
    if used + needed <= limit:
        return None
    return Blocked(
        f"SerpApi: {what}: {used} of the {limit} searches allowed in {month} "
        "are spent (--serpapi-monthly-limit, SCHOLAR_STATS_SERPAPI_MONTHLY_LIMIT)")


@dataclass
class MonthlySearches:
    """The month's budget of SerpApi searches kept in memory (``fetch`` reads and writes it in
    status.json): ``check`` before every request, ``spend`` for each one SerpApi answered."""

    month: str
    limit: int
    used: int

    def require(self, searches: int) -> None:
        """Refuse to start a fetch that needs more searches than are left."""
        refused = refusal(self.month, self.limit, self.used, searches,
                          f"not started, it needs {searches} searches")
        if refused is not None:
            raise refused

    def check(self) -> None:
        """Refuse the next search when the limit is reached."""
        refused = refusal(self.month, self.limit, self.used, 1, "stopped before the next page")
        if refused is not None:
            raise refused

    def spend(self) -> None:
        self.used += 1

    def refund(self) -> None:
        """A search SerpApi did not answer: nothing was counted for it here."""
