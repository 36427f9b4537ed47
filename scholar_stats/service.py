"""The live service: FastAPI + uvicorn serving the stored data, refreshed by the scheduler.

Public requests never touch Scholar or the database: they are answered from a snapshot of
prepared bytes (``snapshot.py``) by a pure-ASGI fast path (``fastpath.py``). The snapshot is
rebuilt per author from ``export.author_files`` when a refresh lands (the scheduler's
``on_result``), when the store changes under another process (a poll), and when data turns
stale with age. Nothing is built at import time: ``create_app(settings)`` makes the app.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import hmac
import json
import logging
import math
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
import sqlalchemy
import sqlalchemy.exc

from .errors import CannotListen, ScholarStatsError, StoreUnavailable, UsageError
from .fastpath import FastPath, Message, Receive, Scope, Send, reply_messages
from .model import METRIC_NAMES, validate_scholar_id
from .plan import MAX_INTERVAL
from .settings import env_number
from .snapshot import (
    DEFAULT_CACHE_BYTES, DEFAULT_CACHE_ITEMS, MAX_QUERY_BYTES, AuthorEntry, Snapshot, build_entry,
    query_too_long, resolve,
)

if TYPE_CHECKING:
    from .fetch import FetchOutcome
    from .settings import FetchSettings
    from .store import Store, TrackedAuthor

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 3600
DEFAULT_STALE_AGE = 7 * 86400.0
DEFAULT_INTERVAL = 86400.0
DEFAULT_POLL = 5.0
STALE_REBUILD_SECONDS = 3600.0  # status.json of stale data names its age; refresh that hourly
ATTEMPT_ID_MARGIN = 1000  # see Service.sync
# The largest admin request body read. The largest legitimate one, ``POST /authors`` with its
# limit of 1000 ids, is about 16 KiB (20 KiB pretty-printed).
ADMIN_BODY_LIMIT = 64 * 1024
# What a store that cannot be reached raises: the store's own error, and SQLAlchemy's errors
# for a lost or refused connection (psycopg's and sqlite3's, wrapped). Other database errors
# (integrity, programming) are bugs, not an outage, and stay 500s with a traceback.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    StoreUnavailable, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.TimeoutError,
)
DATABASE_DOWN_DETAIL = "the database cannot be reached; public answers continue from memory"


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs; built from flags and environment by :meth:`from_env`."""

    db_url: str | None = None
    max_age: int = DEFAULT_MAX_AGE  # Cache-Control max-age of public answers
    stale_age: float = DEFAULT_STALE_AGE  # data older than this is served grey / "stale"
    admin_token: str | None = field(default=None, repr=False)  # admin routes exist only if set
    # How often the store is checked for other processes' changes (a cron ``refresh``, the
    # supervisor's scheduler, another worker's admin request): two small queries when idle.
    poll_seconds: float = DEFAULT_POLL
    badge_cache: int = DEFAULT_CACHE_ITEMS  # rendered badges, charts, papers kept in memory
    badge_cache_bytes: int = DEFAULT_CACHE_BYTES  # ... and the bytes they may take
    scheduler: bool = True
    # ``serve --workers N``: the scheduler runs in the supervisor process, so an admin refresh
    # marks the author due in the store for it instead of fetching here.
    scheduler_elsewhere: bool = False
    fetch: FetchSettings | None = None  # Scholar access for the scheduler and admin refresh
    interval_seconds: float = DEFAULT_INTERVAL  # refresh interval of authors added over HTTP
    requests_per_hour: int = 30  # Scholar request budget of the scheduler and admin refreshes

    @classmethod
    def from_env(cls, **overrides: Any) -> ServiceSettings:
        """Env: SCHOLAR_STATS_MAX_AGE, _STALE_AGE, _ADMIN_TOKEN, _POLL_SECONDS, _BADGE_CACHE,
        _BADGE_CACHE_BYTES."""
        values: dict[str, Any] = {
            "db_url": os.environ.get("SCHOLAR_STATS_DB") or None,
            "max_age": int(env_number("MAX_AGE", DEFAULT_MAX_AGE)),
            "stale_age": env_number("STALE_AGE", DEFAULT_STALE_AGE),
            "admin_token": os.environ.get("SCHOLAR_STATS_ADMIN_TOKEN") or None,
            "poll_seconds": env_number("POLL_SECONDS", DEFAULT_POLL),
            "badge_cache": int(env_number("BADGE_CACHE", DEFAULT_CACHE_ITEMS)),
            "badge_cache_bytes": int(env_number("BADGE_CACHE_BYTES", DEFAULT_CACHE_BYTES)),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class Metrics:
    """Prometheus metrics in a registry of this app's own (nothing global)."""

    def __init__(self, service: Service) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        # Counted on every public request: a plain dict bumped by the event loop (a prometheus
        # Counter takes a lock per increment), turned into a counter family when scraped.
        self.request_counts: dict[tuple[str, int], int] = {}
        self.registry.register(_RequestCounts(self.request_counts))
        self.registry.register(_StoreActivity(service))
        self.fetches = Counter(
            "scholar_stats_fetch_outcomes", "Fetch attempts made by this process, by outcome",
            ["outcome"], registry=self.registry,
        )
        self.scholar_requests = Counter(
            "scholar_stats_scholar_requests", "HTTP requests sent to Scholar by this process",
            registry=self.registry,
        )
        oldest = Gauge(
            "scholar_stats_oldest_data_age_seconds",
            "Age of the oldest successful fetch among authors with data", registry=self.registry,
        )
        oldest.set_function(service.oldest_data_age)
        tracked = Gauge("scholar_stats_authors", "Authors being served", registry=self.registry)
        tracked.set_function(lambda: len(service.snapshot.authors))
        cache = service.snapshot.cache
        items = Gauge("scholar_stats_reply_cache_items",
                      "Rendered badges, charts, paper endpoints and parsed profiles in memory",
                      registry=self.registry)
        items.set_function(lambda: len(cache))
        held = Gauge("scholar_stats_reply_cache_bytes", "Bytes those items take (estimated)",
                     registry=self.registry)
        held.set_function(lambda: cache.bytes)

    def count(self, route: str, status: int) -> None:
        """One answered request (called on the event loop only)."""
        key = (route, status)
        counts = self.request_counts
        counts[key] = counts.get(key, 0) + 1

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _RequestCounts:
    """A prometheus collector reading ``Metrics.request_counts`` at scrape time."""

    def __init__(self, counts: dict[tuple[str, int], int]) -> None:
        self.counts = counts

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily("scholar_stats_http_requests", "HTTP requests answered",
                                     labels=["route", "status"])
        for (route, status), value in sorted(dict(self.counts).items()):
            family.add_metric([route, str(status)], value)
        yield family


class _StoreActivity:
    """What every process using the store did (the scheduler may run in another process, e.g.
    the supervisor of ``serve --workers``): outcomes of the last day, requests of the last hour."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        store = self.service.store
        now = datetime.now(timezone.utc)
        outcomes = GaugeMetricFamily(
            "scholar_stats_store_fetch_outcomes_24h",
            "Fetch attempts recorded in the store in the last 24 hours, by any process",
            labels=["outcome"])
        for outcome, count in sorted(store.outcomes_since(now - timedelta(days=1)).items()):
            outcomes.add_metric([outcome], count)
        yield outcomes
        yield GaugeMetricFamily(
            "scholar_stats_store_scholar_requests_1h",
            "Scholar requests counted against the shared hourly budget in the last hour",
            value=len(store.recent_requests(now, timedelta(hours=1))))


class DatabaseHealth:
    """Whether the store could be reached at the last try, logged once per change of state.

    The poll, ``/healthz``, ``/metrics`` and the admin routes report here, so a database that
    stays away for an hour logs one line when it goes and one when it is back, not a traceback
    per poll.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.problem: str | None = None  # why the last try failed; None while reachable
        self._secrets = [secret for secret in secrets if secret]
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        problem = self.describe(exc)
        with self._lock:
            was_up, self.problem = self.problem is None, problem
        if was_up:
            log.warning("the database cannot be reached (%s): public answers continue from "
                        "memory; /metrics and admin requests answer 503 until it is back", problem)

    def reachable(self) -> None:
        with self._lock:
            was_down, self.problem = self.problem is not None, None
        if was_down:
            log.warning("the database can be reached again")

    def describe(self, exc: BaseException) -> str:
        """One short line naming the error (the driver's, which SQLAlchemy wraps in ``orig``),
        without the SQL, its parameters or the database password."""
        cause = getattr(exc, "orig", None) or exc
        lines = str(cause).strip().splitlines()
        text = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:200]


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
        self.database = DatabaseHealth([_password(settings.db_url)])
        self.scheduler: Any = None
        self._refresh_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._refresher: Any = None
        self._cancellation: Any = None  # close cancels it: ends the refresh pool's fetch
        # What the last sync saw, and when an entry next needs rebuilding for its age alone:
        # a poll with nothing new returns after one small query.
        self._synced_marker: tuple[str, int] | None = None
        self._next_age_rebuild = 0.0

    @property
    def store(self) -> Store:
        if self._store is None:
            from .store import Store

            self._store = Store(self.settings.db_url)
        return self._store

    # building the snapshot (runs in worker threads, never on a public request)

    def build(
        self, scholar_id: str, now: datetime | None = None, author: TrackedAuthor | None = None
    ) -> AuthorEntry | None:
        """A fresh entry from the store, or ``None`` when the author is not tracked (``author``:
        its row, when the caller has just read it)."""
        from .export import author_files

        store = self.store
        author = author or store.get_author(scholar_id)
        if author is None:
            return None
        now = now or datetime.now(timezone.utc)
        files = author_files(store, scholar_id, now=now, max_age_seconds=self.settings.stale_age,
                             author=author)
        if author.last_success is None:
            stale, stale_at = True, math.inf
        else:
            stale_at = author.last_success.timestamp() + self.settings.stale_age
            stale = now.timestamp() > stale_at
            stale_at = math.inf if stale else stale_at
        return build_entry(
            scholar_id, files, max_age=self.settings.max_age, stale=stale, stale_at=stale_at,
            last_attempt=(author.last_attempt, now.timestamp()), last_success=author.last_success,
        )

    def rebuild(self, scholar_id: str) -> None:
        entry = self.build(scholar_id)
        self.snapshot.update({scholar_id: entry} if entry else {}, () if entry else (scholar_id,))

    def sync(self, *, full: bool = False) -> int:
        """Bring the snapshot in line with the store: new, changed, aged and removed authors.

        A poll first compares the store's change marker: when only attempts were recorded, just
        those authors are read; when authors were added or removed, all are listed (rare). Only
        authors whose attempt/success times changed, or whose data has aged, are rebuilt.
        Returns how many entries were rebuilt.
        """
        now = datetime.now(timezone.utc)
        store = self.store
        marker = store.change_marker()
        previous = self._synced_marker
        current = self.snapshot.authors
        aged = now.timestamp() >= self._next_age_rebuild
        if full or previous is None or marker[0] != previous[0]:
            candidates = store.list_authors()
            ids = {author.scholar_id for author in candidates}
            removed = [scholar_id for scholar_id in current if scholar_id not in ids]
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
        for author in candidates:
            entry = None if full else current.get(author.scholar_id)
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
        elif changed or removed:
            self.snapshot.update(changed, removed)
        self._synced_marker = marker
        self._next_age_rebuild = min(
            (self._rebuild_at(entry, now) for entry in self.snapshot.authors.values()),
            default=math.inf,
        )
        if changed:
            # Entries live long: keep them out of the cyclic GC's scans, whose full passes over
            # ten thousand authors would otherwise show up as latency spikes.
            gc.freeze()
        return len(changed)

    @staticmethod
    def _rebuild_at(entry: AuthorEntry, now: datetime) -> float:
        """When ``entry`` must be rebuilt for its age alone: when its data turns stale, or, once
        stale, hourly (its status.json names the age)."""
        if entry.stale:
            return entry.last_attempt[1] + STALE_REBUILD_SECONDS
        return entry.stale_at

    def _aged(self, now: datetime) -> list[str]:
        moment = now.timestamp()
        return [scholar_id for scholar_id, entry in self.snapshot.authors.items()
                if moment >= self._rebuild_at(entry, now)]

    def _outdated(self, entry: AuthorEntry, author: Any, now: datetime) -> bool:
        built_attempt, _built_at = entry.last_attempt
        same = built_attempt == author.last_attempt and entry.last_success == author.last_success
        return not same or now.timestamp() >= self._rebuild_at(entry, now)

    def oldest_data_age(self) -> float:
        successes = [e.last_success for e in self.snapshot.authors.values() if e.last_success]
        if not successes:
            return 0.0
        return max(0.0, time.time() - min(s.timestamp() for s in successes))

    # refreshes

    def on_result(self, outcome: FetchOutcome) -> None:
        """The scheduler's callback (its thread): count the outcome, swap the author's entry."""
        self.metrics.fetches.labels(outcome.status.outcome).inc()
        self.metrics.scholar_requests.inc(outcome.status.requests)
        try:
            self.rebuild(outcome.scholar_id)
        except DATABASE_DOWN as exc:  # the poll rebuilds it once the database is back
            self.database.failed(exc)
        except Exception:  # noqa: BLE001 - the poll will retry; never kill the scheduler
            log.exception("could not rebuild %s after a refresh", outcome.scholar_id)

    def fetch_settings(self) -> FetchSettings:
        if self.settings.fetch is not None:
            return self.settings.fetch
        from .settings import FetchSettings

        return FetchSettings.from_args(object())

    def queue_refresh(self, scholar_id: str, force: bool) -> None:
        """Fetch one author now in a background thread (admin request): never blocks a reply.

        Goes through the scheduler (its budget, pause and pacing) when it runs: directly in this
        process, or, under ``serve --workers``, by marking the author due for the supervisor's
        scheduler. Otherwise, or with ``force`` (skip the plausibility gate), through a
        refresher of its own.
        """
        if self.settings.scheduler_elsewhere and not force:
            self.store.mark_due(scholar_id, datetime.now(timezone.utc))
            return
        if self._refresh_pool is None:
            from .scholar import Cancellation

            self._refresh_pool = concurrent.futures.ThreadPoolExecutor(1, "scholar-stats-refresh")
            self._cancellation = Cancellation()

        def job() -> None:
            if self.scheduler is not None and not force:
                self.scheduler.refresh_now(scholar_id)  # calls on_result itself
                return
            from .refresh import Refresher, RequestBudget
            from .scholar import Deadline

            if self._refresher is None:
                budget = RequestBudget(self.store, self.settings.requests_per_hour)
                self._refresher = Refresher(self.store, self.fetch_settings(), budget)
            refresher = replace(self._refresher, force=force)
            if self._cancellation.cancelled:
                return
            deadline = Deadline(refresher.settings.deadline, cancellation=self._cancellation)
            outcome = refresher.refresh(scholar_id, deadline=deadline)
            if outcome is not None:
                self.on_result(outcome)

        self._refresh_pool.submit(job)

    # lifecycle

    def start_scheduler(self) -> None:
        if not self.settings.scheduler:
            return
        from .scheduler import RefreshScheduler

        self.scheduler = RefreshScheduler(
            self.store, self.fetch_settings(), on_result=self.on_result,
            requests_per_hour=self.settings.requests_per_hour,
        )
        self.scheduler.start()

    def scheduler_state(self) -> str:
        if self.settings.scheduler_elsewhere:
            where = "in the supervisor process"
            try:
                until = self.store.paused_until(datetime.now(timezone.utc))
            except DATABASE_DOWN as exc:  # health must answer even then
                return f"unknown ({type(exc).__name__}; {where})"
            return f"paused until {until.isoformat(timespec='seconds')} ({where})" if until else f"running ({where})"
        if self.scheduler is None:
            return "disabled"
        try:
            return str(self.scheduler.state)
        except Exception as exc:  # noqa: BLE001 - health must answer even then
            return f"unknown ({type(exc).__name__})"

    def close(self) -> None:
        """Stop the fetches under way at once (each is recorded as stopped), then clean up."""
        if self._cancellation is not None:
            self._cancellation.cancel("scholar-stats is shutting down")
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        if self._refresh_pool is not None:
            self._refresh_pool.shutdown(wait=True, cancel_futures=True)
            self._refresh_pool = None
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None


