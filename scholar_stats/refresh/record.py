"""Turning attempts into what the store records: the engine's decisions (next due, pause,
retention, from ``plan``) applied to a batch of outcomes. The store records; this decides."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from scholar_stats.core.plan import Policy, next_due_after, pause_after
from scholar_stats.errors import Blocked
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.store.database import Store
from scholar_stats.store.values import AttemptRecord, PauseChange

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
    said: dict[str, list[int]] = {}  # egress address -> what the attempts say about it
    for outcome in batch:
        if outcome.scholar_id in tracked:
            for egress, code in scholar_codes(outcome):
                said.setdefault(egress, []).append(code)
    pauses: dict[str, PauseChange] = {
        egress: pause_after(store.pause(egress), codes, now, policy)
        for egress, codes in said.items()
        if any(code in (0, Blocked.exit_code) for code in codes)  # only these change it
    }
    store.record_attempts(records, now, pauses=pauses,
                          prune_before=now - timedelta(seconds=policy.attempt_retention))


def scholar_codes(outcome: FetchOutcome) -> list[tuple[str, int]]:
    """What the attempt says about Scholar at each address it asked through (the pause is
    per address, "" for direct): a block for each address Scholar blocked on the way, then
    the outcome for the address asked last, unless Scholar was not the last source asked."""
    said = [(egress, Blocked.exit_code) for egress in outcome.blocked_egresses]
    if "scholar" in outcome.blocked_sources and not outcome.blocked_egresses:
        said.append(("", Blocked.exit_code))
    if outcome.status.source in (None, "scholar"):
        said.append((outcome.egress or "", outcome.status.exit_code))
    return said


def record_outcome(
    store: Store, outcome: FetchOutcome, now: datetime, policy: Policy = DEFAULT_POLICY
) -> None:
    """Record one attempt (see ``record_outcomes``)."""
    record_outcomes(store, [outcome], now, policy)
