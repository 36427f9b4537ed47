"""The refresh scheduler (APScheduler 3): drives the refresh engine's ``tick`` on a timer.

One APScheduler job runs every ``tick_seconds`` on a single worker thread with
``max_instances=1`` and ``coalesce=True``: ticks never overlap and missed ones collapse into
one. Each tick fetches at most one author (see ``engine.RefreshEngine.tick``), so:

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
- a database that cannot be reached is logged once when it goes and once when it is back, and
  the ticks go on;
- ``shutdown`` stops a fetch under way at once (its deadline is cancelled: sleeps wake, sockets
  are shut down), so SIGTERM ends ``schedule`` and ``serve`` within seconds; the attempt is
  recorded as a network failure ("stopped") and its lease released.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime

import sqlalchemy.exc
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scholar_stats.errors import StoreUnavailable
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.refresh.engine import RefreshEngine

log = logging.getLogger(__name__)

JOB_ID = "scholar-stats-refresh"

# What a store that cannot be reached raises: the store's own error, and SQLAlchemy's errors for
# a lost or refused connection. Other errors are bugs and keep their traceback.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    StoreUnavailable, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.TimeoutError,
)


class RefreshScheduler:
    """Runs the engine's ticks in a background thread; ``state`` says whether it is paused."""

    def __init__(self, engine: RefreshEngine, *, tick_seconds: float = 30.0) -> None:
        self.engine = engine
        self.store = engine.store
        self.tick_seconds = tick_seconds
        self._scheduler: BackgroundScheduler | None = None
        self._database_down = False

    # state

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    @property
    def last_outcome(self) -> FetchOutcome | None:
        return self.engine.last_outcome

    def paused_until(self) -> datetime | None:
        return self.engine.paused_until()

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
        self.engine.restart()
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone="UTC",
        )
        scheduler.add_job(
            self.tick, IntervalTrigger(seconds=self.tick_seconds, timezone="UTC"),
            id=JOB_ID, next_run_time=self.engine.clock(),
        )
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self, wait: bool = True) -> None:
        """Stop ticking and stop the fetch under way at once; with ``wait``, return after it is
        recorded (as stopped) and its lease released."""
        self.engine.stop()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def run_until_signal(self, started: Callable[[], None] = lambda: None) -> None:
        """The ``schedule`` command: run in the foreground until SIGINT or SIGTERM.

        The handlers are installed before ``started`` is called (it announces the start), so a
        SIGTERM sent as soon as the announcement is seen stops the scheduler cleanly.
        """
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            started()
            if not stop.is_set():
                self.start()
            while not stop.wait(1.0):
                pass
        finally:
            self.shutdown(wait=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # work

    def tick(self) -> FetchOutcome | None:
        """One step of the engine; a database that cannot be reached is one log line when it
        goes and one when it is back, never a traceback per tick."""
        try:
            outcome = self.engine.tick()
        except DATABASE_DOWN as exc:
            if not self._database_down:
                self._database_down = True
                cause = getattr(exc, "orig", None) or exc
                first = (str(cause).strip().splitlines() or [""])[0][:200]
                log.warning("the scheduler cannot reach the database (%s: %s); it keeps "
                            "trying every %g s", type(cause).__name__, first, self.tick_seconds)
            return None
        if self._database_down:
            self._database_down = False
            log.warning("the scheduler can reach the database again")
        return outcome

    def refresh_now(self, scholar_id: str, *, force: bool = False) -> FetchOutcome | None:
        """Fetch one author now through the engine (see ``RefreshEngine.refresh_now``)."""
        return self.engine.refresh_now(scholar_id, force=force)
