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
from scholar_stats.outputs.catalogue import AuthorState, draw
from scholar_stats.outputs.changes import ChangeLog
from scholar_stats.outputs.groups import render_group_files

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


def author_state(
    store: Store, scholar_id: str, *, now: datetime, max_age_seconds: float = DEFAULT_MAX_AGE,
    author: TrackedAuthor | None = None,
) -> AuthorState:
    """What the store knows of one author, as its files are drawn from it: the last good
    profile, the last attempt's status (its staleness judged at ``now``), and, once there is
    data, the history and the change log. Stale when judged so, or when no attempt was made.

    Raises ``UsageError`` for an author that is not tracked. ``author`` saves a read when the
    caller has just read it.
    """
    if author is None:
        author = store.get_author(scholar_id)
    if author is None:
        raise UsageError(
            f"{scholar_id} is not tracked; add it with: scholar-stats authors add {scholar_id}"
        )
    status = store.last_status(scholar_id)
    judged = None
    if status is not None:
        judged = judge_staleness(status, author.last_success, now, max_age_seconds)
    data = store.latest(scholar_id)
    if data is None:
        return AuthorState(scholar_id, status=judged, stale=True)
    return AuthorState(
        scholar_id, data, judged, store.history(scholar_id, author),
        change_log(store, scholar_id, data.updated),
        stale=bool(judged.stale) if judged is not None else True,
    )


def author_files(
    store: Store, scholar_id: str, *, now: datetime, max_age_seconds: float = DEFAULT_MAX_AGE,
    author: TrackedAuthor | None = None,
) -> dict[str, bytes]:
    """Relative path → bytes of one author's folder as ``fetch --out`` writes it (kit grey when
    stale), plus ``history.csv``; the data files only once there is data, ``status.json`` once
    there was an attempt (``author_state``).

    Deterministic for the same store state and ``now``. Raises ``UsageError`` for an author
    that is not tracked.
    """
    return draw(author_state(store, scholar_id, now=now, max_age_seconds=max_age_seconds,
                             author=author))


def change_log(store: Store, scholar_id: str, updated: str) -> ChangeLog:
    """The events the store recorded, the log starting at the first success it kept
    (``updated``, the last one, if it has no older)."""
    first = store.first_success(scholar_id)
    since = first.astimezone(timezone.utc).isoformat(timespec="seconds") if first else updated
    return ChangeLog(scholar_id, since, store.change_events(scholar_id))


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
