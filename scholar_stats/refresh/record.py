"""Turning attempts into what the store records: the engine's decisions (next due, pause,
retention, from ``plan``) applied to a batch of outcomes. The store records; this decides."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from scholar_stats.core.changes import ChangeEvent, compute_events
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.core.plan import Policy, next_due_after, pause_after
from scholar_stats.errors import Blocked
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.sources import registry
from scholar_stats.store.database import Store
from scholar_stats.store.values import AttemptRecord, PauseChange

DEFAULT_POLICY = Policy()
log = logging.getLogger(__name__)


def events_since_stored(store: Store, outcome: FetchOutcome) -> tuple[ChangeEvent, ...]:
    """What a success changed since the profile the store kept (the same pure
    ``compute_events`` as ``fetch``); none for a failure or a first fetch."""
    if outcome.data is None:
        return ()
    stored = store.latest(outcome.scholar_id)
    if stored is None:
        return ()
    try:
        previous = ProfileSnapshot.from_gs_data(stored.gs_data)
        new = ProfileSnapshot.from_gs_data(outcome.data.gs_data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("%s: no events (a profile is not comparable: %s)", outcome.scholar_id, exc)
        return ()
    return compute_events(previous, new)


def record_outcomes(
    store: Store, outcomes: Iterable[FetchOutcome], now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> list[FetchOutcome]:
    """Record attempts made at ``now`` in one transaction, each with the next-due time the
    plan gives it, the events of a success, the pause after them, and the attempt log pruned
    to the retention. Returns the outcomes with their events (what listeners are told).

    The authors' intervals and the pause are read just before the write: an interval changed
    in between applies from the next attempt, and two processes blocked at the same moment
    both pause at the same level, which is what one block would do.
    """
    batch = [dataclasses.replace(o, events=events_since_stored(store, o)) for o in outcomes]
    tracked = store.get_authors(o.scholar_id for o in batch)
    records = []
    for outcome in batch:
        author = tracked.get(outcome.scholar_id)
        due = None if author is None else next_due_after(
            author.scholar_id, author.interval_seconds, outcome.status.exit_code, now, policy)
        records.append(AttemptRecord(outcome.scholar_id, outcome.status, outcome.data, due,
                                     outcome.events))
    said: dict[str, list[int]] = {}  # egress address -> what the attempts say about it
    for outcome in batch:
        if outcome.scholar_id in tracked:
            for egress, code in address_codes(outcome):
                said.setdefault(egress, []).append(code)
    pauses: dict[str, PauseChange] = {
        egress: pause_after(store.pause(egress), codes, now, policy)
        for egress, codes in said.items()
        if any(code in (0, Blocked.exit_code) for code in codes)  # only these change it
    }
    store.record_attempts(records, now, pauses=pauses,
                          prune_before=now - timedelta(seconds=policy.attempt_retention))
    return batch


def address_codes(outcome: FetchOutcome) -> list[tuple[str, int]]:
    """What the attempt says about each address it asked a per-address source through (the
    pause is per address, "" for direct): a block for each address blocked on the way, then
    the outcome for the address asked last, unless the last source asked is not per address."""
    said = [(egress, Blocked.exit_code) for egress in outcome.blocked_egresses]
    if not outcome.blocked_egresses and any(
            registry.get(name).per_egress for name in outcome.blocked_sources):
        said.append(("", Blocked.exit_code))
    if outcome.source.per_egress:
        said.append((outcome.egress or "", outcome.status.exit_code))
    return said


def record_outcome(
    store: Store, outcome: FetchOutcome, now: datetime, policy: Policy = DEFAULT_POLICY
) -> FetchOutcome:
    """Record one attempt (see ``record_outcomes``)."""
    return record_outcomes(store, [outcome], now, policy)[0]
