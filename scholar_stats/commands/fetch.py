"""``scholar-stats fetch``: fetch authors into a results folder, all or nothing per author."""

from __future__ import annotations

import re
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scholar_stats.core.model import (
    AuthorData,
    FetchStatus,
    parse_scholar_id,
)
from scholar_stats.core.text import load_json, log_safe
from scholar_stats.core.validate import metrics_of
from scholar_stats.errors import ScholarStatsError
from scholar_stats.files import (
    check_writable,
    gs_data_problem,
    read_if_there,
    read_metrics,
    read_record,
    read_status,
    write_files,
)
from scholar_stats.net.deadline import Deadline
from scholar_stats.notify.webhook import Notice, WebhookNotifier
from scholar_stats.outputs.catalogue import (
    BRANCH_FILES,
    CHANGES_JSON,
    GS_DATA,
    SCRIPT,
    SHIELDS,
    AuthorState,
    draw,
    page_script,
    stale_files,
)
from scholar_stats.outputs.changes import ChangeUpdate, change_log_after
from scholar_stats.outputs.export import DEFAULT_MAX_AGE, judge_staleness
from scholar_stats.refresh.attempt import FetchOutcome, attempt_fetch, internal_outcome
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.choice import SourceSettings, open_sources
from scholar_stats.sources.source import Fetcher, Ledger


def output_folders(out: Path, scholar_ids: list[str]) -> dict[str, Path]:
    """One id: straight into ``out`` (a drop-in for AcadHomepage's ``results/``); several:
    ``out/<id>/``."""
    if len(scholar_ids) == 1:
        return {scholar_ids[0]: out}
    return {scholar_id: out / scholar_id for scholar_id in scholar_ids}


def save_outcome(
    folder: Path, outcome: FetchOutcome, changes: ChangeUpdate | None = None
) -> None:
    """Write the data files and ``changes.*`` (only on success) and ``status.json``, all or
    nothing: when the folder cannot take them (``OutputNotWritable``), every file of the
    author stays as it was. After a failure the kept data's kit and shields endpoints are
    redrawn grey once it is stale."""
    if outcome.data is not None:
        log = changes.log if changes is not None else None
        files = draw(AuthorState(outcome.scholar_id, outcome.data, outcome.status, changes=log),
                     BRANCH_FILES)
    else:
        files = stale_kit(folder, outcome.status, datetime.now(timezone.utc))
        files.update(draw(AuthorState(outcome.scholar_id, status=outcome.status), BRANCH_FILES))
    write_files(folder, files)


def note_costs(outcome: FetchOutcome, ledgers: list[Ledger],
               previous: FetchStatus | None) -> FetchOutcome:
    """The outcome with what each source keeps of its cost in the folder's status.json (the
    month's SerpApi searches: the ``previous`` status's, plus those spent now), so the next run
    knows them."""
    status = outcome.status
    for ledger in ledgers:
        status = ledger.note(status, previous)
    return replace(outcome, status=status)


def report_deliveries(notifier: WebhookNotifier, notices: list[Notice]) -> None:
    """Notify the webhooks of each fetch's events (after its files were written): one line
    per delivery, on stderr when it failed; the exit code never depends on it."""
    for notice in notices:
        for delivery in notifier.send(notice):
            if delivery.delivered:
                print(f"{notice.scholar_id}: notified {delivery.target}")
            else:
                print(f"scholar-stats: warning: {notice.scholar_id}: notifying "
                      f"{delivery.target} failed: {delivery.detail} (the data was written)",
                      file=sys.stderr)


def save_fetched(folder: Path, outcome: FetchOutcome, previous: Any) -> Notice | None:
    """Write one author's outcome into ``folder`` (its ``changes.*`` compared with the files
    already there); the notice of its changes, when there are any."""
    if outcome.data is None:
        kept = " (previous data kept)" if previous else ""
        print(log_safe(f"scholar-stats: {outcome.status.message}{kept}"), file=sys.stderr)
        save_outcome(folder, outcome)
        return None
    changes = change_log_after(read_record(folder), read_if_there(folder / CHANGES_JSON.name),
                               outcome.data)
    if changes.warning:
        print(log_safe(f"scholar-stats: warning: {folder / CHANGES_JSON.name} is not a file "
                       f"scholar-stats wrote ({changes.warning}); it is started afresh"),
              file=sys.stderr)
    save_outcome(folder, outcome, changes)
    print(log_safe(  # the message quotes the scraped name
        f"{outcome.status.message} ({outcome.status.requests} requests, "
        f"{outcome.status.duration_seconds:.1f} s, from "
        f"{outcome.source.title}) -> {folder}"
    ))
    if not changes.events:
        return None
    return Notice(outcome.scholar_id, outcome.data.name, outcome.data.updated, changes.events)


