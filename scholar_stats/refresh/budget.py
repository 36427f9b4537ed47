"""The hourly request budget of each egress address, counted in the store and shared by every
process on it. (A source's own budget, as SerpApi's monthly searches, is the source's: see
``Source.budget``.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from scholar_stats import config
from scholar_stats.core.plan import utcnow
from scholar_stats.errors import FetchError
from scholar_stats.store.database import Store

DEFAULT_REQUESTS_PER_HOUR: int = config.default("requests_per_hour")


class BudgetSpent(FetchError):
    """The hourly request budget is used up: the author is deferred, not failed."""

    exit_code = 6
    kind = "budget"


class RequestBudget:
    """At most ``limit`` Scholar requests in any ``window`` seconds (every page and retry),
    counted in the store, so every process using it shares one budget: a cron ``refresh``
    next to a running ``schedule``, or the scheduler and the workers of ``serve --workers``,
    together stay within it, and a restart does not reset it.

    ``take`` is the ``before_request`` hook: it counts a request or refuses with
    ``BudgetSpent``.
    """

    def __init__(
        self, store: Store, limit: int = DEFAULT_REQUESTS_PER_HOUR, window: float = 3600.0,
        clock: Callable[[], datetime] = utcnow, egress: str = "",
    ) -> None:
        if limit < 1:
            raise ValueError("the request budget must allow at least one request")
        self.store = store
        self.limit = limit
        self.window = timedelta(seconds=window)
        self.clock = clock
        self.egress = egress  # the address's key: each address has a budget of its own

    def remaining(self) -> int:
        spent = self.store.recent_requests(self.clock(), self.window, self.egress)
        return max(0, self.limit - len(spent))

    def available_at(self, count: int) -> datetime:
        """When ``count`` requests (at most ``limit``) will be allowed."""
        count = min(max(count, 1), self.limit)
        now = self.clock()
        spent = self.store.recent_requests(now, self.window, self.egress)
        excess = len(spent) + count - self.limit
        if excess <= 0:
            return now
        return spent[excess - 1] + self.window

    def take(self) -> None:
        if not self.store.take_request(self.clock(), self.window, self.limit, self.egress):
            raise BudgetSpent(
                f"the budget of {self.limit} Scholar requests per "
                f"{self.window.total_seconds():.0f} s is spent; the author waits its turn"
            )
