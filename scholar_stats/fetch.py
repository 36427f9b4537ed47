"""The one fetch path (``fetch``, ``refresh`` and the scheduler all use ``attempt_fetch``),
and the ``scholar-stats fetch`` command that writes its result to a results folder.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ScholarStatsError
from .files import check_writable, read_metrics, read_status, write_files
from .gate import check_plausible
from .model import AuthorData, FetchStatus, Metrics, validate_scholar_id
from .parse import parse_profile
from .render import STATUS, render_author_files, render_status
from .scholar import Deadline, ScholarClient
from .settings import FetchSettings
from .summary import log_safe


@dataclass(frozen=True)
class FetchOutcome:
    """What one attempt gave: ``data`` only when it succeeded and passed the gate."""

    scholar_id: str
    data: AuthorData | None
    status: FetchStatus
    error: ScholarStatsError | None

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    @property
    def ok(self) -> bool:
        return self.data is not None


def attempt_fetch(
    scholar_id: str,
    settings: FetchSettings,
    deadline: Deadline,
    *,
    previous: Metrics | None,
    force: bool = False,
    last_success: str | None = None,
    before_request: Callable[[], None] | None = None,
    now: datetime | None = None,
    client: ScholarClient | None = None,
) -> FetchOutcome:
    """Fetch, parse, validate and gate one author. Never raises a ``ScholarStatsError``.

    Pass ``client`` to share one client (and its politeness delay) across several authors.
    """
    started_at = now or datetime.now(timezone.utc)
    started = time.monotonic()
    own_client = client is None
    if client is None:
        client = ScholarClient(settings, deadline, before_request=before_request)
    requests_before = client.requests_made
    data: AuthorData | None = None
    error: ScholarStatsError | None = None
    try:
        fetched = parse_profile(scholar_id, client.get_page, started_at)
        if not force:
            check_plausible(scholar_id, previous, fetched.metrics)
        data = fetched
    except ScholarStatsError as exc:
        error = exc
    finally:
        if own_client:
            client.close()
    attempt_time = started_at.isoformat(timespec="seconds")
    if data is not None:
        metrics = data.metrics
        message = (
            f"{scholar_id}: {data.name}: {metrics.citations} citations, h-index "
            f"{metrics.h_index}, {metrics.publications} publications"
        )
    else:
        assert error is not None
        text = str(error)
        message = text if text.startswith(scholar_id) else f"{scholar_id}: {text}"
    status = FetchStatus(
        scholar_id=scholar_id,
        outcome="ok" if error is None else error.kind,
        exit_code=0 if error is None else error.exit_code,
        message=message,
        last_attempt=attempt_time,
        last_success=attempt_time if data is not None else last_success,
        requests=client.requests_made - requests_before,
        duration_seconds=time.monotonic() - started,
        since_year=data.since_year if data is not None else None,
    )
    return FetchOutcome(scholar_id, data, status, error)


def output_folders(out: Path, scholar_ids: list[str]) -> dict[str, Path]:
    """One id: straight into ``out`` (a drop-in for AcadHomepage's ``results/``); several:
    ``out/<id>/``."""
    if len(scholar_ids) == 1:
        return {scholar_ids[0]: out}
    return {scholar_id: out / scholar_id for scholar_id in scholar_ids}


def save_outcome(folder: Path, outcome: FetchOutcome) -> None:
    """Write the data files (only on success) and ``status.json``, all or nothing: when the
    folder cannot take them (``OutputNotWritable``), every file of the author stays as it was."""
    files = render_author_files(outcome.data) if outcome.data is not None else {}
    files[STATUS] = render_status(outcome.status)
    write_files(folder, files)


def cli_fetch(args: Any) -> int:
    scholar_ids = list(dict.fromkeys(validate_scholar_id(i) for i in args.scholar_ids))
    settings = FetchSettings.from_args(args)
    folders = output_folders(Path(args.out), scholar_ids)
    for folder in folders.values():
        check_writable(folder)  # exit 9 before a single request is spent
    deadline = Deadline(settings.deadline)
    worst = 0
    with ScholarClient(settings, deadline) as client:
        for scholar_id, folder in folders.items():
            previous_status = read_status(folder)
            previous = read_metrics(folder)
            outcome = attempt_fetch(
                scholar_id,
                settings,
                deadline,
                previous=previous,
                force=args.force,
                last_success=previous_status.last_success if previous_status else None,
                client=client,
            )
            if not outcome.ok:
                kept = " (previous data kept)" if previous else ""
                print(log_safe(f"scholar-stats: {outcome.status.message}{kept}"), file=sys.stderr)
            # A folder that cannot take the files ends the run (exit 9): the next authors'
            # requests would be spent for nothing.
            save_outcome(folder, outcome)
            if outcome.ok:
                print(log_safe(  # the message quotes the scraped name
                    f"{outcome.status.message} ({outcome.status.requests} requests, "
                    f"{outcome.status.duration_seconds:.1f} s) -> {folder}"
                ))
            worst = max(worst, outcome.exit_code)
    return worst
