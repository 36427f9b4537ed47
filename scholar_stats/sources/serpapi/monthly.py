"""SerpApi's cost: one search per page, at most ``--serpapi-monthly-limit`` in a calendar month
(UTC here). Like SerpApi's own count (its Account API documentation), only answered searches
count, not errors. Counted two ways, decided by the same ``refusal``:

- for ``fetch``, which has no store, in the ``status.json`` of each output folder
  (``FolderSearches``), so the Action's daily runs (which keep only the results folder) respect
  the limit too;
- for the engine, in the store (``StoreSearches``), shared by every process on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from scholar_stats.core.model import FetchStatus
from scholar_stats.errors import Blocked

if TYPE_CHECKING:
    from scholar_stats.store.database import Store


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
class FolderSearches:
    """The month's SerpApi searches for ``fetch``, kept in memory and written into each folder's
    status.json: ``check`` before every request, ``spend`` for each one SerpApi answered.
    ``asked``: SerpApi is one of the run's sources (else the folders' counts are only carried
    over)."""

    month: str
    limit: int
    used: int
    asked: bool = True
    _started: int = field(default=0, repr=False)

    @property
    def budget(self) -> FolderSearches | None:
        return self if self.asked else None

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

    def begin(self) -> None:
        """An author's fetch starts: ``note`` counts what it spends from here."""
        self._started = self.used

    def note(self, status: FetchStatus, previous: FetchStatus | None) -> FetchStatus:
        """``status`` with the month's searches of its folder (its ``previous`` status's, plus
        those spent now), so the next run knows them; left out while none were ever counted."""
        before, spent = spent_by(self.month, previous), self.used - self._started
        if not self.asked and not before and not spent:
            return status
        return replace(status, serpapi_month=self.month, serpapi_searches=before + spent)


class StoreSearches:
    """At most ``limit`` SerpApi searches in a calendar month (UTC), counted in the store like
    the hourly Scholar budget, so every process on it shares one count. ``check`` counts a
    search before it is sent (or refuses it); ``refund`` uncounts one SerpApi did not answer
    (it bills only answered searches)."""

    def __init__(self, store: Store, limit: int, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.limit = limit
        self.clock = clock
        self._counted_in: list[str] = []  # the month of each search counted and not settled

    def remaining(self) -> int:
        return max(0, self.limit - self.store.searches_in(month_of(self.clock())))

    def describe(self) -> str:
        return f"the {self.limit} SerpApi searches allowed this month ({self.remaining()} left)"

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
            used = max(self.limit, self.store.searches_in(month))
            raise refusal(month, self.limit, used, 1, "stopped before the next page") or \
                Blocked("unreachable: the searches were spent")
        self._counted_in.append(month)

    def spend(self) -> None:
        """SerpApi answered the search ``check`` counted: it stays counted."""
        if self._counted_in:
            self._counted_in.pop()

    def refund(self) -> None:
        if self._counted_in:
            self.store.give_back_search(self._counted_in.pop())

