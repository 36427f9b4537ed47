"""The store commands: ``authors add|remove|list``, ``refresh``, ``history``, ``export`` and
``schedule``. Each handler takes the argparse Namespace and returns the exit code.

Every line they print that may quote scraped text (a name in a fetch's message, a title) goes
through ``core.text.log_safe``: a table cell by cell, a message whole. JSON keeps the exact text
with its hidden characters escaped (``json_safe``); CSV keeps it exact for files and programs,
and inert when it goes to a terminal.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from scholar_stats.commands.arguments import group_name, scholar_ids
from scholar_stats.core.model import parse_scholar_id
from scholar_stats.core.plan import utcnow
from scholar_stats.core.text import json_safe, log_safe
from scholar_stats.errors import UsageError
from scholar_stats.files import write_files
from scholar_stats.notify.listener import attach as attach_notifier
from scholar_stats.outputs.catalogue import GS_DATA, SCRIPT, page_script
from scholar_stats.outputs.export import author_files
from scholar_stats.outputs.history import HISTORY_COLUMNS, render_history_csv
from scholar_stats.outputs.table import text_table
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.choice import SourceSettings
from scholar_stats.store.database import Store
from scholar_stats.store.values import TrackedAuthor


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def tracked_or_exit(store: Store, scholar_id: str) -> TrackedAuthor:
    author = store.get_author(scholar_id)
    if author is None:
        raise UsageError(
            f"{scholar_id} is not tracked; add it with: scholar-stats authors add {scholar_id}"
        )
    return author


def cli_authors_add(args: Any) -> int:
    ids = scholar_ids(args.scholar_ids)
    with Store(args.db) as store:
        added = set(store.add_authors(ids, args.interval, utcnow()))
    for scholar_id in ids:
        verb = "tracking" if scholar_id in added else "already tracked (interval updated)"
        print(f"{scholar_id}: {verb}, every {args.interval:g} s")
    return 0


def cli_authors_remove(args: Any) -> int:
    scholar_id = parse_scholar_id(args.scholar_id)
    with Store(args.db) as store:
        if not store.remove_author(scholar_id):
            raise UsageError(f"{scholar_id} is not tracked")
    print(f"{scholar_id}: no longer tracked; its history was deleted")
    return 0


def cli_authors_list(args: Any) -> int:
    with Store(args.db) as store:
        authors = store.list_authors()
        paused = store.paused_until(utcnow())
    if not authors:
        print("no authors tracked; add one with: scholar-stats authors add SCHOLAR_ID")
        return 0
    rows = [("SCHOLAR_ID", "STATE", "LAST SUCCESS (UTC)", "SOURCE", "NEXT DUE (UTC)",
             "INTERVAL")]
    rows += [
        (a.scholar_id, a.state, _when(a.last_success), a.source or "-", _when(a.next_due),
         f"{a.interval_seconds:g} s")
        for a in authors
    ]
    print(text_table(rows))
    if paused is not None:
        print(f"all fetching paused until {_when(paused)} UTC after Scholar blocked a request")
    return 0


def cli_refresh(args: Any) -> int:
    """One pass over the due authors (or the given ones), then exit: for system cron.

    A driver of the refresh engine's pass: one deadline (``--deadline``) and one client
    (politeness delay between authors), the hourly budget and a block pause, stopping at a
    block. Exit code: the highest among the attempts; a given id that another live process is
    fetching is ``AuthorBusy`` (12). A due author that another pass has taken, or has just
    fetched, is left to it.
    """
    from scholar_stats.net.deadline import Deadline
    from scholar_stats.refresh.engine import RefreshEngine

    ids = scholar_ids(args.scholar_ids)
    due_pass = not ids
    settings = FetchSettings.from_args(args)
    sources = SourceSettings.from_args(args)
    with Store(args.db) as store:
        now = utcnow()
        for scholar_id in ids:
            tracked_or_exit(store, scholar_id)
        engine = RefreshEngine(store, settings, requests_per_hour=args.requests_per_hour,
                               sources=sources)
        if not ids:
            paused = engine.paused_until()  # at every address of the pool
            if paused is not None and not engine.falls_back:
                print(f"scholar-stats: fetching is paused until {_when(paused)} UTC after "
                      "Scholar blocked a request; nothing fetched", file=sys.stderr)
                return 0
            ids = [a.scholar_id for a in store.due_authors(now)]
        if not ids:
            print("no author is due")
            return 0
        deadline = Deadline(settings.deadline)
        notifier = attach_notifier(engine, args.notify, settings, deadline)
        try:
            return _run_pass(engine, ids, due_pass, deadline)
        finally:
            if notifier is not None:  # sent within what is left of the run's deadline
                notifier.close(timeout=deadline.remaining())


def _run_pass(engine: Any, ids: list[str], due_pass: bool, deadline: Any) -> int:
    """Drive the engine's pass, one line per author; the highest exit code."""
    from scholar_stats.refresh.budget import BudgetSpent

    worst = 0
    for step in engine.run_pass(ids, due_only=due_pass, deadline=deadline):
        if step.stopped is not None:
            print(log_safe(f"scholar-stats: stopped before {step.scholar_id}: {step.stopped}; "
                           "the rest stay due"), file=sys.stderr)
        elif step.busy is not None:
            if not due_pass:
                print(log_safe(f"scholar-stats: {step.busy}"), file=sys.stderr)
                worst = max(worst, step.busy.exit_code)
        elif step.outcome is None:
            if not due_pass:
                print(f"scholar-stats: {step.scholar_id}: not fetched: "
                      f"{engine.budget_in_the_way()} cannot cover it now; try again later",
                      file=sys.stderr)
                worst = max(worst, BudgetSpent.exit_code)
        else:
            outcome = step.outcome
            stream = sys.stdout if outcome.ok else sys.stderr
            print(log_safe(("" if outcome.ok else "scholar-stats: ") + outcome.status.message),
                  file=stream)
            worst = max(worst, outcome.exit_code)
            if outcome.exit_code == 3:  # a block is about our address; other refusals are not
                source = outcome.source
                who = f"{source.title} blocked us" if source.per_egress \
                    else f"{source.title} refused"
                print(f"scholar-stats: {who}; the other authors wait", file=sys.stderr)
    return worst


