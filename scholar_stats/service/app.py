"""The live service's app: FastAPI + uvicorn serving the stored data, refreshed by the scheduler.

Public requests never touch Scholar or the database: they are answered from a snapshot of
prepared bytes (``snapshot.py``) by a pure-ASGI fast path (``fastpath.py``). The snapshot is
rebuilt per author from its state in the store (``export.author_state``) when a refresh lands
(the scheduler's ``on_result``), when the store changes under another process (a poll), and
when data turns stale with age. The routes of an author's files are the catalogue's
(``outputs/catalogue.py``). Nothing is built at import time: ``create_app(settings)`` makes
the app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.outputs.catalogue import BADGES, CATALOGUE, PAPER_SHIELDS, PAPERS, SHIELDS
from scholar_stats.service.fastpath import ASGIApp, FastPath
from scholar_stats.service.snapshot import (
    MAX_QUERY_BYTES,
    query_too_long,
    resolve,
)

if TYPE_CHECKING:
    from scholar_stats.store.database import Store
from scholar_stats.service.admin import AdminGuard, add_admin_routes
from scholar_stats.service.groups import add_group_routes
from scholar_stats.service.mirror import (
    DATABASE_DOWN,
    DATABASE_DOWN_DETAIL,
    Service,
    poll_store,
)
from scholar_stats.service.pages import add_page_routes, as_response
from scholar_stats.service.settings import ServiceSettings

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0  # seconds /healthz waits for the database


T = TypeVar("T")


class Shared(Generic[T]):
    """``work`` run in a thread, once for every request that arrives while it runs: the routes
    that read the store (``/healthz``, ``/metrics``) cost it one query at a time however many
    ask, and never take every thread the poll needs."""

    def __init__(self, work: Callable[[], T]) -> None:
        self.work = work
        self._running: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(asyncio.to_thread(self.work))
        return await asyncio.shield(self._running)


def package_version() -> str:
    from scholar_stats import __version__

    return __version__


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


def served(app: FastAPI) -> ASGIApp:
    """What uvicorn runs for ``app``: its fast path, which hands every other request to
    FastAPI (as ``ServiceApp.__call__`` does, one call later). The fast path's bound method:
    calling the instance goes through its type's call slot, 700 instructions a request more
    (``benchmarks/hot_path.py``)."""
    if isinstance(app, ServiceApp) and app.fast_path is not None:
        return app.fast_path.__call__
    return app


def create_app(settings: ServiceSettings, *, store: Store | None = None) -> FastAPI:
    """The FastAPI app; public author paths are answered by the fast path in front of it.

    ``store`` lets tests (and the benchmark) pass an open store; otherwise one is opened from
    ``settings.db_url`` at startup and closed at shutdown.
    """
    service = Service(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(service.start)
        await asyncio.to_thread(service.start_scheduler)
        poller = asyncio.create_task(poll_store(service))
        try:
            yield
        finally:
            poller.cancel()
            await asyncio.to_thread(service.close)

    app = ServiceApp(
        title="scholar-stats",
        summary="Google Scholar statistics for homepages, served from stored data.",
        version=package_version(),
        lifespan=lifespan,
    )
    app.state.service = service

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":  # every GET route, no body
            await FastAPI.__call__(app, {**scope, "method": "GET"}, receive, _bodiless(send))
        else:
            await FastAPI.__call__(app, scope, receive, send)

    rest: Any = AdminGuard(behind, settings.admin_token) if settings.admin_token else behind
    # X-Forwarded-Proto (the snippets' scheme) and X-Forwarded-For, believed from the proxies of
    # forwarded_allow_ips only: read for what FastAPI answers; no public answer depends on them
    rest = ProxyHeadersMiddleware(rest, trusted_hosts=list(settings.forwarded_allow_ips))
    app.fast_path = FastPath(rest, service.snapshot, service.metrics.request_counts,
                             service.metrics.ok_counts)

    def public(rest: Callable[..., str], summary: str, media: str) -> Callable[..., Any]:
        """A declared route answering exactly like the fast path (used if a request gets here)."""

        async def handler(request: Request) -> Response:
            params = request.path_params
            if len(request.scope["query_string"]) > MAX_QUERY_BYTES:
                reply = query_too_long(rest(**params))
            else:
                reply = await service.snapshot.renders.settle(resolve(
                    service.snapshot, params["scholar_id"], rest(**params),
                    dict(request.query_params)))
            return as_response(request, reply)

        handler.__doc__ = summary
        return handler

    sid = Path(description="Google Scholar user id (12 characters)", examples=["DhtAFkwAAAAJ"])
    author = "/authors/{scholar_id}/"
    for file in CATALOGUE:  # the files of one name the service serves, documented
        if not file.service or file.top or file.family:
            continue
        media = file.media.partition(";")[0]
        app.add_api_route(
            author + file.name, _file_route(public, file.name, file.summary, media, sid),
            methods=["GET"], summary=file.summary, response_class=Response,
            operation_id=f"get_{file.name.replace('.', '_')}",
            responses={200: {"content": {media: {}}}, 400: {}, 404: {}},
        )

    metric_path = Path(description="One of: " + ", ".join(METRIC_NAMES), examples=["citations"])
    endpoint = public(lambda scholar_id, metric: SHIELDS.path(metric),
                      "shields.io endpoint JSON for one metric", "application/json")

    @app.api_route(author + SHIELDS.path("{metric}"), methods=["GET"],
                   response_class=Response, responses={200: {"content": {"application/json": {}}}})
    async def shields_json(
        request: Request, scholar_id: str = sid, metric: str = metric_path
    ) -> Response:
        """shields.io endpoint JSON for one metric."""
        return await endpoint(request)

    paper = public(lambda scholar_id, pub_id: PAPER_SHIELDS.path(pub_id),
                   "shields.io endpoint JSON for one paper's citations", "application/json")

    @app.api_route(author + PAPER_SHIELDS.path("{pub_id}"), methods=["GET"],
                   response_class=Response, responses={200: {"content": {"application/json": {}}}})
    async def paper_json(
        request: Request, scholar_id: str = sid,
        pub_id: str = Path(description="The paper's id: `<scholar_id>:<12 chars>` or the part "
                           "after the colon", examples=["DhtAFkwAAAAJ:ALROH1vI_8AC"]),
    ) -> Response:
        """shields.io endpoint JSON for one paper's citations (AcadHomepage's `data=` id)."""
        return await paper(request)

    paper_file = public(lambda scholar_id, pub_id: PAPERS.path(pub_id),
                        "shields.io endpoint JSON for one paper (the kit's file)",
                        "application/json")

    @app.api_route(author + PAPERS.path("{pub_id}"), methods=["GET"],
                   response_class=Response, responses={200: {"content": {"application/json": {}}}})
    async def paper_file_json(
        request: Request, scholar_id: str = sid,
        pub_id: str = Path(description="The part of the paper's id after the colon",
                           examples=["ALROH1vI_8AC"]),
    ) -> Response:
        """shields.io endpoint JSON for one paper: the kit's `papers/<id>.json`."""
        return await paper_file(request)

    badge = public(lambda scholar_id, metric: BADGES.path(metric), "SVG badge", "image/svg+xml")

    @app.api_route(author + BADGES.path("{metric}"), methods=["GET"],
                   response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
    async def badge_svg(
        request: Request, scholar_id: str = sid, metric: str = metric_path,
        label: str | None = Query(None, description="left text (default: the metric's label)"),
        color: str | None = Query(None, description="shields colour name or hex, e.g. 9cf"),
        labelColor: str | None = Query(None, description="left background, e.g. f6f6f6"),
        style: str | None = Query(
            None, description="flat, flat-square, plastic, for-the-badge, social"),
    ) -> Response:
        """A shields-style SVG badge rendered by the service (grey when the data is stale)."""
        return await badge(request)

    def health() -> tuple[str, str]:
        """(database, scheduler) as ``/healthz`` reports them; reads the store (in a thread)."""
        try:
            service.store.schema_version()
            database = "ok"
            service.database.reachable()
        except Exception as exc:  # noqa: BLE001 - report, do not crash
            database = f"error: {type(exc).__name__}"
            service.database.failed(exc)
        return database, service.scheduler_state()

    check_health = Shared(health)
    render_metrics = Shared(service.metrics.render)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Scheduler state, last successful fetch, database reachable (503 when it is not)."""
        try:
            database, scheduler = await asyncio.wait_for(check_health(), HEALTH_TIMEOUT)
        except asyncio.TimeoutError as exc:
            database = "error: TimeoutError"
            service.database.failed(exc)
            scheduler = ("unknown (the database did not answer)"
                         if settings.scheduler_elsewhere else service.scheduler_state())
        successes = service.last_successes()
        body = {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            "scheduler": scheduler,
            "authors": service.snapshot.tracked(),
            "stale_authors": service.stale_authors(datetime.now(timezone.utc)),
            "last_success": (datetime.fromtimestamp(max(successes), timezone.utc).isoformat()
                             if successes else None),
        }
        return JSONResponse(body, status_code=200 if database == "ok" else 503,
                            headers={"cache-control": "no-store"})

    @app.get("/metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    async def metrics() -> Response:
        """Prometheus metrics: requests, fetch outcomes, Scholar requests, oldest data age."""
        body, ctype = await render_metrics()  # reads the store
        service.database.reachable()
        return Response(body, media_type=ctype)

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        """/metrics and the admin routes when the store cannot be reached: 503, one log line."""
        service.database.failed(exc)
        return JSONResponse({"detail": DATABASE_DOWN_DETAIL}, status_code=503,
                            headers={"cache-control": "no-store"})

    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, database_down)

    add_page_routes(app, service.snapshot)
    add_group_routes(app, service.snapshot)
    if settings.admin_token:
        add_admin_routes(app, service, settings.admin_token)
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


def _bodiless(send: Callable[..., Any]) -> Callable[..., Any]:
    """``send`` for a HEAD request answered as a GET: the same status and headers, no body."""

    async def send_head(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head
