"""The refresh engine: the one place that keeps tracked authors fresh.

``refresh`` (cron), the APScheduler job, the admin refresh and ``serve``'s workers all drive one
``RefreshEngine`` per process. It picks the due authors, honours the pause after a block, the
pacing, the shared hourly budget and the store's lease, fetches through ``attempt_fetch``,
records (next due and pause decided by ``plan``), and tells its listeners.

One lock per engine: a process never has two fetches in flight, whoever asked for them.

Every attempt that took the lease is recorded, an unexpected exception too (outcome "internal",
exit 1), and the lease is given up in a ``finally``: a bug or a database error never leaves an
author locked and its attempt unrecorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta

from scholar_stats.core.plan import DAY, Policy, expected_requests, utcnow
from scholar_stats.errors import AuthorBusy, Blocked, StoreUnavailable
from scholar_stats.net.deadline import Cancellation, Deadline
from scholar_stats.refresh.attempt import FetchOutcome, attempt_fetch, internal_outcome
from scholar_stats.refresh.budget import DEFAULT_REQUESTS_PER_HOUR, BudgetSpent, RequestBudget
from scholar_stats.refresh.record import DEFAULT_POLICY, record_outcomes
from scholar_stats.settings import FetchSettings, egress_key
from scholar_stats.sources.choice import SourceSettings, openings
from scholar_stats.sources.source import Fetcher, Source
from scholar_stats.store.database import Store
from scholar_stats.store.values import Lease

log = logging.getLogger(__name__)

MAX_LEASE = DAY  # a lease outlives the deadline by a minute, but never a day (no overflow)
STOPPING = "scholar-stats is shutting down"

RefreshResult = FetchOutcome
"""What a listener is told: the outcome of one attempt that was recorded."""

RefreshListener = Callable[[RefreshResult], None]
FetchFunction = Callable[..., FetchOutcome]


@dataclass(frozen=True)
class PassStep:
    """One author of a pass (``RefreshEngine.run_pass``): fetched (``outcome``), left alone
    (``busy``: another live process holds it; ``skipped``: the budget cannot cover it now, or
    it is no longer due), or where the pass stopped (``stopped``: why)."""

    scholar_id: str
    outcome: FetchOutcome | None = None
    busy: AuthorBusy | None = None
    skipped: bool = False
    stopped: str | None = None


class RefreshEngine:
    """Keeps the store's authors fresh, one fetch at a time in this process."""

    def __init__(
        self,
        store: Store,
        settings: FetchSettings,
        *,
        requests_per_hour: int = DEFAULT_REQUESTS_PER_HOUR,
        budget_window: float = 3600.0,
        spacing: float | None = None,
        clock: Callable[[], datetime] = utcnow,
        fetch: FetchFunction = attempt_fetch,
        policy: Policy = DEFAULT_POLICY,
        sources: SourceSettings | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.sources = sources or SourceSettings()
        self.order = self.sources.order
        # the sources' own budgets (SerpApi's monthly searches), counted in the store
        self.own_budgets = self.sources.budgets(store, clock)
        self.clock = clock
        self.fetch = fetch
        self.policy = policy
        # the egress addresses (--proxy, several for a pool) a per-address source (Scholar) is
        # asked through, each with its own hourly budget and pause in the store; ``budget`` is
        # the first one's
        self.egresses = settings.egresses
        self.budgets = {egress_key(entry): RequestBudget(store, requests_per_hour, budget_window,
                                                         clock, egress=egress_key(entry))
                        for entry in self.egresses}
        self.budget = self.budgets[egress_key(self.egresses[0])]
        # pacing: the next fetch starts no sooner than ``spacing`` s per request of the last
        self.spacing = budget_window / requests_per_hour if spacing is None else spacing
        self.last_outcome: FetchOutcome | None = None
        self._next_start: datetime | None = None
        self._lock = threading.Lock()  # one fetch at a time in this process
        self._listeners: list[RefreshListener] = []
        self.cancellation = Cancellation()  # ``stop`` cancels it: ends the fetch under way

    # listeners and lifecycle

    def add_listener(self, listener: RefreshListener) -> None:
        """Call ``listener`` (in the fetching thread) after each recorded attempt."""
        self._listeners.append(listener)

    def remove_listener(self, listener: RefreshListener) -> None:
        self._listeners.remove(listener)

    def stop(self) -> None:
        """End the fetch under way at once (recorded as stopped) and refuse new ones."""
        self.cancellation.cancel(STOPPING)

    def restart(self) -> None:
        """Accept fetches again after ``stop``; the pacing counts from the last attempt."""
        self.cancellation = Cancellation()
        recent = self.store.attempts(limit=1)
        if recent:
            self._next_start = recent[0].at + timedelta(seconds=self.spacing * recent[0].requests)

    @property
    def stopped(self) -> bool:
        return self.cancellation.cancelled

    def paused_until(self) -> datetime | None:
        """Until when Scholar is paused at every address of the pool (``None``: not paused at
        one of them at least)."""
        now = self.clock()
        untils = [self.store.paused_until(now, egress_key(entry)) for entry in self.egresses]
        return None if any(until is None for until in untils) else min(
            until for until in untils if until is not None)

    @property
    def falls_back(self) -> bool:
        """Whether a pause of every address leaves another source to fetch (``--source auto``
        with a SerpApi key)."""
        return len(self.order) > 1

    def _held_back(self, now: datetime) -> bool:
        """Stopped, or paused after a block with nothing to fall back on."""
        return self.stopped or (not self.falls_back and self.paused_until() is not None)

    def _order(self, addresses_blocked: bool) -> tuple[Source, ...]:
        """The sources a fetch asks: while every address is blocked, only those not asked per
        address (SerpApi), when there are any to fall back on."""
        if addresses_blocked and self.falls_back:
            return tuple(source for source in self.order if not source.per_egress) or self.order
        return self.order

    def _usable(self, needed: int, blocked: set[str]) -> tuple[str, ...]:
        """The addresses a fetch of ``needed`` pages may try, in pool order: not blocked in
        this pass, with the pages left in their hourly budget, and not paused. Paused ones
        only when every address is paused and no other source is: an author named on the
        command line is fetched now, pause or not (the drivers that run on their own, the
        scheduler and a due pass, wait for the pause before they get here)."""
        now = self.clock()
        fresh: list[str] = []
        resting: list[str] = []
        for entry in self.egresses:
            key, budget = egress_key(entry), self.budgets[egress_key(entry)]
            if key in blocked or budget.remaining() < min(needed, budget.limit):
                continue
            (resting if self.store.paused_until(now, key) is not None else fresh).append(entry)
        return tuple(fresh or ([] if self.falls_back else resting))

    # the drivers' entry points

    def tick(self) -> FetchOutcome | None:
        """The scheduler's step: fetch the most overdue author if the pause, the pacing and
        the budget allow; at most one fetch."""
        with self._lock:
            now = self.clock()
            if self._held_back(now):
                return None
            if self._next_start is not None and now < self._next_start:
                return None
            for author in self.store.due_authors(now):
                if self.stopped:
                    return None
                try:
                    outcome = self._refresh(author.scholar_id, self._deadline(), None,
                                            due_only=True, force=False)
                except AuthorBusy as busy:  # another process took it since the list was read
                    log.info("%s", busy)
                    continue
                if outcome is None:
                    if self._spent(self._blocked_now()):
                        return None  # nothing else fits either
                    continue
                return outcome
            return None

    def refresh_now(self, scholar_id: str, *, force: bool = False) -> FetchOutcome | None:
        """Fetch one author now (an admin request), after any fetch under way, under the same
        pause, budget and lease. ``None`` when paused, stopped or over budget; ``AuthorBusy``
        when another process is fetching it."""
        with self._lock:
            if self._held_back(self.clock()):
                return None
            return self._refresh(scholar_id, self._deadline(), None, due_only=False, force=force)

    def run_pass(
        self, ids: Iterable[str], *, due_only: bool, deadline: Deadline
    ) -> Iterator[PassStep]:
        """A cron pass over ``ids``: one deadline and, at the first address, one client per
        per-address source (the politeness delay between authors) for all, stopping when the
        deadline passes, the budget is spent or a source blocks. Holds the engine's lock for
        the whole pass."""
        with self._lock, ExitStack() as stack:
            shared = self._open_shared(deadline)
            for fetcher in shared.values():
                stack.callback(fetcher.close)
            blocked: set[str] = set()  # the addresses blocked in this pass
            for scholar_id in ids:
                addresses_blocked = self._blocked_now(blocked)
                if deadline.expired or self._spent(addresses_blocked):
                    why = "deadline passed" if deadline.expired else \
                        f"request budget spent: {self.budget_in_the_way()}"
                    yield PassStep(scholar_id, stopped=why)
                    return
                try:
                    outcome = self._refresh(scholar_id, deadline, shared, due_only=due_only,
                                            force=False, blocked=blocked)
                except AuthorBusy as busy:
                    yield PassStep(scholar_id, busy=busy)
                    continue
                if outcome is None:
                    yield PassStep(scholar_id, skipped=True)
                    continue
                yield PassStep(scholar_id, outcome=outcome)
                blocked.update(outcome.blocked_addresses())
                if outcome.status.exit_code == Blocked.exit_code:
                    return  # a block: the others wait for the pause to end

    # one author

    def _blocked_now(self, blocked: set[str] | frozenset[str] = frozenset()) -> bool:
        """Whether every address is blocked: paused, or blocked in this pass."""
        now = self.clock()
        return all(egress_key(entry) in blocked
                   or self.store.paused_until(now, egress_key(entry)) is not None
                   for entry in self.egresses)

    def budget_in_the_way(self) -> str:
        """The budget a fetch starting now is held to, as a person reads it."""
        first = self._order(self._blocked_now())[0]
        if first.per_egress:
            return f"the budget of {self.budget.limit} {first.title} requests per hour"
        own = self.own_budgets.get(first.name)
        return own.describe() if own is not None else f"{first.title} (no budget)"

    def _spent(self, addresses_blocked: bool) -> bool:
        """Whether the budget of the first source a fetch would ask is spent."""
        first = self._order(addresses_blocked)[0]
        if first.per_egress:
            return all(budget.remaining() == 0 for budget in self.budgets.values())
        own = self.own_budgets.get(first.name)
        return own is not None and own.remaining() == 0

    @property
    def lease_seconds(self) -> float:
        return min(self.settings.deadline, MAX_LEASE) + 60.0

    def _deadline(self) -> Deadline:
        """A fresh deadline for one fetch, which ``stop`` can cancel."""
        return Deadline(self.settings.deadline, cancellation=self.cancellation)

    def _refresh(
        self, scholar_id: str, deadline: Deadline, shared: dict[tuple[str, str], Fetcher] | None,
        *, due_only: bool, force: bool, blocked: set[str] | None = None,
    ) -> FetchOutcome | None:
        """Fetch and record one author (the lock is held). A refused or failed fetch keeps
        the stored data. ``None`` when it was not fetched: the budget cannot cover it, or, with
        ``due_only``, it is no longer due (another process has just fetched it)."""
        metrics = self.store.latest_metrics(scholar_id)
        needed = expected_requests(metrics.publications if metrics else None)
        usable = self._usable(needed, blocked or set())
        order = self._order(not usable)
        if order[0].per_egress:
            if not usable:
                return None
        else:
            own = self.own_budgets.get(order[0].name)
            if own is not None and own.remaining() < needed:
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
            outcome = self._fetch_and_record(scholar_id, deadline, shared or {}, force, order,
                                             usable)
        finally:
            self._release(scholar_id, lease)
        if outcome is not None:
            self._landed(outcome)
        return outcome

    def _fetch_and_record(
        self, scholar_id: str, deadline: Deadline, shared: dict[tuple[str, str], Fetcher],
        force: bool, order: tuple[Source, ...], usable: tuple[str, ...],
    ) -> FetchOutcome | None:
        started, clock_started = self.clock(), time.monotonic()
        status = self.store.last_status(scholar_id)
        last_success = status.last_success if status else None
        opened: list[Fetcher] = []
        try:
            fetchers = self._open(order, deadline, shared, usable, opened)
            outcome = self.fetch(
                scholar_id, self.settings, deadline,
                previous=self.store.latest_metrics(scholar_id), force=force,
                last_success=last_success, now=started, sources=fetchers,
            )
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug: recorded, not lost
            outcome = internal_outcome(scholar_id, exc, started, last_success,
                                       duration=time.monotonic() - clock_started)
        finally:
            for fetcher in opened:
                fetcher.close()
        if isinstance(outcome.error, BudgetSpent):
            log.warning("%s: %s", scholar_id, outcome.error)
            return None
        try:
            outcome = record_outcomes(self.store, [outcome], self.clock(), self.policy)[0]
        except StoreUnavailable:
            raise  # nothing more can be recorded; the lease ends at its expiry at worst
        except Exception as exc:  # noqa: BLE001 - e.g. a value the database refuses
            outcome = internal_outcome(scholar_id, exc, started, last_success,
                                       requests=outcome.status.requests,
                                       duration=outcome.status.duration_seconds)
            record_outcomes(self.store, [outcome], self.clock(), self.policy)
        return outcome

    def _budget_of(self, source: Source, entry: str | None) -> object:
        """A source's budget in this engine: the address's hourly one for a per-address
        source, else its own (``None``: it has none)."""
        if source.per_egress and entry is not None:
            return self.budgets[egress_key(entry)]
        return self.own_budgets.get(source.name)

    def _open_shared(self, deadline: Deadline) -> dict[tuple[str, str], Fetcher]:
        """A pass's fetchers at the first address, one per per-address source of the order,
        kept for the whole pass (one client: the politeness delay between its authors)."""
        first = self.egresses[:1]
        return {(source.name, opening.egress): source.open(opening)
                for source, opening in openings(self.sources, self.settings, deadline,
                                                self._budget_of, egresses=first)
                if source.per_egress}

    def _open(self, order: tuple[Source, ...], deadline: Deadline,
              shared: dict[tuple[str, str], Fetcher], usable: tuple[str, ...],
              opened: list[Fetcher]) -> list[Fetcher]:
        """The fetchers of one fetch: a per-address source at each usable address (through the
        pass's fetcher where there is one), each under that address's hourly budget, then the
        others under their own (SerpApi: the store's monthly count). The ones opened here are
        added to ``opened``, for the caller to close."""
        fetchers: list[Fetcher] = []
        for source, opening in openings(self.sources, self.settings, deadline, self._budget_of,
                                        order=order, egresses=usable):
            fetcher = shared.get((source.name, opening.egress)) if source.per_egress else None
            if fetcher is None:
                fetcher = source.open(opening)
                opened.append(fetcher)
            fetchers.append(fetcher)
        return fetchers

    def _release(self, scholar_id: str, lease: Lease) -> None:
        try:
            self.store.release(scholar_id, lease)
        except StoreUnavailable as exc:
            log.warning("%s: could not give up the lease (%s); it ends at %s UTC by itself",
                        scholar_id, exc, f"{lease.until:%H:%M}")

    def _landed(self, outcome: FetchOutcome) -> None:
        """Pace the next fetch and tell the listeners; a failing listener is logged only."""
        self.last_outcome = outcome
        requests = max(1, outcome.status.requests)
        self._next_start = self.clock() + timedelta(seconds=self.spacing * requests)
        log.info("%s", outcome.status.message)
        for listener in list(self._listeners):
            try:
                listener(outcome)
            except Exception:
                log.exception("a refresh listener failed for %s", outcome.scholar_id)
