"""Turning attempts into what the store records: the engine's decisions (next due, pause,
retention, from ``plan``) applied to a batch of outcomes. The store records; this decides."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from scholar_stats.core.plan import Policy, next_due_after, pause_after
from scholar_stats.errors import Blocked
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.store.database import Store
from scholar_stats.store.values import KEEP, AttemptRecord, PauseChange

DEFAULT_POLICY = Policy()


def record_outcomes(
    store: Store, outcomes: Iterable[FetchOutcome], now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> None:
    """Record attempts made at ``now`` in one transaction, each with the next-due time the
    plan gives it, the pause after them, and the attempt log pruned to the retention.

    The authors' intervals and the pause are read just before the write: an interval changed
    in between applies from the next attempt, and two processes blocked at the same moment
    both pause at the same level, which is what one block would do.
    """
    batch = list(outcomes)
    tracked = store.get_authors(o.scholar_id for o in batch)
    records = []
    for outcome in batch:
        author = tracked.get(outcome.scholar_id)
        due = None if author is None else next_due_after(
            author.scholar_id, author.interval_seconds, outcome.status.exit_code, now, policy)
        records.append(AttemptRecord(outcome.scholar_id, outcome.status, outcome.data, due))
    said = (scholar_code(o) for o in batch if o.scholar_id in tracked)
    codes = [code for code in said if code is not None]
    pause: PauseChange = KEEP
    if any(code in (0, Blocked.exit_code) for code in codes):  # only these change it
        pause = pause_after(store.pause(), codes, now, policy)
    store.record_attempts(records, now, pause=pause,
                          prune_before=now - timedelta(seconds=policy.attempt_retention))


def scholar_code(outcome: FetchOutcome) -> int | None:
    """What the attempt says about Scholar, whose blocks the pause is about: a block when
    Scholar blocked before SerpApi answered; nothing when Scholar was not asked."""
    if "scholar" in outcome.blocked_sources:
        return Blocked.exit_code
    if outcome.status.source not in (None, "scholar"):
        return None
    return outcome.status.exit_code


def record_outcome(
    store: Store, outcome: FetchOutcome, now: datetime, policy: Policy = DEFAULT_POLICY
) -> None:
    """Record one attempt (see ``record_outcomes``)."""
    record_outcomes(store, [outcome], now, policy)
