"""The refresh scheduler (APScheduler 3): keeps every tracked author fresh, politely.

One APScheduler job, ``tick``, runs every ``tick_seconds`` on a single worker thread with
``max_instances=1`` and ``coalesce=True``: ticks never overlap and missed ones collapse into
one. Each tick fetches at most one author, so:

- authors are fetched at their own slot (``plan.nearest_slot``: a stable offset per id), which
  the store records as ``next_due``; a restart picks the plan up from there, so fresh authors
  are not fetched again;
- fetches are paced: the next one starts no sooner than ``spacing`` seconds per request the
  last one made (default: window / budget = 120 s), so overdue authors after a restart, or a
  batch just added, are caught up spread out, never as a burst;
- the hourly budget (default 30 requests, every page and retry) is a hard limit, enforced in
  the ``before_request`` hook and counted in the store, so it holds across processes; an
  author it cannot cover waits;
- a block (exit 3) pauses all fetching (store-wide, 30 min doubling to 24 h), not found retries
  weekly, a page not understood at the next interval (see ``plan``);
- ``shutdown`` stops a fetch under way at once (its deadline is cancelled: sleeps wake, sockets
  are shut down), so SIGTERM ends ``schedule`` and ``serve`` within seconds; the attempt is
  recorded as a network failure ("stopped") and its lease released.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scholar_stats.core.plan import utcnow
from scholar_stats.errors import AuthorBusy
from scholar_stats.net.deadline import Cancellation, Deadline
from scholar_stats.refresh.attempt import FetchOutcome, attempt_fetch
from scholar_stats.refresh.budget import (
    DEFAULT_REQUESTS_PER_HOUR,
    FetchFunction,
    Refresher,
    RequestBudget,
)
from scholar_stats.settings import FetchSettings
from scholar_stats.store.database import Store

log = logging.getLogger(__name__)

JOB_ID = "scholar-stats-refresh"
STOPPING = "scholar-stats is shutting down"


class RefreshScheduler:
    """Runs the refresh plan in a background thread; ``state`` says whether it is paused."""

    def __init__(
        self,
        store: Store,
        settings: FetchSettings,
        *,
        on_result: Callable[[FetchOutcome], None] | None = None,
        requests_per_hour: int = DEFAULT_REQUESTS_PER_HOUR,
        budget_window: float = 3600.0,
        spacing: float | None = None,
        tick_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
        fetch: FetchFunction = attempt_fetch,
    ) -> None:
        self.store = store
        self.on_result = on_result
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.spacing = budget_window / requests_per_hour if spacing is None else spacing
        self.budget = RequestBudget(store, requests_per_hour, budget_window, clock)
        self.refresher = Refresher(store, settings, self.budget, clock, fetch)
        self.last_outcome: FetchOutcome | None = None
        self._next_start: datetime | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()
        self._cancellation = Cancellation()  # cancelled by shutdown: ends the fetch under way

    # state

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def paused_until(self) -> datetime | None:
        return self.store.paused_until(self.clock())

    @property
    def state(self) -> str:
        """"stopped", "running" or "paused until <ISO time>" (after a block)."""
        if not self.running:
            return "stopped"
        until = self.paused_until()
        return f"paused until {until.isoformat(timespec='seconds')}" if until else "running"

    def last_success(self) -> datetime | None:
        """The most recent successful fetch of any tracked author."""
        times = [a.last_success for a in self.store.list_authors() if a.last_success]
        return max(times) if times else None

    # lifecycle

    def start(self) -> None:
        """Continue the plan from the store: the pacing counts from the last attempt."""
        now = self.clock()
        self._cancellation = Cancellation()
        recent = self.store.attempts(limit=1)
        if recent:
            self._next_start = recent[0].at + timedelta(seconds=self.spacing * recent[0].requests)
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone="UTC",
        )
        scheduler.add_job(
            self.tick, IntervalTrigger(seconds=self.tick_seconds, timezone="UTC"),
            id=JOB_ID, next_run_time=now,
        )
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self, wait: bool = True) -> None:
        """Stop ticking and stop the fetch under way at once; with ``wait``, return after it is
        recorded (as stopped) and its lease released."""
        self._cancellation.cancel(STOPPING)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def run_until_signal(self) -> None:
        """The ``schedule`` command: run in the foreground until SIGINT or SIGTERM."""
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not stop.wait(1.0):
                pass
        finally:
            self.shutdown(wait=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # work

    def tick(self) -> FetchOutcome | None:
        """Fetch the most overdue author if the pause, the pacing and the budget allow."""
        with self._lock:
            now = self.clock()
            if self.store.paused_until(now) is not None:
                return None
            if self._next_start is not None and now < self._next_start:
                return None
            for author in self.store.due_authors(now):
                if self._cancellation.cancelled:
                    return None
                try:
                    outcome = self.refresher.refresh(
                        author.scholar_id, due_only=True, deadline=self._deadline())
                except AuthorBusy as busy:  # another process took it since the list was read
                    log.info("%s", busy)
                    continue
                if outcome is None:
                    if self.budget.remaining() == 0:
                        return None  # nothing else fits either
                    continue
                self._after(outcome)
                return outcome
            return None

    def refresh_now(self, scholar_id: str) -> FetchOutcome | None:
        """Fetch one author now (e.g. asked for by the service), under the same rules."""
        with self._lock:
            if self._cancellation.cancelled or self.store.paused_until(self.clock()) is not None:
                return None
            try:
                outcome = self.refresher.refresh(scholar_id, deadline=self._deadline())
            except AuthorBusy as busy:
                log.info("%s", busy)
                return None
            if outcome is not None:
                self._after(outcome)
            return outcome

    def _deadline(self) -> Deadline:
        """A fresh deadline for one fetch, which ``shutdown`` can cancel."""
        return Deadline(self.refresher.settings.deadline, cancellation=self._cancellation)

    def _after(self, outcome: FetchOutcome) -> None:
        self.last_outcome = outcome
        requests = max(1, outcome.status.requests)
        self._next_start = self.clock() + timedelta(seconds=self.spacing * requests)
        log.info("%s", outcome.status.message)
        if self.on_result is not None:
            try:
                self.on_result(outcome)
            except Exception:
                log.exception("on_result callback failed for %s", outcome.scholar_id)