def history_json(rows: list[Any]) -> str:
    return json_safe([{"date": r.date, **dict(r.values)} for r in rows]) + "\n"


def cli_history(args: Any) -> int:
    scholar_id = parse_scholar_id(args.scholar_id)
    if args.papers:
        return paper_history(args, scholar_id)
    with Store(args.db) as store:
        tracked_or_exit(store, scholar_id)
        rows = store.history(scholar_id)
    if args.format == "csv":
        sys.stdout.write(render_history_csv(rows).decode())
    elif args.format == "json":
        sys.stdout.write(history_json(rows))
    else:
        if not rows:
            print(f"{scholar_id}: no history yet")
            return 0
        table = [tuple(HISTORY_COLUMNS)]
        table += [(r.date, *(str(r.values[name]) for name in HISTORY_COLUMNS[1:])) for r in rows]
        print(text_table(table))
    return 0


def paper_history(args: Any, scholar_id: str) -> int:
    """``history --papers``: every stored change of a paper's citations, newest first."""
    from scholar_stats.outputs.paper_history import (
        PAPER_COLUMNS,
        paper_changes,
        render_paper_changes_csv,
        render_paper_changes_json,
        shown_change,
    )

    with Store(args.db) as store:
        tracked_or_exit(store, scholar_id)
        latest = store.latest(scholar_id)
        history = store.publication_history(scholar_id)
    pubs = (latest.gs_data.get("publications") or {}) if latest else {}
    titles = {pub_id: str((pub.get("bib") or {}).get("title", "")) for pub_id, pub in pubs.items()}
    rows = paper_changes(history, titles)
    if args.format == "csv":  # exact for a file or a program; inert on a terminal
        sys.stdout.write(render_paper_changes_csv(rows, inert=sys.stdout.isatty()))
    elif args.format == "json":
        sys.stdout.write(render_paper_changes_json(rows))
    elif not rows:
        print(f"{scholar_id}: no paper history yet")
    else:
        print(text_table([PAPER_COLUMNS, *((r.date, r.author_pub_id, r.title, str(r.citations),
                                            shown_change(r.change)) for r in rows)]))
    return 0


def cli_export(args: Any) -> int:
    """Write the files of ``fetch --out`` (plus history.csv) from the store, atomically; or,
    with ``--group``, the group's files."""
    if (args.group is None) == (args.scholar_id is None):
        raise UsageError("export takes a SCHOLAR_ID or --group NAME (one of them)")
    if args.group is not None:
        return export_group(args)
    scholar_id = parse_scholar_id(args.scholar_id)
    with Store(args.db) as store:
        files = author_files(store, scholar_id, now=utcnow(), max_age_seconds=args.stale_age)
    if GS_DATA.name not in files:
        print(f"scholar-stats: {scholar_id}: no data fetched yet; run: scholar-stats refresh "
              f"{scholar_id}", file=sys.stderr)  # a validated id: nothing scraped
    files[SCRIPT.name] = page_script()  # the homepage's include, at the root of --out
    out = Path(args.out)
    write_files(out, files)  # all or nothing; OutputNotWritable (exit 9) names path and cause
    print(log_safe(f"{scholar_id}: {len(files)} files -> {out}"))
    return 0


def export_group(args: Any) -> int:
    from scholar_stats.outputs.export import group_files

    name = group_name(args.group)
    with Store(args.db) as store:
        files = group_files(store, name)
    if files is None:
        raise UsageError(f"no group {name}")
    out = Path(args.out)
    write_files(out, files)
    print(log_safe(f"group {name}: {len(files)} files -> {out}"))
    return 0


def cli_schedule(args: Any) -> int:
    """Run the scheduler in the foreground until SIGINT/SIGTERM; one line per fetch."""
    from scholar_stats.refresh.engine import RefreshEngine
    from scholar_stats.refresh.scheduler import RefreshScheduler

    settings = FetchSettings.from_args(args)

    def report(outcome: Any) -> None:
        stream = sys.stdout if outcome.ok else sys.stderr
        print(log_safe(outcome.status.message), file=stream, flush=True)

    with Store(args.db) as store:
        engine = RefreshEngine(store, settings, requests_per_hour=args.requests_per_hour,
                               sources=SourceSettings.from_args(args))
        engine.add_listener(report)
        notifier = attach_notifier(engine, args.notify, settings)
        count = len(store.list_authors())

        def announce() -> None:  # after the SIGTERM handler is in place
            print(f"scheduler started: {count} tracked authors in {store.display_url}; "
                  "Ctrl-C to stop", flush=True)

        try:
            RefreshScheduler(engine).run_until_signal(announce)
        finally:
            if notifier is not None:
                notifier.close(timeout=settings.deadline)
    return 0
