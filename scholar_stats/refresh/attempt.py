"""One attempt at one author: fetch, parse, check and gate, never raising. Every driver
(``fetch``, ``refresh``, the scheduler, the service) goes through ``attempt_fetch``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from scholar_stats import redact
from scholar_stats.core.changes import ChangeEvent
from scholar_stats.core.gate import check_plausible
from scholar_stats.core.model import (
    AuthorData,
    FetchStatus,
    Metrics,
)
from scholar_stats.core.text import clean_text
from scholar_stats.core.validate import Intake
from scholar_stats.errors import Blocked, ScholarStatsError
from scholar_stats.net.deadline import Deadline
from scholar_stats.settings import DIRECT, FetchSettings
from scholar_stats.sources import registry
from scholar_stats.sources.choice import SourceSettings, open_sources
from scholar_stats.sources.source import Fetcher, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchOutcome:
    """What one attempt gave: ``data`` only when it succeeded and passed the gate."""

    scholar_id: str
    data: AuthorData | None
    status: FetchStatus
    error: ScholarStatsError | None
    events: tuple[ChangeEvent, ...] = ()  # filled in when recorded in the store (refresh.record)
    blocked_sources: tuple[str, ...] = ()  # the sources that blocked before the one that answered
    blocked_egresses: tuple[str, ...] = ()  # the addresses (keys) blocked on the way
    egress: str | None = None  # the address of the last source asked per address, if any

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    @property
    def ok(self) -> bool:
        return self.data is not None

    @property
    def source(self) -> Source:
        """The source the data (or the failure) came from: the origin when none is named."""
        return registry.get(self.status.source)

    def blocked_addresses(self) -> set[str]:
        """The addresses a block in this attempt was about: a block is about the address, so
        a run's next authors skip them (those blocked on the way, and the last one asked when
        the attempt ended blocked there)."""
        blocked = set(self.blocked_egresses)
        if self.source.per_egress and self.exit_code == Blocked.exit_code:
            blocked.add(self.egress or "")
        return blocked


def attempt_fetch(
    scholar_id: str,
    settings: FetchSettings,
    deadline: Deadline,
    *,
    previous: Metrics | None,
    force: bool = False,
    last_success: str | None = None,
    now: datetime | None = None,
    sources: Sequence[Fetcher] | None = None,
) -> FetchOutcome:
    """Fetch, parse, validate and gate one author. Never raises a ``ScholarStatsError``.

    ``sources`` are asked in order, the next only when one blocks (exit 3): ``--source auto``
    is ``[Scholar, SerpApi]``. Without them, the origin (Scholar) alone, opened for this attempt.
    """
    started_at = now or datetime.now(timezone.utc)
    started = time.monotonic()
    own: list[Fetcher] = []
    if sources is None:
        sources = own = open_sources(SourceSettings(registry.origin().name), settings,
                                     deadline, egresses=settings.egresses[:1])
    data: AuthorData | None = None
    error: ScholarStatsError | None = None
    blocked: list[str] = []  # "Scholar blocked (<why>)" for each source before the last
    blocked_sources: list[str] = []
    blocked_egresses: list[str] = []
    egress: str | None = None
    used: Fetcher = sources[0]
    requests = 0
    intake = Intake()  # every page of this attempt, whichever source sent it
    try:
        for position, source in enumerate(sources):
            used, before = source, source.requests_made
            egress = source.egress if source.egress is not None else egress
            try:
                fetched = source.fetch(scholar_id, started_at, previous, intake)
                if not force:
                    check_plausible(scholar_id, previous, fetched.metrics)
                data, error = fetched, None
            except ScholarStatsError as exc:
                error = exc
            finally:
                requests += source.requests_made - before
            if not isinstance(error, Blocked) or position == len(sources) - 1:
                break
            blocked.append(f"{named(source)} blocked ({error})")
            blocked_sources.append(source.source.name)
            if source.egress is not None:
                blocked_egresses.append(source.egress)
    finally:
        for source in own:
            source.close()
    attempt_time = started_at.isoformat(timespec="seconds")
    name = named(used)
    via = f" (via {name}: {'; '.join(blocked)})" if blocked else ""
    if data is not None:
        metrics = data.metrics
        message = (
            f"{scholar_id}: {data.name}: {metrics.citations} citations, h-index "
            f"{metrics.h_index}, {metrics.publications} publications{via}"
        )
    else:
        text = str(error)
        if blocked:
            text = f"{'; '.join(blocked)}; then {name}: {text}"
        message = text if text.startswith(scholar_id) else f"{scholar_id}: {text}"
    status = FetchStatus(
        scholar_id=scholar_id,
        outcome="ok" if error is None else error.kind,
        exit_code=0 if error is None else error.exit_code,
        message=clean_text(message),  # error texts may quote what a server sent
        last_attempt=attempt_time,
        last_success=attempt_time if data is not None else last_success,
        requests=requests,
        duration_seconds=time.monotonic() - started,
        since_year=data.since_year if data is not None else None,
        source=used.source.name,
    )
    return FetchOutcome(scholar_id, data, status, error,
                        blocked_sources=tuple(blocked_sources),
                        blocked_egresses=tuple(blocked_egresses), egress=egress)


def named(fetcher: Fetcher) -> str:
    """The source as a message names it: its title, and the address when not direct."""
    title = fetcher.source.title
    return title if fetcher.label == DIRECT else f"{title} via {fetcher.label}"


def internal_outcome(
    scholar_id: str, exc: Exception, started: datetime, last_success: str | None, *,
    requests: int = 0, duration: float = 0.0,
) -> FetchOutcome:
    """An attempt that ended in an unexpected exception (a bug, or a value the database
    refused): outcome "internal", exit 1, one line; the traceback goes to the log (``-v``)."""
    log.debug("%s: internal error", scholar_id, exc_info=exc)
    first_line = redact.redact((str(exc).strip().splitlines() or [""])[0])[:300]
    error = ScholarStatsError(
        f"internal error: {type(exc).__name__}: {first_line} (-v shows the traceback; "
        "please report it)"
    )
    stamp = started.isoformat(timespec="seconds")
    status = FetchStatus(
        scholar_id=scholar_id, outcome=error.kind, exit_code=error.exit_code,
        message=clean_text(f"{scholar_id}: {error}"), last_attempt=stamp,
        last_success=last_success,
        requests=requests, duration_seconds=duration,
    )
    return FetchOutcome(scholar_id, None, status, error)