def stale_kit(folder: Path, status: FetchStatus, now: datetime) -> dict[str, bytes]:
    """The kit and endpoints of the ``gs_data.json`` kept in ``folder`` (``stale_files``), grey,
    when its last success is older than the stale age (what ``export`` and the service call
    stale); otherwise nothing."""
    try:
        last_success = datetime.fromisoformat(status.last_success or "")
        if last_success.tzinfo is None:
            last_success = last_success.replace(tzinfo=timezone.utc)
        if not judge_staleness(status, last_success, now, DEFAULT_MAX_AGE).stale:
            return {}
        gs_data = load_json((folder / GS_DATA.name).read_bytes())
        metrics_of(gs_data)  # a record fetch wrote, or nothing to redraw
        return stale_files(AuthorData(status.scholar_id, gs_data, kept_since_year(folder)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # no kept data, or not a record fetch wrote: nothing to redraw


def kept_since_year(folder: Path) -> int | None:
    """The year the kept 5-year labels name (a failed attempt's status names none)."""
    try:
        label = load_json((folder / SHIELDS.path("citations-5y")).read_bytes())["label"]
        match = re.fullmatch(r"citations since (\d{4})", str(label))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(match.group(1)) if match else None


def write_page_script(out: Path) -> None:
    """``scholar-stats.js`` at the root of the output folder, unless it is already current."""
    try:
        if (out / SCRIPT.name).read_bytes() == page_script():
            return
    except OSError:
        pass
    write_files(out, {SCRIPT.name: page_script()})


def still_open(sources: list[Fetcher], outcome: FetchOutcome) -> list[Fetcher]:
    """The sources the run's next authors ask: a block is about the address, so an address
    blocked is asked no more in this run (unless it was the last source left)."""
    blocked = outcome.blocked_addresses()
    remaining = [source for source in sources if source.egress not in blocked]
    return remaining or sources


def cli_fetch(args: Any) -> int:
    scholar_ids = list(dict.fromkeys(parse_scholar_id(i) for i in args.scholar_ids))
    settings = FetchSettings.from_args(args)
    choice = SourceSettings.from_args(args)
    folders = output_folders(Path(args.out), scholar_ids)
    for folder in folders.values():
        check_writable(folder)  # exit 9 before a single request is spent
    statuses = {scholar_id: read_status(folder) for scholar_id, folder in folders.items()}
    ledgers = choice.ledgers(statuses.values(), datetime.now(timezone.utc))
    deadline = Deadline(settings.deadline)
    notifier = WebhookNotifier(getattr(args, "notify", None) or [], deadline,
                               backoff=settings.backoff, timeout=settings.timeout)
    worst = 0
    notices: list[Notice] = []  # sent once every author is fetched: a slow webhook costs no fetch
    with ExitStack() as stack:
        stack.enter_context(notifier)
        sources = open_sources(choice, settings, deadline, lambda source, _entry: (
            ledgers[source.name].budget if source.name in ledgers else None))
        for source in sources:
            stack.callback(source.close)
        try:
            for scholar_id, folder in folders.items():
                previous_status = statuses[scholar_id]
                previous = read_metrics(folder)
                problem = None if previous else gs_data_problem(folder)
                if problem:
                    print(log_safe(f"scholar-stats: warning: {folder / GS_DATA.name} is not a file "
                                   f"scholar-stats wrote ({problem}); nothing is compared with "
                                   "it"), file=sys.stderr)
                for ledger in ledgers.values():
                    ledger.begin()
                last_success = previous_status.last_success if previous_status else None
                started, clock_started = datetime.now(timezone.utc), time.monotonic()
                try:
                    outcome = attempt_fetch(scholar_id, settings, deadline, previous=previous,
                                            force=args.force, last_success=last_success,
                                            sources=sources, now=started)
                except Exception as exc:
                    if args.debug:
                        raise
                    outcome = internal_outcome(scholar_id, exc, started, last_success,
                                               duration=time.monotonic() - clock_started)
                outcome = note_costs(outcome, list(ledgers.values()), previous_status)
                # A folder that cannot take the files ends the run (exit 9): the next authors'
                # requests would be spent for nothing.
                notice = save_fetched(folder, outcome, previous)
                notices += [notice] if notice else []
                worst = max(worst, outcome.exit_code)
                sources = still_open(sources, outcome)
        except ScholarStatsError:  # exit 9: the files of the notices so far were written
            report_deliveries(notifier, notices)
            raise
        report_deliveries(notifier, notices)
    write_page_script(Path(args.out))
    return worst
