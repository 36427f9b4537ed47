"""Preparing an author when first asked for, against the poll noting a newer attempt meanwhile:
an entry built from the store as it was before that attempt is never swapped in (the poll only
notes authors not prepared, so it would never be rebuilt), the request's preparation builds
again, and what it answers is built under the newest times the service has seen."""

from __future__ import annotations

import dataclasses
import gc
import math
import threading
import weakref
from collections.abc import Callable

from support.service_helpers import GarbageCycle

from scholar_stats.outputs.catalogue import AuthorState
from scholar_stats.service.prepared import WARM_BATCH, warm_up
from scholar_stats.service.snapshot import (
    NOT_LOADED,
    AuthorEntry,
    Reply,
    Snapshot,
    build_entry,
    resolve,
)

SID = "RACEAUTHOR12"


def racing_loader(snapshot: Snapshot, newer_attempts: int) -> tuple[
        Callable[[str], AuthorEntry], list[object]]:
    """A loader that builds an entry naming the times it was built under, and while building
    the first ``newer_attempts`` times lets the poll note a newer attempt of the author (as
    ``Service.sync`` does with ``Snapshot.defer``)."""
    built_under: list[object] = []

    def load(scholar_id: str) -> AuthorEntry:
        times = snapshot.unprepared[scholar_id]
        built_under.append(times)
        if len(built_under) <= newer_attempts:
            snapshot.defer({scholar_id: ("attempt", len(built_under) + 1)})
        entry = build_entry(AuthorState(scholar_id), max_age=60, rebuild_at=math.inf)
        return dataclasses.replace(entry, version=f"built under {times}")

    return load, built_under


def answer(snapshot: Snapshot, rest: str) -> Reply:
    found = resolve(snapshot, SID, rest, {})
    return found if isinstance(found, Reply) else found.make()


def test_a_preparation_that_loses_to_the_poll_is_built_again() -> None:
    snapshot = Snapshot(max_age=60)
    snapshot.defer({SID: ("attempt", 1)})
    snapshot.loader, built_under = racing_loader(snapshot, newer_attempts=1)
    reply = answer(snapshot, "status.json")  # the request that prepares it
    assert built_under == [("attempt", 1), ("attempt", 2)]
    assert snapshot.authors[SID].version == "built under ('attempt', 2)"
    assert SID not in snapshot.unprepared
    assert reply.status == 404 and reply.error == "no data yet"  # this author has none: answered


def test_a_preparation_that_keeps_losing_never_answers_from_an_old_entry() -> None:
    """Three lost races in a row (three refreshes of one author landing within three builds):
    the request gets the 503 of an author not loaded, never an answer built before the newest
    attempt, and the author is prepared by the next request."""
    snapshot = Snapshot(max_age=60)
    snapshot.defer({SID: ("attempt", 1)})
    snapshot.loader, built_under = racing_loader(snapshot, newer_attempts=3)
    reply = answer(snapshot, "status.json")
    assert len(built_under) == 3 and SID not in snapshot.authors
    assert (reply.status, reply.error) == (503, NOT_LOADED)
    assert snapshot.unprepared[SID] == ("attempt", 4)
    again = answer(snapshot, "status.json")
    assert again.status == 404 and built_under[-1] == ("attempt", 4)
    assert snapshot.authors[SID].version == "built under ('attempt', 4)"


def test_the_warm_up_freezes_no_garbage_cycle() -> None:
    """The warm-up keeps the entries it made out of the collector's scans (``gc.freeze``); a
    garbage cycle left by a build and frozen with them would never be freed: 5 MB with 10,000
    authors read from the store."""
    snapshot = Snapshot(max_age=60)
    ids = [f"WARMAUTHOR{i:02d}" for i in range(3 * WARM_BATCH // 2)]
    snapshot.defer({sid: ("attempt", 1) for sid in ids})
    left: list[weakref.ref[GarbageCycle]] = []

    def load(scholar_id: str) -> AuthorEntry:
        left.append(weakref.ref(GarbageCycle()))  # unreachable once made: a garbage cycle
        return build_entry(AuthorState(scholar_id), max_age=60, rebuild_at=math.inf)

    snapshot.loader = load
    gc.disable()  # only the warm-up collects: no automatic pass may free them first
    try:
        warm_up(snapshot, threading.Event())
    finally:
        gc.enable()
    assert sorted(snapshot.authors) == ids and not snapshot.unprepared
    assert len(left) == len(ids)
    assert [ref for ref in left if ref() is not None] == []
