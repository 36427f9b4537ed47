"""Refreshing a tracked author: the one fetch path (``attempt_fetch``) plus the store's lease,
the hourly request budget and recording. Shared by ``refresh`` (cron) and the scheduler.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import FetchError
from .fetch import FetchOutcome, attempt_fetch
from .plan import utcnow
from .scholar import Deadline, ScholarClient
from .settings import FetchSettings
from .store import Store

log = logging.getLogger(__name__)

DEFAULT_REQUESTS_PER_HOUR = 30
PAGE_SIZE = 100  # publications per profile page


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
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if limit < 1:
            raise ValueError("the request budget must allow at least one request")
        self.store = store
        self.limit = limit
        self.window = timedelta(seconds=window)
        self.clock = clock

    def remaining(self) -> int:
        return max(0, self.limit - len(self.store.recent_requests(self.clock(), self.window)))

    def available_at(self, count: int) -> datetime:
        """When ``count`` requests (at most ``limit``) will be allowed."""
        count = min(max(count, 1), self.limit)
        now = self.clock()
        spent = self.store.recent_requests(now, self.window)
        excess = len(spent) + count - self.limit
        if excess <= 0:
            return now
        return spent[excess - 1] + self.window

    def take(self) -> None:
        if not self.store.take_request(self.clock(), self.window, self.limit):
            raise BudgetSpent(
                f"the budget of {self.limit} Scholar requests per "
                f"{self.window.total_seconds():.0f} s is spent; the author waits its turn"
            )


def expected_requests(store: Store, scholar_id: str) -> int:
    """Pages the last good profile needed (1 for an author never fetched)."""
    metrics = store.latest_metrics(scholar_id)
    pubs = metrics.publications if metrics is not None else 0
    return max(1, math.ceil(pubs / PAGE_SIZE))


FetchFunction = Callable[..., FetchOutcome]


@dataclass
class Refresher:
    """Fetches one tracked author at a time and records the outcome.

    ``fetch`` defaults to ``attempt_fetch`` (tests wrap it to watch for overlaps).
    """

    store: Store
    settings: FetchSettings
    budget: RequestBudget
    clock: Callable[[], datetime] = utcnow
    fetch: FetchFunction = attempt_fetch
    force: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # one fetch at a time in this process

    @property
    def lease_seconds(self) -> float:
        return self.settings.deadline + 60.0

    def refresh(
        self, scholar_id: str, *, deadline: Deadline | None = None,
        client: ScholarClient | None = None,
    ) -> FetchOutcome | None:
        """Fetch and record one author; ``None`` when it was not fetched (someone else holds its
        lease, or the budget cannot cover it). A refused or failed fetch keeps the stored data."""
        with self._lock:
            if self.budget.remaining() < min(expected_requests(self.store, scholar_id),
                                             self.budget.limit):
                return None
            if not self.store.claim(scholar_id, self.clock(), self.lease_seconds):
                log.info("%s is being fetched elsewhere; skipped", scholar_id)
                return None
            try:
                author = self.store.get_author(scholar_id)
                status = self.store.last_status(scholar_id)
                outcome = self.fetch(
                    scholar_id,
                    self.settings,
                    deadline or Deadline(self.settings.deadline),
                    previous=self.store.latest_metrics(scholar_id),
                    force=self.force,
                    last_success=status.last_success if status else None,
                    before_request=self.budget.take if client is None else None,
                    now=self.clock(),
                    client=client,
                )
            except BaseException:
                self.store.release(scholar_id)
                raise
            if isinstance(outcome.error, BudgetSpent):
                log.warning("%s: %s", scholar_id, outcome.error)
                self.store.release(scholar_id)
                return None
            if author is not None:
                self.store.record_outcome(outcome, self.clock())
            return outcome
