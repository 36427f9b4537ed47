"""Running the service: ``scholar-stats serve``, the listening socket, one process or several
workers sharing it, and a clean stop on SIGTERM."""

from __future__ import annotations

import logging
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from scholar_stats import redact
from scholar_stats.errors import (
    CannotListen,
    ScholarStatsError,
)
from scholar_stats.service.app import create_app, served
from scholar_stats.service.fastpath import ASGIApp
from scholar_stats.service.settings import (
    SERVICE_PAGE_CACHE_KIB,
    ServiceSettings,
    service_settings,
)
from scholar_stats.store.database import Store

log = logging.getLogger(__name__)


def cli_serve(args: Any) -> int:
    """``scholar-stats serve``: uvicorn with the app and the scheduler in one process, or with
    ``--workers N``, N worker processes and the scheduler in the supervisor.

    The port is bound before anything else starts, so a port that cannot be had ends the
    command at once with exit 11 (CannotListen) and one line; then the store is opened once,
    so a database that cannot be used is exit 10 and one line.
    """
    settings = service_settings(args)
    workers = args.workers
    sock = listen_socket(args.host, args.port)
    try:
        # opened (and migrated) here, before uvicorn starts: a database that cannot be used is
        # exit 10 and one line, not a traceback from inside uvicorn's startup
        with Store(settings.db_url, page_cache_kib=SERVICE_PAGE_CACHE_KIB) as store:
            log.warning("serving on %s (scheduler %s, admin routes %s, %d worker%s)",
                        _base_url(args.host, sock.getsockname()[1]),
                        "on" if settings.scheduler else "off",
                        "on" if settings.admin_token else "off", workers,
                        "" if workers == 1 else "s")
            if workers == 1:
                run_server(create_app(settings, store=store), sock)
            else:
                run_workers(settings, workers, sock, store)
    finally:
        sock.close()
    return 0


# uvicorn as ``serve`` runs it: quiet, no access log, no Server header; a connection idle for
# 5 s after an answer is closed; no WebSocket (the service has no such route: uvicorn's
# implementation is not even imported, 1 MB). X-Forwarded-Proto and X-Forwarded-For are read by
# the app, behind its fast path (``app.create_app``), not by uvicorn in front of every request:
# no public answer depends on them.
UVICORN_OPTIONS: dict[str, Any] = {
    "log_level": "warning", "access_log": False, "server_header": False, "proxy_headers": False,
    "timeout_keep_alive": 5, "ws": "none",
    "interface": "asgi3",  # uvicorn would take a bound coroutine method for ASGI 2 (``served``)
}


def uvicorn_config(app: Any, **more: Any) -> Any:
    """uvicorn's configuration of ``serve`` for ``app`` (an ASGI app or a factory): its
    httptools protocol, with the fast path's remembered paths answered in it."""
    import uvicorn

    from scholar_stats.service.protocol import FastPathProtocol

    return uvicorn.Config(app, **UVICORN_OPTIONS, http=FastPathProtocol, **more)


# Refreshes rebuild answers in worker threads. The event loop lets go of the GIL each time it
# waits for the network, and a thread that takes it then keeps it for the switch interval: at
# 0.5 ms, a loop answering 100,000 requests a second lost half its pace while a rebuild ran
# (p99 2.7x of idle during a refresh of 100 authors of 2,000); at 0.1 ms, 1.8x.
# Python's default is 5 ms.
SWITCH_INTERVAL = 0.0001


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
    server = uvicorn.Server(uvicorn_config(served(app)))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C after a graceful shutdown, as uvicorn.run treats it
        pass
    except SystemExit:
        # uvicorn exits with code 3 when the app's startup fails; 3 is "blocked by Scholar" here
        raise ScholarStatsError("the service did not start; the error is logged above") from None


def run_workers(settings: ServiceSettings, workers: int, sock: socket.socket,
                store: Store) -> None:
    """``serve --workers N``: uvicorn's process manager runs N workers sharing the bound
    ``sock``, each with its own snapshot (memory grows with N); this process, with the
    ``store`` it opened (and so migrated) before the workers open it, runs the scheduler, and
    the workers' polls pick up what it records.

    Each worker gets the settings resolved here as data: the app factory handed to uvicorn is
    a :class:`WorkerApp` holding them, which uvicorn's spawned workers receive pickled with
    its config. Nothing is re-parsed and nothing is copied into the environment, so a worker
    runs with exactly the settings this process validated.
    """
    from uvicorn.supervisors import Multiprocess

    scheduler = notifier = None
    try:
        if settings.scheduler:
            from scholar_stats.notify.listener import attach as attach_notifier
            from scholar_stats.refresh.engine import RefreshEngine
            from scholar_stats.refresh.scheduler import RefreshScheduler

            if settings.fetch is None:  # service_settings always sets it
                raise ValueError("the scheduler needs the Scholar settings")
            engine = RefreshEngine(store, settings.fetch,
                                   requests_per_hour=settings.requests_per_hour,
                                   sources=settings.sources)
            notifier = attach_notifier(engine, settings.notify, settings.fetch)
            scheduler = RefreshScheduler(engine)
            scheduler.start()
        config = uvicorn_config(WorkerApp(settings.for_worker(), redact.known()),
                                factory=True, workers=workers)
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        if notifier is not None and settings.fetch is not None:
            notifier.close(timeout=settings.fetch.deadline)


@dataclass(frozen=True)
class WorkerApp:
    """The app factory of one ``serve --workers N`` worker: uvicorn calls it in each worker,
    a new process, which redacts the secrets the supervisor knew as the supervisor does."""

    settings: ServiceSettings
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def __call__(self) -> ASGIApp:
        redact.install(self.secrets)
        sys.setswitchinterval(SWITCH_INTERVAL)
        return served(create_app(self.settings))
