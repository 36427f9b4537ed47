"""One author's prepared answers: the :class:`AuthorEntry` the service answers from, and how
it is built from the author's state. Pure data and pure functions; no I/O.

An entry is built whole (``build_entry``) and replaced whole, never changed. What it keeps is
chosen for ten thousand of them to fit in the service's memory (docs/scale.md): the replies
served most, in a tuple whose order one name table gives; the rest packed, drawn when asked.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from scholar_stats.core.model import METRIC_NAMES, AuthorData
from scholar_stats.outputs import catalogue
from scholar_stats.outputs.catalogue import (
    CHANGES_JSON,
    CHANGES_XML,
    GS_DATA,
    SERVICE_KEPT,
    AuthorState,
)
from scholar_stats.outputs.render import metric_label
from scholar_stats.service.packed import PACKED, pack_changes, pack_files, unpack, unpack_data
from scholar_stats.service.replies import GZIP_MIN_BYTES, Reply, shared

# The files asked for less than the badges, drawn when asked (into the cache) from what an entry
# keeps packed: the change log's files from the log, status.json and history.csv from their
# bodies deflated together.
ON_DEMAND = {file.name: file for file in (CHANGES_JSON, CHANGES_XML, *PACKED)}
# The files kept as replies in every entry with their content type (one bytes object each for
# all), those of one name, and where each file's reply is in an entry's ``replies`` (a tuple:
# ten thousand dicts of eleven names took 6.5 MB), relative to /authors/{id}/.
_KEPT = tuple((file, file.media.encode()) for file in SERVICE_KEPT if file.name not in ON_DEMAND)
KEPT_NAMES = frozenset(f.name for f, _ in _KEPT if not f.family)
KEPT_SLOTS = {name: slot for slot, name in enumerate(
    name for file, _ in _KEPT
    for name in ((file.path(metric) for metric in METRIC_NAMES) if file.family else (file.name,)))}
_NO_REPLIES: tuple[Reply | None, ...] = (None,) * len(KEPT_SLOTS)
# Where each metric's number is in an entry's ``values``.
METRIC_SLOTS = {metric: slot for slot, metric in enumerate(METRIC_NAMES)}
@functools.lru_cache(maxsize=16)  # one bytes object for every entry, not one each
def cache_header(max_age: int) -> bytes:
    return f"public, max-age={max_age}".encode()


@dataclass(frozen=True, slots=True)
class AuthorEntry:
    """Everything served for one author at one moment; replaced whole, never changed."""

    scholar_id: str
    version: str  # changes whenever any served byte may change
    replies: tuple[Reply | None, ...]  # the replies of the files kept, by ``KEPT_SLOTS``
    values: tuple[int, ...] | None  # each metric's number, by ``METRIC_SLOTS``; None before
    labels: Mapping[str, str]  # the first success
    stale: bool
    rebuild_at: float  # epoch seconds when the entry must be rebuilt for its age alone
    since_year: int | None = None  # the year the 5-year numbers count from
    # The store's last attempt and last success, in epoch seconds (floats: 24 bytes each, where
    # datetimes took 48), which the poll compares with the store's.
    attempted: float | None = None
    succeeded: float | None = None
    name: str = ""  # the author's name, for the service's index page
    changes: bytes | None = None  # the change log, packed (``packed.pack_changes``)
    packed: bytes | None = None  # status.json and history.csv, deflated (``packed.pack_files``)

    def number(self, metric: str) -> int | None:
        """One metric's number (``None`` before the first success)."""
        return None if self.values is None else self.values[METRIC_SLOTS[metric]]

    def data(self) -> AuthorData | None:
        """The profile, unpacked from the reply that serves it (``service/packed.py``)."""
        return unpack_data(self.scholar_id, self.since_year, self.replies[_GS_DATA_SLOT])

    def state(self) -> AuthorState:
        """The state the entry was drawn from, unpacked: what the kit, the pages and groups
        are drawn from when asked."""
        return unpack(self.scholar_id, self.since_year, self.replies[_GS_DATA_SLOT], self.packed,
                      self.stale)


_GS_DATA_SLOT = KEPT_SLOTS[GS_DATA.name]


def epoch(moment: datetime | None) -> float | None:
    """A time from the store as an entry keeps it (epoch seconds); the store's are whole
    milliseconds, which come back exactly (``datetime.fromtimestamp``)."""
    return None if moment is None else moment.timestamp()


_NO_LABELS: Mapping[str, str] = MappingProxyType({})


@functools.lru_cache(maxsize=64)
def _shared_labels(items: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    """Metric labels are the same for nearly every author: one mapping shared by all."""
    return MappingProxyType(dict(items))


@functools.lru_cache(maxsize=64)
def _shared_year(year: int | None) -> int | None:
    """One int object for every entry of a year (ints past 256 are made anew each time)."""
    return year


def build_entry(
    state: AuthorState,
    *,
    max_age: int,
    rebuild_at: float,
    attempted: float | None = None,
    succeeded: float | None = None,
) -> AuthorEntry:
    """An entry drawn from the author's state by the catalogue: the files the service keeps,
    the numbers and labels of the badges, the name of the index page; the state itself is
    kept packed in those files, for what is drawn when asked."""
    cache = cache_header(max_age)
    state = dataclasses.replace(state, cache_seconds=max_age)  # the endpoints' cacheSeconds
    made: dict[tuple[bytes, bytes], Reply] = {}  # gs_data_shieldsio.json is shields/citations.json
    replies: dict[str, Reply] = {}
    for file, ctype in _KEPT:
        for name, body in file.files(state).items():
            reply = made.get((body, ctype))
            if reply is None and len(body) < GZIP_MIN_BYTES and file.family:
                reply = made[body, ctype] = shared(body, ctype, cache)  # shields/<metric>.json
            elif reply is None:
                reply = made[body, ctype] = Reply.make(body, ctype, cache=cache, compact=True)
            replies[name] = reply
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(replies):
        digest.update(name.encode() + b"\0" + replies[name].etag)
    packed = pack_files(catalogue.draw(state, PACKED))
    if packed is not None:
        digest.update(b"packed\0" + packed)
    changes = None
    if state.changes is not None and state.data is not None:  # as the catalogue draws them
        changes = pack_changes(state.changes)
        digest.update(b"changes\0" + changes)
    digest.update(b"stale" if state.stale else b"fresh")
    values: tuple[int, ...] | None = None
    labels: Mapping[str, str] = _NO_LABELS
    author_name = ""
    data = state.data
    if data is not None:
        author_name = str(data.gs_data.get("name") or "")
        numbers = data.metrics.as_dict()
        values = tuple(numbers[metric] for metric in METRIC_NAMES)
        labels = _shared_labels(tuple((m, metric_label(m, data.since_year))
                                      for m in METRIC_NAMES))
    kept_replies = tuple(replies.pop(name, None) for name in KEPT_SLOTS) if replies else _NO_REPLIES
    if replies:  # a family's key the table does not know (KEPT_SLOTS): a bug, not input
        raise ValueError(f"no slot for {sorted(replies)}")
    return AuthorEntry(
        scholar_id=state.scholar_id,
        version=digest.hexdigest(),
        replies=kept_replies,
        values=values,
        labels=labels,
        stale=state.stale,
        rebuild_at=rebuild_at,
        since_year=_shared_year(data.since_year) if data is not None else None,
        attempted=attempted,
        succeeded=succeeded,
        name=author_name,
        changes=changes,
        packed=packed,
    )
