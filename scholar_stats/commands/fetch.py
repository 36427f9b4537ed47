"""``scholar-stats fetch``: fetch authors into a results folder, all or nothing per author."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from scholar_stats.core.model import (
    validate_scholar_id,
)
from scholar_stats.errors import ScholarStatsError
from scholar_stats.files import (
    check_writable,
    read_if_there,
    read_metrics,
    read_record,
    read_status,
    write_files,
)
from scholar_stats.net.deadline import Deadline
from scholar_stats.notify.webhook import Notice, WebhookNotifier
from scholar_stats.outputs.changes import CHANGES_JSON, ChangeUpdate, change_files_after
from scholar_stats.outputs.render import STATUS, render_author_files, render_status
from scholar_stats.outputs.summary import log_safe
from scholar_stats.refresh.attempt import FetchOutcome, attempt_fetch
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.scholar.client import ScholarClient


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
    author stays as it was."""
    files = render_author_files(outcome.data) if outcome.data is not None else {}
    if outcome.data is not None and changes is not None:
        files.update(changes.files)
    files[STATUS] = render_status(outcome.status)
    write_files(folder, files)


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


def fetch_one(scholar_id: str, folder: Path, settings: FetchSettings, deadline: Deadline,
              client: ScholarClient, force: bool) -> tuple[FetchOutcome, Notice | None]:
    """Fetch one author into ``folder``; the notice of its changes, when there are any."""
    previous_status = read_status(folder)
    previous = read_metrics(folder)
    previous_record = read_record(folder)  # what changes.json compares with
    previous_log = read_if_there(folder / CHANGES_JSON)
    outcome = attempt_fetch(
        scholar_id,
        settings,
        deadline,
        previous=previous,
        force=force,
        last_success=previous_status.last_success if previous_status else None,
        client=client,
    )
    if outcome.data is None:
        kept = " (previous data kept)" if previous else ""
        print(log_safe(f"scholar-stats: {outcome.status.message}{kept}"), file=sys.stderr)
        save_outcome(folder, outcome)
        return outcome, None
    changes = change_files_after(previous_record, previous_log, outcome.data)
    if changes.warning:
        print(log_safe(f"scholar-stats: warning: {folder / CHANGES_JSON} is not a file "
                       f"scholar-stats wrote ({changes.warning}); it is started afresh"),
              file=sys.stderr)
    save_outcome(folder, outcome, changes)
    print(log_safe(  # the message quotes the scraped name
        f"{outcome.status.message} ({outcome.status.requests} requests, "
        f"{outcome.status.duration_seconds:.1f} s) -> {folder}"
    ))
    if not changes.events:
        return outcome, None
    return outcome, Notice(scholar_id, outcome.data.name, outcome.data.updated, changes.events)


def cli_fetch(args: Any) -> int:
    scholar_ids = list(dict.fromkeys(validate_scholar_id(i) for i in args.scholar_ids))
    settings = FetchSettings.from_args(args)
    folders = output_folders(Path(args.out), scholar_ids)
    for folder in folders.values():
        check_writable(folder)  # exit 9 before a single request is spent
    deadline = Deadline(settings.deadline)
    notifier = WebhookNotifier(getattr(args, "notify", None) or [], deadline,
                               backoff=settings.backoff, timeout=settings.timeout)
    worst = 0
    notices: list[Notice] = []  # sent once every author is fetched: a slow webhook costs no fetch
    with ScholarClient(settings, deadline) as client, notifier:
        try:
            for scholar_id, folder in folders.items():
                # A folder that cannot take the files ends the run (exit 9): the next authors'
                # requests would be spent for nothing.
                outcome, notice = fetch_one(scholar_id, folder, settings, deadline, client,
                                            args.force)
                notices += [notice] if notice else []
                worst = max(worst, outcome.exit_code)
        except ScholarStatsError:  # exit 9: the files of the notices so far were written
            report_deliveries(notifier, notices)
            raise
        report_deliveries(notifier, notices)
    return worst
