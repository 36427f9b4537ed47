"""Refreshing a tracked author: the one fetch path (``attempt_fetch``) plus the store's lease,
the hourly request budget and recording. Shared by ``refresh`` (cron) and the scheduler.

Every attempt that took the lease is recorded, an unexpected exception too (outcome
"internal", exit 1), and the lease is given up in a ``finally``: a bug or a database error never
leaves an author locked and its attempt unrecorded.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scholar_stats import config
from scholar_stats.core.model import FetchStatus
from scholar_stats.core.plan import DAY, utcnow
from scholar_stats.errors import (
    AuthorBusy,
    FetchError,
    ScholarStatsError,
    StoreUnavailable,
)
from scholar_stats.net.deadline import Deadline
from scholar_stats.refresh.attempt import FetchOutcome, attempt_fetch
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.scholar.client import ScholarClient
from scholar_stats.sources.scholar.parse import PAGE_SIZE
from scholar_stats.store.database import Store
from scholar_stats.store.values import Lease

log = logging.getLogger(__name__)

DEFAULT_REQUESTS_PER_HOUR: int = config.default("requests_per_hour")
MAX_LEASE = DAY  # a lease outlives the deadline by a minute, but never a day (no overflow)


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
        return min(self.settings.deadline, MAX_LEASE) + 60.0

    def refresh(
        self, scholar_id: str, *, deadline: Deadline | None = None,
        client: ScholarClient | None = None, due_only: bool = False,
    ) -> FetchOutcome | None:
        """Fetch and record one author. A refused or failed fetch keeps the stored data.

        ``None`` when it was not fetched: the budget cannot cover it, or, with ``due_only`` (a
        pass over the due authors), it is no longer due because another process has just
        fetched it. ``AuthorBusy`` when another live process is fetching it now.
        """
        with self._lock:
            if self.budget.remaining() < min(expected_requests(self.store, scholar_id),
                                             self.budget.limit):
                return None
            now = self.clock()
            lease = self.store.claim(scholar_id, now, self.lease_seconds, due_only=due_only)
            if lease is None:
                holder = self.store.lease(scholar_id, now)
                if holder is None:
                    return None  # no longer due, or no longer tracked
                raise AuthorBusy(
                    f"{scholar_id} is being fetched by {holder.who} until "
                    f"{holder.until:%H:%M} UTC; wait for it, or stop that process"
                )
            try:
                return self._fetch_and_record(scholar_id, deadline, client)
            finally:
                self._release(scholar_id, lease)

    def _fetch_and_record(
        self, scholar_id: str, deadline: Deadline | None, client: ScholarClient | None
    ) -> FetchOutcome | None:
        started, clock_started = self.clock(), time.monotonic()
        status = self.store.last_status(scholar_id)
        last_success = status.last_success if status else None
        try:
            outcome = self.fetch(
                scholar_id,
                self.settings,
                deadline or Deadline(self.settings.deadline),
                previous=self.store.latest_metrics(scholar_id),
                force=self.force,
                last_success=last_success,
                before_request=self.budget.take if client is None else None,
                now=started,
                client=client,
            )
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug: recorded, not lost
            outcome = internal_outcome(scholar_id, exc, started, last_success,
                                       duration=time.monotonic() - clock_started)
        if isinstance(outcome.error, BudgetSpent):
            log.warning("%s: %s", scholar_id, outcome.error)
            return None
        try:
            self.store.record_outcome(outcome, self.clock())
        except StoreUnavailable:
            raise  # nothing more can be recorded; the lease ends at its expiry at worst
        except Exception as exc:  # noqa: BLE001 - e.g. a value the database refuses
            outcome = internal_outcome(scholar_id, exc, started, last_success,
                                       requests=outcome.status.requests,
                                       duration=outcome.status.duration_seconds)
            self.store.record_outcome(outcome, self.clock())
        return outcome

    def _release(self, scholar_id: str, lease: Lease) -> None:
        try:
            self.store.release(scholar_id, lease)
        except StoreUnavailable as exc:
            log.warning("%s: could not give up the lease (%s); it ends at %s UTC by itself",
                        scholar_id, exc, f"{lease.until:%H:%M}")


def internal_outcome(
    scholar_id: str, exc: Exception, started: datetime, last_success: str | None, *,
    requests: int = 0, duration: float = 0.0,
) -> FetchOutcome:
    """An attempt that ended in an unexpected exception (a bug, or a value the database
    refused): outcome "internal", exit 1, one line; the traceback goes to the log (``-v``)."""
    log.debug("%s: internal error", scholar_id, exc_info=exc)
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    error = ScholarStatsError(
        f"internal error: {type(exc).__name__}: {first_line} (-v shows the traceback; "
        "please report it)"
    )
    stamp = started.isoformat(timespec="seconds")
    status = FetchStatus(
        scholar_id=scholar_id, outcome=error.kind, exit_code=error.exit_code,
        message=f"{scholar_id}: {error}", last_attempt=stamp, last_success=last_success,
        requests=requests, duration_seconds=duration,
    )
    return FetchOutcome(scholar_id, None, status, error)
