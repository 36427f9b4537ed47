"""The hourly Scholar request budget and the monthly SerpApi search budget, counted in the store
and shared by every process on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from scholar_stats import config
from scholar_stats.core.plan import utcnow
from scholar_stats.errors import FetchError
from scholar_stats.sources.serpapi.monthly import month_of, refusal
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


class MonthlySearchBudget:
    """At most ``limit`` SerpApi searches in a calendar month (UTC), counted in the store like
    the hourly Scholar budget, so every process on it shares one count. ``check`` counts a
    search before it is sent (or refuses it); ``refund`` uncounts one SerpApi did not answer
    (it bills only answered searches). The decision is ``monthly.refusal``'s."""

    def __init__(self, store: Store, limit: int,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.limit = limit
        self.clock = clock
        self._counted_in: list[str] = []  # the month of each search counted and not settled

    def remaining(self) -> int:
        return max(0, self.limit - self.store.searches_in(month_of(self.clock())))

    def require(self, searches: int) -> None:
        """Refuse to start a fetch that needs more searches than are left this month."""
        month = month_of(self.clock())
        refused = refusal(month, self.limit, self.store.searches_in(month), searches,
                          f"not started, it needs {searches} searches")
        if refused is not None:
            raise refused

    def check(self) -> None:
        """Count the next search, or refuse it when the month's are spent."""
        month = month_of(self.clock())
        if self.store.take_search(month, self.limit) is None:
            raise refusal(month, self.limit, max(self.limit, self.store.searches_in(month)), 1,
                          "stopped before the next page") or BudgetSpent("unreachable")
        self._counted_in.append(month)

    def spend(self) -> None:
        """SerpApi answered the search ``check`` counted: it stays counted."""
        if self._counted_in:
            self._counted_in.pop()

    def refund(self) -> None:
        if self._counted_in:
            self.store.give_back_search(self._counted_in.pop())