def _password(db_url: str | None) -> str | None:
    """The database password in ``db_url``, kept out of log lines."""
    try:
        return sqlalchemy.make_url(db_url).password if db_url else None
    except sqlalchemy.exc.ArgumentError:  # the store says what is wrong with it when it opens
        return None


class AdminGuard:
    """Pure ASGI, in front of FastAPI: checks the admin token from the headers alone, and caps
    the body of admin requests (any method but GET and HEAD under ``/authors``).

    FastAPI reads and parses a request body before it solves dependencies, so its bearer check
    alone let a stranger make the service read and parse 120 MB before being told 401. Here a
    request without the token is answered 401 before a byte of its body is read, one declaring
    more than ``limit`` bytes 413, and a body without a declared length (chunked) is counted as
    it arrives and refused with 413 past ``limit``. A refused request whose body may be large
    closes the connection, so its body is never read at all. FastAPI's own check stays (it
    documents the scheme in the OpenAPI schema).
    """

    def __init__(self, app: Callable[..., Any], token: str, limit: int = ADMIN_BODY_LIMIT) -> None:
        self.app = app
        self.token = token.encode()
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_admin(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        token = length = None
        chunked = False
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                token = credentials if scheme.lower() == b"bearer" else None
            elif key == b"content-length":
                length = int(value) if value.isdigit() else None
            elif key == b"transfer-encoding":
                chunked = True
        # keep the connection only when what is left of the body is small enough to skip
        close = chunked or (length is not None and length > self.limit)
        if token is None or not hmac.compare_digest(token, self.token):
            await _refuse(send, 401, "a valid admin token is required", close,
                          [(b"www-authenticate", b"Bearer")])
            return
        if close and not chunked:
            await _refuse(send, 413, f"the request body is larger than {self.limit} bytes", True)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await _refuse(send, 413, f"the request body is larger than {self.limit} bytes",
                              True)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the disconnect, when it comes
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


def _is_admin(method: str, path: str) -> bool:
    return method not in ("GET", "HEAD") and (path == "/authors" or path.startswith("/authors/"))


async def _refuse(
    send: Send, status: int, detail: str, close: bool, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """A JSON error in FastAPI's shape, sent by :class:`AdminGuard`."""
    body = json.dumps({"detail": detail}).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
           *headers]
    if close:
        out.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


class ServiceApp(FastAPI):
    """FastAPI with the fast path in front of its whole middleware stack.

    Added with ``add_middleware`` the fast path would sit behind FastAPI's own middlewares
    (error handling, body limit, telemetry), which cost more than answering does.
    """

    fast_path: FastPath | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.fast_path is not None:
            await self.fast_path(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: ServiceSettings, *, store: Store | None = None) -> FastAPI:
    """The FastAPI app; public author paths are answered by the fast path in front of it.

    ``store`` lets tests (and the benchmark) pass an open store; otherwise one is opened from
    ``settings.db_url`` at startup and closed at shutdown.
    """
    service = Service(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(service.sync, full=True)
        await asyncio.to_thread(service.start_scheduler)
        poller = asyncio.create_task(_poll(service))
        try:
            yield
        finally:
            poller.cancel()
            await asyncio.to_thread(service.close)

    app = ServiceApp(
        title="scholar-stats",
        summary="Google Scholar statistics for homepages, served from stored data.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.service = service

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    rest = AdminGuard(behind, settings.admin_token) if settings.admin_token else behind
    app.fast_path = FastPath(rest, service.snapshot, service.metrics.count)

    def public(rest: Callable[..., str], summary: str, media: str) -> Callable[..., Any]:
        """A declared route answering exactly like the fast path (used if a request gets here)."""

        async def handler(request: Request) -> Response:
            params = request.path_params
            if len(request.scope["query_string"]) > MAX_QUERY_BYTES:
                reply = query_too_long(rest(**params))
            else:
                reply = resolve(service.snapshot, params["scholar_id"], rest(**params),
                                dict(request.query_params))
            start, body = reply_messages(reply, request.method, request.headers.raw)
            headers = {k.decode(): v.decode() for k, v in start["headers"] if k != b"content-length"}
            return Response(body, status_code=start["status"], headers=headers)

        handler.__doc__ = summary
        return handler

    sid = Path(description="Google Scholar user id (12 characters)", examples=["DhtAFkwAAAAJ"])
    files = {
        "gs_data.json": ("The AcadHomepage record (what `fetch` writes)", "application/json"),
        "gs_data_shieldsio.json": ("shields.io endpoint JSON for citations", "application/json"),
        "status.json": ("The last attempt and whether the data is stale", "application/json"),
        "history.csv": ("One row per day of every metric", "text/csv"),
        "chart.svg": ("Citations per year as a bar chart", "image/svg+xml"),
    }
    for name, (summary, media) in files.items():
        app.add_api_route(
            f"/authors/{{scholar_id}}/{name}", _file_route(public, name, summary, media, sid),
            methods=["GET"], summary=summary, response_class=Response,
            operation_id=f"get_{name.replace('.', '_')}",
            responses={200: {"content": {media: {}}}, 400: {}, 404: {}},
        )

    metric_path = Path(description="One of: " + ", ".join(METRIC_NAMES), examples=["citations"])
    endpoint = public(lambda scholar_id, metric: f"shields/{metric}.json",
                      "shields.io endpoint JSON for one metric", "application/json")

    @app.api_route("/authors/{scholar_id}/shields/{metric}.json", methods=["GET"],
                   response_class=Response, responses={200: {"content": {"application/json": {}}}})
    async def shields_json(request: Request, scholar_id: str = sid, metric: str = metric_path) -> Response:
        """shields.io endpoint JSON for one metric."""
        return await endpoint(request)

    paper = public(lambda scholar_id, pub_id: f"papers/{pub_id}/shields.json",
                   "shields.io endpoint JSON for one paper's citations", "application/json")

    @app.api_route("/authors/{scholar_id}/papers/{pub_id}/shields.json", methods=["GET"],
                   response_class=Response, responses={200: {"content": {"application/json": {}}}})
    async def paper_json(
        request: Request, scholar_id: str = sid,
        pub_id: str = Path(description="The paper's id: `<scholar_id>:<12 chars>` or the part "
                           "after the colon", examples=["DhtAFkwAAAAJ:ALROH1vI_8AC"]),
    ) -> Response:
        """shields.io endpoint JSON for one paper's citations (AcadHomepage's `data=` id)."""
        return await paper(request)

    badge = public(lambda scholar_id, metric: f"badges/{metric}.svg", "SVG badge", "image/svg+xml")

    @app.api_route("/authors/{scholar_id}/badges/{metric}.svg", methods=["GET"],
                   response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
    async def badge_svg(
        request: Request, scholar_id: str = sid, metric: str = metric_path,
        label: str | None = Query(None, description="left text (default: the metric's label)"),
        color: str | None = Query(None, description="shields colour name or hex, e.g. 9cf"),
        labelColor: str | None = Query(None, description="left background, e.g. f6f6f6"),  # noqa: N803
        style: str | None = Query(None, description="flat, flat-square, plastic, for-the-badge, social"),
    ) -> Response:
        """A shields-style SVG badge rendered by the service (grey when the data is stale)."""
        return await badge(request)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Scheduler state, last successful fetch, database reachable (503 when it is not)."""
        try:
            await asyncio.wait_for(asyncio.to_thread(service.store.schema_version), 5)
            database = "ok"
            service.database.reachable()
        except Exception as exc:  # noqa: BLE001 - report, do not crash
            database = f"error: {type(exc).__name__}"
            service.database.failed(exc)
        entries = service.snapshot.authors.values()
        successes = [e.last_success for e in entries if e.last_success]
        body = {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            "scheduler": service.scheduler_state(),
            "authors": len(service.snapshot.authors),
            "stale_authors": sum(1 for e in entries if e.stale),
            "last_success": max(successes).isoformat() if successes else None,
        }
        return JSONResponse(body, status_code=200 if database == "ok" else 503,
                            headers={"cache-control": "no-store"})

    @app.get("/metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    async def metrics() -> Response:
        """Prometheus metrics: requests, fetch outcomes, Scholar requests, oldest data age."""
        body, ctype = await asyncio.to_thread(service.metrics.render)  # reads the store
        service.database.reachable()
        return Response(body, media_type=ctype)

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        """/metrics and the admin routes when the store cannot be reached: 503, one log line."""
        service.database.failed(exc)
        return JSONResponse({"detail": DATABASE_DOWN_DETAIL}, status_code=503,
                            headers={"cache-control": "no-store"})

    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, database_down)

    if settings.admin_token:
        _add_admin_routes(app, service, settings.admin_token)
    return app


def _file_route(
    public: Callable[..., Any], name: str, summary: str, media: str, sid: Any
) -> Callable[..., Any]:
    """The declared route of one fixed file name (a factory, so each keeps its own name)."""
    handler = public(lambda scholar_id: name, summary, media)

    async def file_route(request: Request, scholar_id: str = sid) -> Response:
        return await handler(request)

    file_route.__doc__ = summary
    return file_route


class AddAuthors(BaseModel):
    """Body of ``POST /authors``."""

    ids: list[str] = Field(min_length=1, max_length=1000, examples=[["DhtAFkwAAAAJ"]])
    interval_seconds: float | None = Field(None, gt=0, le=MAX_INTERVAL)


class Refresh(BaseModel):
    """Body of ``POST /authors/{id}/refresh`` (optional)."""

    force: bool = False  # skip the plausibility gate


def _add_admin_routes(app: FastAPI, service: Service, token: str) -> None:
    """POST /authors, DELETE /authors/{id}, POST /authors/{id}/refresh behind a bearer token."""
    bearer = HTTPBearer(auto_error=False)
    expected = token.encode()

    def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not (credentials and hmac.compare_digest(given, expected)):
            raise HTTPException(401, "a valid admin token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    sid = Path(description="Google Scholar user id (12 characters)")

    def check_id(scholar_id: str) -> str:
        try:
            return validate_scholar_id(scholar_id)
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.post("/authors", dependencies=[Depends(require_token)], status_code=200)
    def add_authors(body: AddAuthors) -> dict[str, list[str]]:
        """Track authors (fetched by the scheduler, never by a public request)."""
        ids = [check_id(i) for i in body.ids]
        interval = body.interval_seconds or service.settings.interval_seconds
        added = service.store.add_authors(ids, interval, datetime.now(timezone.utc))
        for scholar_id in ids:
            service.rebuild(scholar_id)
        return {"added": added, "tracked": ids}

    @app.delete("/authors/{scholar_id}", dependencies=[Depends(require_token)])
    def remove_author(scholar_id: str = sid) -> dict[str, str]:
        """Stop tracking an author and delete its stored data."""
        check_id(scholar_id)
        if not service.store.remove_author(scholar_id):
            raise HTTPException(404, "not tracked")
        service.snapshot.update({}, (scholar_id,))
        return {"removed": scholar_id}

    @app.post("/authors/{scholar_id}/refresh", dependencies=[Depends(require_token)],
              status_code=202)
    def refresh_author(scholar_id: str = sid, body: Refresh | None = None) -> dict[str, str]:
        """Fetch the author from Scholar now, in the background (202); see status.json."""
        check_id(scholar_id)
        if service.store.get_author(scholar_id) is None:
            raise HTTPException(404, "not tracked")
        service.queue_refresh(scholar_id, force=bool(body and body.force))
        return {"queued": scholar_id}


async def _poll(service: Service) -> None:
    """Pick up changes other processes made to the store, and data turning stale with age."""
    interval = service.settings.poll_seconds
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(service.sync)
        except DATABASE_DOWN as exc:  # logged once, not every poll; retried next time
            service.database.failed(exc)
        except Exception:  # noqa: BLE001 - a failed poll is retried next time
            log.warning("polling the store failed", exc_info=True)
        else:
            service.database.reachable()


def _version() -> str:
    from . import __version__

    return __version__


def service_settings(args: Any, **overrides: Any) -> ServiceSettings:
    """The service's settings from ``serve``'s parsed flags (which fall back to their env vars)."""
    from .settings import FetchSettings

    values: dict[str, Any] = {
        "db_url": getattr(args, "db", None),
        "scheduler": not getattr(args, "no_scheduler", False),
        "fetch": FetchSettings.from_args(args),
        "requests_per_hour": getattr(args, "requests_per_hour", None),
    }
    return ServiceSettings.from_env(**{**values, **overrides})


def cli_serve(args: Any) -> int:
    """``scholar-stats serve``: uvicorn with the app and the scheduler in one process, or with
    ``--workers N``, N worker processes and the scheduler in the supervisor.

    The port is bound before anything else starts, so a port that cannot be had ends the
    command at once with exit 11 (CannotListen) and one line.
    """
    settings = service_settings(args)
    workers = getattr(args, "workers", 1)
    sock = listen_socket(args.host, args.port)
    try:
        log.warning("serving on %s (scheduler %s, admin routes %s, %d worker%s)",
                    _base_url(args.host, sock.getsockname()[1]),
                    "on" if settings.scheduler else "off",
                    "on" if settings.admin_token else "off", workers, "" if workers == 1 else "s")
        if workers == 1:
            run_server(create_app(settings), sock)
        else:
            run_workers(args, settings, workers, sock)
    finally:
        sock.close()
    return 0


# uvicorn as ``serve`` runs it: quiet, no access log, no Server header, no trust in proxies.
UVICORN_OPTIONS: dict[str, Any] = {
    "log_level": "warning", "access_log": False, "server_header": False, "proxy_headers": False,
}
# Refreshes rebuild answers in worker threads; a GIL switch interval of 0.5 ms (Python's
# default is 5 ms) keeps that work from holding up the event loop, so a refresh landing does
# not show in the latency of public requests.
SWITCH_INTERVAL = 0.0005
LISTEN_BACKLOG = 2048  # uvicorn's default


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening (port 0: one the system picks).

    Bound here rather than by uvicorn, which on a bind error logs and exits with code 3 (ours
    for "blocked by Scholar"): a port that is taken, a privileged port, an address this machine
    does not have or a host name that does not resolve is ``CannotListen`` naming the cause.
    The same family as uvicorn picks: IPv6 when the host has a colon, else IPv4.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"{_host_for_url(host)}:{port}"
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0,
                                     socket.AI_PASSIVE)[0][4]
    except (socket.gaierror, UnicodeError) as exc:
        cause = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise CannotListen(f"cannot listen on {where}: {cause}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {where}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)  # --workers hands it to the worker processes
    return sock


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _base_url(host: str, port: int) -> str:
    return f"http://{_host_for_url(host)}:{port}"


def run_server(app: FastAPI, sock: socket.socket) -> None:
    """Run ``app`` under uvicorn (uvloop and httptools when installed) on the bound ``sock``."""
    import uvicorn

    sys.setswitchinterval(SWITCH_INTERVAL)
    server = uvicorn.Server(uvicorn.Config(app, **UVICORN_OPTIONS))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C after a graceful shutdown, as uvicorn.run treats it
        pass
    except SystemExit:
        # uvicorn exits with code 3 when the app's startup fails; 3 is "blocked by Scholar" here
        raise ScholarStatsError("the service did not start; the error is logged above") from None


def run_workers(args: Any, settings: ServiceSettings, workers: int, sock: socket.socket) -> None:
    """``serve --workers N``: uvicorn's process manager runs N workers sharing the bound
    ``sock``, each with its own snapshot (memory grows with N); this process migrates the
    store, runs the scheduler, and the workers' polls pick up what it records.

    A worker builds its settings the way this process did: by parsing ``serve`` with no flags,
    from the environment, into which the flags given here are copied first (every flag has an
    env var). Nothing is written to disk and nothing is printed.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from .store import Store

    os.environ.update(_flags_as_env(args))
    store = Store(settings.db_url)  # migrates once, before the workers open it
    scheduler = None
    try:
        if settings.scheduler:
            from .scheduler import RefreshScheduler

            assert settings.fetch is not None
            scheduler = RefreshScheduler(store, settings.fetch,
                                         requests_per_hour=settings.requests_per_hour)
            scheduler.start()
        config = uvicorn.Config(f"{__name__}:worker_app", factory=True, workers=workers,
                                **UVICORN_OPTIONS)
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        store.close()


def _flags_as_env(args: Any) -> dict[str, str]:
    """Every ``serve`` flag as its variable, so a worker parsing ``serve`` sees what was given
    here (and never an unused, possibly bad, value the flags overrode)."""
    flags = {
        "DB": getattr(args, "db", None),
        "PROXY": getattr(args, "proxy", None),
        "DEADLINE": getattr(args, "deadline", None),
        "DELAY": getattr(args, "delay", None),
        "REQUESTS_PER_HOUR": getattr(args, "requests_per_hour", None),
        "NO_SCHEDULER": "true" if getattr(args, "no_scheduler", False) else "false",
        "HOST": getattr(args, "host", None),
        "PORT": getattr(args, "port", None),
        "WORKERS": getattr(args, "workers", None),
    }
    return {f"SCHOLAR_STATS_{name}": str(value) for name, value in flags.items() if value is not None}


def worker_app() -> FastAPI:
    """The app of one ``serve --workers N`` worker (uvicorn calls this factory in each)."""
    from .cli import parse_args

    sys.setswitchinterval(SWITCH_INTERVAL)
    args = parse_args(["serve"])
    supervisor_schedules = not args.no_scheduler
    return create_app(service_settings(args, scheduler=False,
                                       scheduler_elsewhere=supervisor_schedules))
