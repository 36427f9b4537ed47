"""The store mirrored in memory: ``Service`` keeps the snapshot in step with the store (after a
refresh, on a poll, when data turns stale) and keeps answering from memory when the database is
down (``DatabaseHealth``)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import math
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from scholar_stats.core.plan import is_stale, stale_at
from scholar_stats.service.entry import epoch
from scholar_stats.service.health import DATABASE_DOWN as DATABASE_DOWN
from scholar_stats.service.health import DATABASE_DOWN_DETAIL as DATABASE_DOWN_DETAIL
from scholar_stats.service.health import DatabaseHealth as DatabaseHealth
from scholar_stats.service.health import db_password as db_password
from scholar_stats.service.health import poll_store as poll_store
from scholar_stats.service.prepared import freeze_survivors, in_background, times_of, warm_up
from scholar_stats.service.snapshot import (
    AuthorEntry,
    NotLoaded,
    Snapshot,
    build_entry,
)

if TYPE_CHECKING:
    from scholar_stats.notify.listener import NotifyListener
    from scholar_stats.refresh.attempt import FetchOutcome
    from scholar_stats.refresh.engine import RefreshEngine
    from scholar_stats.settings import FetchSettings
    from scholar_stats.store.database import Store
    from scholar_stats.store.values import TrackedAuthor
from scholar_stats.service.metrics import Metrics
from scholar_stats.service.settings import SERVICE_PAGE_CACHE_KIB, ServiceSettings

log = logging.getLogger(__name__)


STALE_REBUILD_SECONDS = 3600.0  # status.json of stale data names its age; refresh that hourly


ATTEMPT_ID_MARGIN = 1000  # see Service.sync


class Service:
    """The state behind one app: store, snapshot, metrics, scheduler."""

    def __init__(self, settings: ServiceSettings, store: Store | None = None) -> None:
        self.settings = settings
        self._own_store = store is None
        self._store = store
        self.snapshot = Snapshot(max_age=settings.max_age)
        self.snapshot.cache.size = settings.badge_cache
        self.snapshot.cache.max_bytes = settings.badge_cache_bytes
        self.metrics = Metrics(self)
        self.database = DatabaseHealth([db_password(settings.db_url)])
        self.scheduler: Any = None
        self._refresh_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._engine: RefreshEngine | None = None
        self._notifier: NotifyListener | None = None
        self._queued: set[str] = set()  # admin refreshes waiting or under way in this process
        self._queue_lock = threading.Lock()
        # What the last sync saw, and when an entry next needs rebuilding for its age alone:
        # a poll with nothing new returns after one small query.
        self._synced_marker: tuple[str, int] | None = None
        self._next_age_rebuild = 0.0
        self.snapshot.loader = self._load
        self._warm_up: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def store(self) -> Store:
        if self._store is None:
            from scholar_stats.store.database import Store

            self._store = Store(self.settings.db_url, page_cache_kib=SERVICE_PAGE_CACHE_KIB)
        return self._store

    # building the snapshot (runs in worker threads, never on a public request)

    def build(
        self, scholar_id: str, now: datetime | None = None, author: TrackedAuthor | None = None
    ) -> AuthorEntry | None:
        """A fresh entry drawn from the author's state in the store, or ``None`` when the author
        is not tracked (``author``: its row, when the caller has just read it)."""
        from scholar_stats.outputs.export import author_state

        store = self.store
        author = author or store.get_author(scholar_id)
        if author is None:
            return None
        now = now or datetime.now(timezone.utc)
        state = author_state(store, scholar_id, now=now, max_age_seconds=self.settings.stale_age,
                             author=author)
        stale = is_stale(author.last_success, now, self.settings.stale_age)
        turns = stale_at(author.last_success, self.settings.stale_age)
        # rebuilt for its age alone when its data turns stale, or, once stale, hourly (its
        # status.json names the age)
        rebuild_at = (now.timestamp() + STALE_REBUILD_SECONDS if stale
                      else math.inf if turns is None else turns.timestamp())
        return build_entry(dataclasses.replace(state, stale=stale), max_age=self.settings.max_age,
                           rebuild_at=rebuild_at, attempted=epoch(author.last_attempt),
                           succeeded=epoch(author.last_success))

    def _load(self, scholar_id: str) -> AuthorEntry | None:
        """The snapshot's loader (an author not prepared yet); ``NotLoaded``: no store."""
        try:
            entry = self.build(scholar_id)
        except DATABASE_DOWN as exc:
            self.database.failed(exc)
            raise NotLoaded(scholar_id) from exc
        if entry is not None:  # the poll rebuilds it when it ages
            self._next_age_rebuild = min(self._next_age_rebuild, entry.rebuild_at)
        return entry

    def start(self) -> None:
        """Serve from now on: the tracked authors are listed (one query), each is prepared when
        first asked for, and all are prepared by a warm-up thread in the background."""
        store = self.store
        marker = store.change_marker()
        self.snapshot.defer({a.scholar_id: times_of(a) for a in store.list_authors()})
        self._synced_marker = marker
        self._next_age_rebuild = math.inf
        self.load_groups()
        self._warm_up = threading.Thread(target=self.warm_up, name="scholar-stats-warm-up",
                                         daemon=True)
        self._warm_up.start()

    def warm_up(self) -> None:
        """Prepare every author in the background (``prepared.warm_up``), in this thread of
        its own at the lowest priority (``prepared.in_background``)."""
        in_background()
        while not self._stopping.is_set():
            try:
                warm_up(self.snapshot, self._stopping)
                return
            except Exception:
                log.exception("could not prepare authors; trying again in a minute")
                self._stopping.wait(60.0)

    def rebuild(self, scholar_id: str) -> None:
        entry = self.build(scholar_id)
        self.snapshot.update({scholar_id: entry} if entry else {}, () if entry else (scholar_id,))

    def sync(self, *, full: bool = False) -> int:
        """Bring the snapshot in line with the store: new, changed, aged and removed authors.

        A poll first compares the store's change marker: when only attempts were recorded, just
        those authors are read; when authors were added or removed, all are listed (rare). Only
        authors whose attempt/success times changed, or whose data has aged, are rebuilt
        (those not prepared yet are only noted: they are prepared from the store when asked).
        The groups are read every time (two small queries): changing one leaves no marker.
        Returns how many authors were rebuilt or noted.
        """
        now = datetime.now(timezone.utc)
        store = self.store
        marker = store.change_marker()
        rebuilt = self._sync_authors(store, marker, now, full)
        self.load_groups()
        return rebuilt

    def load_groups(self) -> None:
        """Mirror the groups and their members (replaced whole, like the authors)."""
        groups = {name: tuple(members) for name, members in self.store.list_groups().items()}
        if groups != self.snapshot.groups:
            self.snapshot.groups = groups

    def _sync_authors(self, store: Store, marker: tuple[str, int], now: datetime,
                      full: bool) -> int:
        previous = self._synced_marker
        previous_next = self._next_age_rebuild
        current = self.snapshot.authors
        aged = now.timestamp() >= self._next_age_rebuild
        if full or previous is None or marker[0] != previous[0]:
            candidates = store.list_authors()
            ids = {author.scholar_id for author in candidates}
            removed = [scholar_id for scholar_id in (*current, *self.snapshot.unprepared)
                       if scholar_id not in ids]
        elif marker[1] != previous[1] or aged:
            # Attempt ids are handed out before commit; on PostgreSQL a later commit can carry a
            # smaller id, so look back a little further than the last id seen.
            candidates = store.authors_attempted_after(previous[1] - ATTEMPT_ID_MARGIN)
            if aged:
                known = {author.scholar_id for author in candidates}
                candidates += [author for author in map(store.get_author, self._aged(now))
                               if author is not None and author.scholar_id not in known]
            removed = []
        else:
            return 0
        changed: dict[str, AuthorEntry] = {}
        deferred: dict[str, tuple[datetime | None, datetime | None]] = {}
        waiting = self.snapshot.unprepared
        for author in candidates:
            entry = None if full else current.get(author.scholar_id)
            if entry is None and not full:
                # not prepared: prepared from the store as it then is, when asked (the new row
                # makes a preparation under way with the old one start again)
                if waiting.get(author.scholar_id) != times_of(author):
                    deferred[author.scholar_id] = times_of(author)
                continue
            if entry is not None and not self._outdated(entry, author, now):
                continue
            started = time.perf_counter()
            new = self.build(author.scholar_id, now, author)
            if new is not None:
                changed[author.scholar_id] = new
            if not full:
                # Rebuilding competes with public requests for the one interpreter: rest twice
                # as long as the build took, so a refresh landing takes at most a third of it.
                time.sleep(min(2 * (time.perf_counter() - started), 0.05))
        if full:
            self.snapshot.update(changed, full=True)
        else:
            if deferred or removed:
                rows = {author.scholar_id: author for author in candidates}
                for scholar_id in self.snapshot.defer(deferred, removed):
                    # prepared since it was looked up, perhaps from the store before this attempt
                    new = self.build(scholar_id, now, rows[scholar_id])
                    if new is not None:
                        changed[scholar_id] = new
            if changed:
                self.snapshot.update(changed)
        self._synced_marker = marker
        if full or aged:
            self._next_age_rebuild = min(
                (entry.rebuild_at for entry in list(self.snapshot.authors.values())),
                default=math.inf,
            )
        else:  # the entries not rebuilt keep their times: no pass over every author
            self._next_age_rebuild = min([previous_next, self._next_age_rebuild,
                                          *(e.rebuild_at for e in changed.values())])
        if changed:
            # Entries live long: keep them out of the cyclic GC's scans, whose full passes over
            # ten thousand authors would otherwise show up as latency spikes.
            freeze_survivors()
        return len(changed) + len(deferred)

    def _aged(self, now: datetime) -> list[str]:
        moment = now.timestamp()
        return [scholar_id for scholar_id, entry in list(self.snapshot.authors.items())
                if moment >= entry.rebuild_at]

    def _outdated(self, entry: AuthorEntry, author: Any, now: datetime) -> bool:
        same = (entry.attempted == epoch(author.last_attempt)
                and entry.succeeded == epoch(author.last_success))
        return not same or now.timestamp() >= entry.rebuild_at

    def last_successes(self) -> list[float]:
        """Every served author's last success (prepared or not), in epoch seconds."""
        entries = list(self.snapshot.authors.values())
        waiting = list(self.snapshot.unprepared.values())
        return [*(e.succeeded for e in entries if e.succeeded is not None),
                *(times[1].timestamp() for times in waiting if times[1])]

    def stale_authors(self, now: datetime) -> int:
        """How many served authors' data is stale (as their entries say, or will say)."""
        entries = list(self.snapshot.authors.values())
        waiting = list(self.snapshot.unprepared.values())
        return (sum(1 for e in entries if e.stale)
                + sum(1 for times in waiting
                      if is_stale(times[1], now, self.settings.stale_age)))

    def oldest_data_age(self) -> float:
        successes = self.last_successes()
        if not successes:
            return 0.0
        return max(0.0, time.time() - min(successes))

    # refreshes

    def on_result(self, outcome: FetchOutcome) -> None:
        """The engine's listener (its thread): count the outcome, swap the author's entry."""
        self.metrics.fetches.labels(outcome.status.outcome).inc()
        self.metrics.fetches_by_source.labels(outcome.status.source or "none",
                                              outcome.status.outcome).inc()
        self.metrics.scholar_requests.inc(outcome.status.requests)
        try:
            self.rebuild(outcome.scholar_id)
        except DATABASE_DOWN as exc:  # the poll rebuilds it once the database is back
            self.database.failed(exc)
        except Exception:
            log.exception("could not rebuild %s after a refresh", outcome.scholar_id)

    def fetch_settings(self) -> FetchSettings:
        if self.settings.fetch is not None:
            return self.settings.fetch
        from scholar_stats.settings import FetchSettings

        return FetchSettings.from_args(object())

    @property
    def engine(self) -> RefreshEngine:
        """This process's one refresh engine (the scheduler's and the admin refresh's), which
        tells ``on_result`` of every refresh that lands."""
        if self._engine is None:
            from scholar_stats.refresh.engine import RefreshEngine

            engine = RefreshEngine(self.store, self.fetch_settings(),
                                   requests_per_hour=self.settings.requests_per_hour,
                                   sources=self.settings.sources)
            engine.add_listener(self.on_result)
            from scholar_stats.notify.listener import attach as attach_notifier

            self._notifier = attach_notifier(engine, self.settings.notify, engine.settings)
            self._engine = engine
        return self._engine

    def queue_refresh(self, scholar_id: str, force: bool) -> None:
        """Fetch one author now in a background thread (admin request): never blocks a reply.

        Queued onto this process's engine (after any fetch under way; its budget, pause and
        lease apply), or, under ``serve --workers`` without ``force`` (skip the plausibility
        gate), marked due for the supervisor's scheduler. ``AuthorBusy`` when the author is
        being fetched, by any process, or is already queued here.
        """
        from scholar_stats.errors import AuthorBusy

        now = datetime.now(timezone.utc)
        holder = self.store.lease(scholar_id, now)
        with self._queue_lock:
            if holder is not None or scholar_id in self._queued:
                who = f"by {holder.who} until {holder.until:%H:%M} UTC" if holder else "here"
                raise AuthorBusy(f"{scholar_id} is being fetched {who}; wait for it")
            if self.settings.scheduler_elsewhere and not force:
                self.store.mark_due(scholar_id, now)
                return
            self._queued.add(scholar_id)
        if self._refresh_pool is None:
            self._refresh_pool = concurrent.futures.ThreadPoolExecutor(1, "scholar-stats-refresh")
        engine = self.engine

        def job() -> None:
            try:
                engine.refresh_now(scholar_id, force=force)  # listeners: on_result
            except AuthorBusy as busy:  # taken by another process since the check
                log.warning("admin refresh of %s not done: %s", scholar_id, busy)
            except DATABASE_DOWN as exc:
                self.database.failed(exc)
            finally:
                with self._queue_lock:
                    self._queued.discard(scholar_id)

        self._refresh_pool.submit(job)

    # lifecycle

    def start_scheduler(self) -> None:
        if not self.settings.scheduler:
            return
        from scholar_stats.refresh.scheduler import RefreshScheduler

        self.scheduler = RefreshScheduler(self.engine)
        self.scheduler.start()

    def scheduler_state(self) -> str:
        if self.settings.scheduler_elsewhere:
            where = "in the supervisor process"
            try:
                until = self.store.paused_until(datetime.now(timezone.utc))
            except DATABASE_DOWN as exc:  # health must answer even then
                return f"unknown ({type(exc).__name__}; {where})"
            if until is None:
                return f"running ({where})"
            return f"paused until {until.isoformat(timespec='seconds')} ({where})"
        if self.scheduler is None:
            return "disabled"
        try:
            return str(self.scheduler.state)
        except Exception as exc:  # noqa: BLE001 - health must answer even then
            return f"unknown ({type(exc).__name__})"

    def close(self) -> None:
        """Stop the fetches under way at once (each is recorded as stopped), then clean up."""
        self._stopping.set()
        if self._warm_up is not None:
            self._warm_up.join()
            self._warm_up = None
        if self._engine is not None:
            self._engine.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        if self._refresh_pool is not None:
            self._refresh_pool.shutdown(wait=True, cancel_futures=True)
            self._refresh_pool = None
        if self._notifier is not None:  # what is queued, within one fetch's deadline
            self._notifier.close(timeout=self.fetch_settings().deadline)
            self._notifier = None
        self.snapshot.renders.close()
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None
