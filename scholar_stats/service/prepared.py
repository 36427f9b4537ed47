"""The authors being served, prepared or not: the :class:`Snapshot` the service answers from,
and the warm-up that prepares every author in the background. No I/O of its own: an author's
entry is built by the ``loader`` the service hands it (``mirror.py``).
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scholar_stats.service.replies import LRU, RenderThread

if TYPE_CHECKING:
    from datetime import datetime

    from scholar_stats.service.snapshot import AuthorEntry
    from scholar_stats.store.values import TrackedAuthor

WARM_BATCH = 64  # authors the warm-up prepares and swaps in together


class NotLoaded(Exception):
    """An author's entry could not be prepared: the store cannot be reached."""


NOT_LOADED = "not loaded yet and the database cannot be reached"


@dataclass
class Snapshot:
    """The authors and groups being served. ``authors`` and ``unprepared`` are changed under
    ``swap_lock`` only: replaced whole, or, when an author is prepared, added to ``authors``
    before it leaves ``unprepared`` (so a reader that misses it in both looks at ``authors``
    again); readers that go over them take a ``list()`` (one step of the interpreter).
    ``groups`` is replaced, never mutated; ``renders`` makes what is not kept yet.

    An author is prepared (has an entry in ``authors``) when first asked for, or by the
    service's warm-up in the background; until then it is in ``unprepared`` (id -> the store's
    last attempt and success) and ``loader`` builds its entry from the store.
    """

    max_age: int
    authors: dict[str, AuthorEntry] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> member ids
    cache: LRU = field(default_factory=lambda: LRU(4096))
    swap_lock: threading.Lock = field(default_factory=threading.Lock)
    renders: RenderThread = field(default_factory=RenderThread)
    unprepared: dict[str, Any] = field(default_factory=dict)
    loader: Callable[[str], AuthorEntry | None] | None = None
    generation: int = 0  # changes whenever ``authors`` or ``unprepared`` does

    def update(
        self, entries: Mapping[str, AuthorEntry], removed: Iterable[str] = (), *, full: bool = False
    ) -> None:
        """Swap in new entries (and drop ``removed``) with one reference assignment.

        Readers never lock: they read ``self.authors`` once and get a complete mapping. ``full``
        replaces everything (authors missing from ``entries`` are dropped).
        """
        removed = tuple(removed)
        with self.swap_lock:
            authors = {} if full else dict(self.authors)
            authors.update(entries)
            for scholar_id in removed:
                authors.pop(scholar_id, None)
            self.authors = authors
            self.generation += 1
            if full:
                self.unprepared = {}
            elif any(sid in self.unprepared for sid in (*entries, *removed)):
                self.unprepared = {sid: row for sid, row in self.unprepared.items()
                                   if sid not in entries and sid not in removed}

    def defer(self, rows: Mapping[str, Any], removed: Iterable[str] = ()) -> list[str]:
        """Authors to prepare when asked (id -> its last attempt and success), and authors no
        longer tracked; returns those of ``rows`` left as they are because they were prepared
        meanwhile (the caller rebuilds them if need be)."""
        with self.swap_lock:
            unprepared = dict(self.unprepared)
            prepared = [sid for sid in rows if sid in self.authors]
            unprepared.update((sid, row) for sid, row in rows.items() if sid not in self.authors)
            authors = self.authors
            for scholar_id in removed:
                unprepared.pop(scholar_id, None)
                if scholar_id in authors:
                    authors = {sid: e for sid, e in authors.items() if sid != scholar_id}
            self.authors, self.unprepared = authors, unprepared
            self.generation += 1
        return prepared

    def tracked(self) -> int:
        """How many authors are served, prepared or not."""
        return len(self.authors) + len(self.unprepared)

    def prepare(self, scholar_id: str) -> AuthorEntry | None:
        """The author's entry, built with ``loader`` and swapped in when it is not prepared yet;
        ``None`` when the author is not tracked. Blocks: call it from a thread. Raises
        :class:`NotLoaded` when the store cannot be reached."""
        for _ in range(3):
            entry = self.authors.get(scholar_id)
            if entry is not None or scholar_id not in self.unprepared:
                return entry
            self.prepare_many([scholar_id])
        return self.authors.get(scholar_id)

    def prepare_many(self, ids: Iterable[str], rest: Callable[[float], object] | None = None
                     ) -> int:
        """Build the entries of ``ids`` not prepared yet with ``loader`` and swap them in
        together (one copy of the mappings, not one per author); returns how many were
        swapped in. ``rest(seconds a build took)`` is called after each build.

        An entry is swapped in only while the times it was built under are still the ones
        the snapshot has: when the service has seen a newer attempt meanwhile, the author
        stays unprepared (built again when next asked for)."""
        built: dict[str, tuple[Any, AuthorEntry | None]] = {}
        for scholar_id in ids:
            token = self.unprepared.get(scholar_id)
            if token is None or self.loader is None:
                continue
            started = time.perf_counter()
            built[scholar_id] = (token, self.loader(scholar_id))
            if rest is not None:
                rest(time.perf_counter() - started)
        if not built:
            return 0
        done = 0
        with self.swap_lock:  # in place: a copy of ten thousand authors per request is not
            authors, unprepared = self.authors, self.unprepared
            for sid, (token, entry) in built.items():
                if unprepared.get(sid) is token:
                    if entry is not None:
                        authors[sid] = entry  # first: a reader looks here, then there
                    del unprepared[sid]
                    done += 1
            self.generation += 1
        return done

    def prepare_all(self) -> None:
        """Prepare every author not prepared yet (for the answers that list them all)."""
        for scholar_id in list(self.unprepared):
            self.prepare(scholar_id)


