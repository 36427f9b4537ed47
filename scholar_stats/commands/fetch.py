"""``scholar-stats fetch``: fetch authors into a results folder, all or nothing per author."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scholar_stats.core.model import (
    validate_scholar_id,
)
from scholar_stats.errors import Blocked
from scholar_stats.files import check_writable, read_metrics, read_status, write_files
from scholar_stats.net.deadline import Deadline
from scholar_stats.outputs.render import STATUS, render_author_files, render_status
from scholar_stats.outputs.summary import log_safe
from scholar_stats.refresh.attempt import FetchOutcome, attempt_fetch
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.choice import NAMES, Source, SourceSettings, open_sources
from scholar_stats.sources.serpapi.monthly import MonthlySearches, month_of, spent_by, spent_in


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


def count_searches(outcome: FetchOutcome, month: str, before: int, spent: int,
                   counting: bool) -> FetchOutcome:
    """The outcome with the month's SerpApi searches of its folder (``before`` plus ``spent``
    now) in its status, so the next run knows them; left out while none were ever counted."""
    if not counting and not before and not spent:
        return outcome
    return replace(outcome, status=replace(
        outcome.status, serpapi_month=month, serpapi_searches=before + spent))


def still_open(sources: list[Source], outcome: FetchOutcome) -> list[Source]:
    """The sources the run's next authors ask: a block is about the address, so an address
    Scholar blocked is asked no more in this run (unless it was the last source left)."""
    blocked = set(outcome.blocked_egresses)
    if outcome.status.source == "scholar" and outcome.exit_code == Blocked.exit_code:
        blocked.add(outcome.egress or "")
    remaining = [source for source in sources
                 if getattr(source, "egress", None) not in blocked]
    return remaining or sources


def cli_fetch(args: Any) -> int:
    scholar_ids = list(dict.fromkeys(validate_scholar_id(i) for i in args.scholar_ids))
    settings = FetchSettings.from_args(args)
    choice = SourceSettings.from_args(args)
    folders = output_folders(Path(args.out), scholar_ids)
    for folder in folders.values():
        check_writable(folder)  # exit 9 before a single request is spent
    statuses = {scholar_id: read_status(folder) for scholar_id, folder in folders.items()}
    month = month_of(datetime.now(timezone.utc))
    budget = None
    if "serpapi" in choice.order:
        budget = MonthlySearches(month, choice.monthly_limit, spent_in(month, statuses.values()))
    deadline = Deadline(settings.deadline)
    worst = 0
    with ExitStack() as stack:
        sources = open_sources(choice, settings, deadline, budget)
        for source in sources:
            stack.callback(source.close)
        for scholar_id, folder in folders.items():
            previous_status = statuses[scholar_id]
            previous = read_metrics(folder)
            searches_before = budget.used if budget else 0
            outcome = attempt_fetch(
                scholar_id,
                settings,
                deadline,
                previous=previous,
                force=args.force,
                last_success=previous_status.last_success if previous_status else None,
                sources=sources,
            )
            outcome = count_searches(outcome, month, spent_by(month, previous_status),
                                     (budget.used if budget else 0) - searches_before,
                                     budget is not None)
            if not outcome.ok:
                kept = " (previous data kept)" if previous else ""
                print(log_safe(f"scholar-stats: {outcome.status.message}{kept}"), file=sys.stderr)
            # A folder that cannot take the files ends the run (exit 9): the next authors'
            # requests would be spent for nothing.
            save_outcome(folder, outcome)
            if outcome.ok:
                print(log_safe(  # the message quotes the scraped name
                    f"{outcome.status.message} ({outcome.status.requests} requests, "
                    f"{outcome.status.duration_seconds:.1f} s, from "
                    f"{NAMES[outcome.status.source or 'scholar']}) -> {folder}"
                ))
            worst = max(worst, outcome.exit_code)
            sources = still_open(sources, outcome)
    return worst
