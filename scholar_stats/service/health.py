"""Whether the store can be reached (logged once per change of state), and the poll that keeps
the service's snapshot in step with the store."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import sqlalchemy
import sqlalchemy.exc

from scholar_stats.errors import StoreUnavailable
from scholar_stats.service.prepared import in_background

if TYPE_CHECKING:
    from scholar_stats.service.mirror import Service

log = logging.getLogger("scholar_stats.service.mirror")


# What a store that cannot be reached raises: the store's own error, and SQLAlchemy's errors
# for a lost or refused connection (psycopg's and sqlite3's, wrapped). Other database errors
# (integrity, programming) are bugs, not an outage, and stay 500s with a traceback.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    StoreUnavailable, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.TimeoutError,
)


DATABASE_DOWN_DETAIL = "the database cannot be reached; public answers continue from memory"


def db_password(db_url: str | None) -> str | None:
    """The database password in ``db_url``, kept out of log lines."""
    try:
        return sqlalchemy.make_url(db_url).password if db_url else None
    except sqlalchemy.exc.ArgumentError:  # the store says what is wrong with it when it opens
        return None


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


async def poll_store(service: Service) -> None:
    """Pick up changes other processes made to the store, and data turning stale with age."""
    interval = service.settings.poll_seconds
    if interval <= 0:
        return
    # one thread of its own, in the background: the rebuilds of a refresh landing run there
    pool = ThreadPoolExecutor(1, "scholar-stats-poll", initializer=in_background)
    try:
        while True:
            await asyncio.sleep(interval)
            await _poll_once(service, pool)
    finally:
        pool.shutdown(wait=False)  # a sync under way ends on its own; the service is stopping


async def _poll_once(service: Service, pool: ThreadPoolExecutor) -> None:
    try:
        await asyncio.get_running_loop().run_in_executor(pool, service.sync)
    except DATABASE_DOWN as exc:  # logged once, not every poll; retried next time
        service.database.failed(exc)
    except Exception:
        log.warning("polling the store failed", exc_info=True)
    else:
        service.database.reachable()