def in_background() -> None:
    """Run the calling thread at the lowest CPU priority (on Linux, its own nice value: 19).

    The event loop lets go of the GIL at each network wait, and a thread rebuilding entries then
    takes it: while both run, the loop answers at a slower pace (p99 during a refresh of 100 of
    2,000 authors 1.8x of idle; 1.5-1.6x with the poll's thread at nice 19, which the system
    runs after the loop's). Elsewhere nothing: there the call would renice the whole process.
    """
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def warm_up(snapshot: Snapshot, stopping: threading.Event) -> None:
    """Prepare every author not prepared yet, a batch at a time, resting after each build as
    the poll does (twice as long as the build took), so that answering goes on meanwhile; the
    entries made are frozen out of the cyclic GC's scans as they pile up. Errors other than
    :class:`NotLoaded` are the caller's to log."""

    def rest(took: float) -> None:
        stopping.wait(min(2 * took, 0.05))

    while not stopping.is_set():
        waiting = list(snapshot.unprepared)
        if not waiting:
            break
        for start in range(0, len(waiting), WARM_BATCH):
            if stopping.is_set():
                return
            try:
                snapshot.prepare_many(waiting[start:start + WARM_BATCH], rest)
            except NotLoaded:  # logged once by the service's DatabaseHealth; tried again later
                stopping.wait(5.0)
                break
            freeze_survivors()
    freeze_survivors()


def freeze_survivors() -> None:
    """Keep what is alive now out of the cyclic garbage collector's scans (``gc.freeze``),
    after collecting what is not: a garbage cycle frozen is never freed, and reading an author
    from the store leaves some (SQLAlchemy's statements: 5 MB with 10,000 authors). The
    collection scans only what was made since the last freeze."""
    gc.collect()
    gc.freeze()


def times_of(author: TrackedAuthor) -> tuple[datetime | None, datetime | None]:
    """What the snapshot keeps of an author not prepared yet: its last attempt and success
    (a new pair, when the poll sees a newer attempt, makes a preparation under way start
    again)."""
    return (author.last_attempt, author.last_success)
