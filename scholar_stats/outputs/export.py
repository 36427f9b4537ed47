"""The files of one author rebuilt from the store: what ``export --out`` writes and the service
serves. Same renderers as ``fetch``, so a homepage can switch sources by changing a base URL.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from scholar_stats.core.groups import GroupTotals, group_totals
from scholar_stats.core.model import FetchStatus
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.core.plan import STALE_AGE, is_stale
from scholar_stats.errors import UsageError
from scholar_stats.outputs.changes import (
    CHANGES_JSON,
    CHANGES_XML,
    ChangeLog,
    render_changes_json,
    render_changes_xml,
)
from scholar_stats.outputs.groups import render_group_files
from scholar_stats.outputs.history import HISTORY_FILE, render_history_csv
from scholar_stats.outputs.render import STATUS, render_author_files, render_status

if TYPE_CHECKING:  # read through the store it is handed; importing it would pull SQLAlchemy
    from scholar_stats.store.database import Store
    from scholar_stats.store.values import TrackedAuthor

DEFAULT_MAX_AGE: float = STALE_AGE  # the stale_age setting's default


def describe_age(seconds: float) -> str:
    """A short human age: "3 h", "9 days"."""
    if seconds < 7200:
        return f"{max(0, round(seconds / 60))} min"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def judge_staleness(
    status: FetchStatus, last_success: datetime | None, now: datetime, max_age_seconds: float
) -> FetchStatus:
    """``status`` with ``stale``/``stale_reason`` set (``plan.is_stale``, the judgement the
    service uses too); the reason names the age and the last failure, if any."""
    failure = "" if status.exit_code == 0 else f"; last attempt failed: {status.message}"
    if last_success is None:
        reason = "no successful fetch yet" + failure
        return dataclasses.replace(status, stale=True, stale_reason=reason)
    if not is_stale(last_success, now, max_age_seconds):
        return dataclasses.replace(status, stale=False, stale_reason=None)
    age = (now - last_success).total_seconds()
    reason = (
        f"data is {describe_age(age)} old (older than {describe_age(max_age_seconds)})" + failure
    )
    return dataclasses.replace(status, stale=True, stale_reason=reason)


def author_files(
    store: Store, scholar_id: str, *, now: datetime, max_age_seconds: float = DEFAULT_MAX_AGE,
    author: TrackedAuthor | None = None, kit: bool = True,
) -> dict[str, bytes]:
    """Relative path → bytes: gs_data.json, gs_data_shieldsio.json, shields/*.json, the kit
    (``outputs/kit.py``, unless ``kit`` is false; grey badges when stale), history.csv,
    changes.json and changes.xml (only once there is data) and status.json (once there was an
    attempt).

    Deterministic for the same store state and ``now``. Raises ``UsageError`` for an author
    that is not tracked. ``author`` saves a read when the caller has just read it.
    """
    if author is None:
        author = store.get_author(scholar_id)
    if author is None:
        raise UsageError(
            f"{scholar_id} is not tracked; add it with: scholar-stats authors add {scholar_id}"
        )
    files: dict[str, bytes] = {}
    status = store.last_status(scholar_id)
    judged = None
    if status is not None:
        judged = judge_staleness(status, author.last_success, now, max_age_seconds)
        files[STATUS] = render_status(judged)
    data = store.latest(scholar_id)
    if data is not None:
        stale = judged.stale if judged is not None else True
        files.update(render_author_files(data, stale=bool(stale), kit=kit))
        files[HISTORY_FILE] = render_history_csv(store.history(scholar_id, author))
        files.update(change_files(store, scholar_id, data.name, data.updated))
    return files


def change_files(store: Store, scholar_id: str, name: str, updated: str) -> dict[str, bytes]:
    """``changes.json`` and ``changes.xml`` from the events the store recorded, the log
    starting at the first success it kept (``updated``, the last one, if it has no older)."""
    first = store.first_success(scholar_id)
    since = first.astimezone(timezone.utc).isoformat(timespec="seconds") if first else updated
    log = ChangeLog(scholar_id, since, store.change_events(scholar_id))
    return {CHANGES_JSON: render_changes_json(log), CHANGES_XML: render_changes_xml(log, name)}


def group_totals_from_store(store: Store, name: str) -> tuple[GroupTotals, list[str]] | None:
    """Group ``name``'s totals over its members' last good profiles, and the members that
    have none yet (left out); ``None`` when there is no such group."""
    members = store.group_members(name)
    if members is None:
        return None
    profiles, missing = {}, []
    for scholar_id in members:
        data = store.latest(scholar_id)
        if data is None:
            missing.append(scholar_id)
        else:
            profiles[scholar_id] = ProfileSnapshot.from_gs_data(data.gs_data)
    return group_totals(name, profiles), missing


def group_files(store: Store, name: str) -> dict[str, bytes] | None:
    """The files of ``export --group``: gs_data.json and the shields endpoints."""
    found = group_totals_from_store(store, name)
    return None if found is None else render_group_files(found[0])
