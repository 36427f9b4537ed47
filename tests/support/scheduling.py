"""Time under the test's control for the refresh engine and its scheduler: a clock that moves only
when told, and a scheduler whose ticks can be awaited, so a test says "after the next ticks"
instead of sleeping and hoping they happened."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from scholar_stats.core.plan import utcnow
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.refresh.engine import RefreshEngine
from scholar_stats.refresh.scheduler import RefreshScheduler


class FakeClock:
    """The engine's ``clock``: now, on a whole second, until the test moves it (never back)."""

    def __init__(self) -> None:
        self._now = utcnow().replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        return self.set(self() + timedelta(seconds=seconds))

    def set(self, when: datetime) -> datetime:
        with self._lock:
            assert when >= self._now, f"the clock would go back from {self._now} to {when}"
            self._now = when
            return when


class TickingScheduler(RefreshScheduler):
    """A ``RefreshScheduler`` that counts the ticks it has finished (APScheduler runs them one at
    a time on one thread)."""

    def __init__(self, engine: RefreshEngine, *, tick_seconds: float = 30.0) -> None:
        super().__init__(engine, tick_seconds=tick_seconds)
        self.ticks = 0
        self._ticked = threading.Condition()

    def tick(self) -> FetchOutcome | None:
        try:
            return super().tick()
        finally:
            with self._ticked:
                self.ticks += 1
                self._ticked.notify_all()

    def await_ticks(self, count: int = 2, timeout: float = 30.0) -> None:
        """Return once ``count`` more ticks have finished. With 2 or more, one of them began
        after this call, so it saw everything the test did before (the clock, the store)."""
        with self._ticked:
            target = self.ticks + count
            if not self._ticked.wait_for(lambda: self.ticks >= target, timeout):
                raise AssertionError(f"not within {timeout:g} s: {count} more ticks "
                                     f"(the scheduler is {self.state})")
