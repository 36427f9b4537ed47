"""What the service answers, prepared ahead of requests. Pure data and pure functions; no I/O.

A refresh builds a new immutable :class:`AuthorEntry` (``service/entry.py``) from the author's
state (``export.author_state``: what ``export --out`` draws its files from), drawn by the
catalogue (``outputs/catalogue.py``), and the service swaps it in with one reference
assignment, so a request sees either the old entry or the new one, never a mix. Answering a
request is two lookups; the kit (badges, with custom query parameters too, the chart, the
card, paper endpoints) is drawn once from the entry's state, in the render thread (a
:class:`Pending` until then), and kept in a bounded LRU keyed by the entry's version.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from scholar_stats.core.model import METRIC_NAMES, SCHOLAR_ID_RE
from scholar_stats.outputs import badges, catalogue, kit
from scholar_stats.outputs.catalogue import (
    BADGES,
    PAPER_SHIELDS,
    PAPERS,
    SHIELDS,
    SHIELDS_CITATIONS,
    AuthorState,
)
from scholar_stats.outputs.render import dump_json, endpoint_json
from scholar_stats.service.entry import KEPT_NAMES, KEPT_SLOTS, METRIC_SLOTS
from scholar_stats.service.entry import ON_DEMAND as ON_DEMAND
from scholar_stats.service.entry import AuthorEntry as AuthorEntry
from scholar_stats.service.entry import build_entry as build_entry
from scholar_stats.service.entry import cache_header as cache_header
from scholar_stats.service.packed import (
    PACKED,
    unpack_changes,
    unpack_files,
)
from scholar_stats.service.prepared import NOT_LOADED as NOT_LOADED
from scholar_stats.service.prepared import NotLoaded as NotLoaded
from scholar_stats.service.prepared import Snapshot as Snapshot
from scholar_stats.service.replies import DEFAULT_CACHE_BYTES as DEFAULT_CACHE_BYTES
from scholar_stats.service.replies import LRU as LRU
from scholar_stats.service.replies import NO_CACHE as NO_CACHE
from scholar_stats.service.replies import (
    Pending,
    Reply,
    kept,
)
from scholar_stats.service.replies import footprint as footprint

JSON = catalogue.JSON.encode()
SVG = catalogue.SVG.encode()
HTML = b"text/html; charset=utf-8"
JS = catalogue.JS.encode()

# Badge query parameters and the longest value each may have (characters). A label is drawn
# clamped to 64 characters; longer values are refused rather than kept as cache keys.
BADGE_PARAM_LIMITS = {"label": 256, "color": 32, "labelColor": 32, "style": 32}
BADGE_QUERY = tuple(BADGE_PARAM_LIMITS)
_NO_PARAMS: tuple[str | None, ...] = (None,) * len(BADGE_QUERY)
# The longest query string answered (bytes, as sent): four parameters at their limits fit,
# percent-encoded; a longer one gets 414 before it is parsed.
MAX_QUERY_BYTES = 2048

# How long a failure on a shields endpoint route may be kept: briefly, as the author may be
# added or the data arrive any minute (shields itself keeps any answer at least 300 s).
ERROR_MAX_AGE = 60


@functools.lru_cache(maxsize=256)
def error_reply(status: int, message: str, *, badge: str | None = None) -> Reply:
    """A JSON error, or on badge paths a valid error badge (``isError`` endpoint JSON or SVG).

    On the endpoint JSON routes (``badge="json"``) the answer is a 200 whatever ``status``:
    shields reads no other answer's body and would show its own "resource not found"
    (docs/architecture.md, "Shields endpoint files")."""
    if badge == "svg":
        return Reply.make(badges.error_badge(message), SVG, status=status, error=message)
    if badge == "json":
        body = dump_json(endpoint_json("scholar", message, isError=True, color="red"))
        return Reply.make(body, JSON, cache=cache_header(ERROR_MAX_AGE), error=message)
    return Reply.make(dump_json({"error": message}), JSON, status=status, error=message)


def _paper_counts(snapshot: Snapshot, entry: AuthorEntry) -> dict[str, int]:
    """Paper key -> citations of an entry (``catalogue.paper_counts``), made once per version
    when a paper is asked for, and kept in the LRU, not in every entry."""

    def make() -> dict[str, int]:
        data = entry.data()
        return {} if data is None else catalogue.paper_counts(data)

    return snapshot.cache.get_or_make(("papers", entry.scholar_id, entry.version), make)


NOT_TRACKED = "not tracked"
# The first item of a badge's key in the cache: (BADGE, label, number, stale), then the color,
# labelColor and style asked for, if any (``svg_badge``).
BADGE = "badge"
# The path of each metric's badge: one lookup, where ``BADGES.key_of`` takes three steps.
BADGE_METRICS = {BADGES.path(metric): metric for metric in METRIC_NAMES}


def _badge_kind(rest: str) -> str | None:
    if BADGES.key_of(rest) is not None:
        return "svg"
    if rest == SHIELDS_CITATIONS.name or rest.startswith((SHIELDS.prefix, PAPERS.prefix)):
        return "json"
    return None


def query_too_long(rest: str) -> Reply:
    """The reply for a public path whose query string is over :data:`MAX_QUERY_BYTES`."""
    return error_reply(414, f"query string longer than {MAX_QUERY_BYTES} bytes",
                       badge=_badge_kind(rest))


def resolve(
    snapshot: Snapshot, scholar_id: str, rest: str, query: Mapping[str, str]
) -> Reply | Pending:
    """The reply for ``GET /authors/{scholar_id}/{rest}?query``; errors are replies too. A
    reply that is not kept yet is :class:`Pending` (made in the render thread)."""
    entry = snapshot.authors.get(scholar_id)
    if entry is not None:  # tracked ids are valid ids
        slot = KEPT_SLOTS.get(rest)
        if slot is not None:
            reply = entry.replies[slot]  # the files kept: most requests end here
            if reply is not None:
                return reply
    elif scholar_id in snapshot.unprepared:  # built from the store, in the render thread
        return Pending(functools.partial(_after_preparing, snapshot, scholar_id, rest, query))
    else:  # prepared between the two looks (see Snapshot)
        entry = snapshot.authors.get(scholar_id)
    valid = entry is not None or SCHOLAR_ID_RE.fullmatch(scholar_id)
    metric = BADGE_METRICS.get(rest) or BADGES.key_of(rest)
    if metric is not None:
        if not valid:
            return error_reply(400, "invalid scholar id", badge="svg")
        return svg_badge(snapshot, entry, metric, query)
    kind = _badge_kind(rest)
    if not valid:
        return error_reply(400, "invalid scholar id", badge=kind)
    picture = catalogue.named(rest)
    if picture is not None and picture.kit and picture.service:  # chart.svg, card.svg
        if entry is None:
            return error_reply(404, NOT_TRACKED)
        if entry.values is None:
            return error_reply(404, "no data yet")
        return _picture(snapshot, entry, picture)
    pub_id = PAPER_SHIELDS.key_of(rest)
    if pub_id is not None:
        return _paper(snapshot, entry, pub_id)
    pub_id = PAPERS.key_of(rest)
    if pub_id is not None and "/" not in pub_id:
        return _paper(snapshot, entry, pub_id)  # the kit's file
    drawn = ON_DEMAND.get(rest)
    if drawn is not None:
        if entry is None:
            return error_reply(404, NOT_TRACKED)
        drawn_from = entry.packed if drawn in PACKED else entry.changes
        if drawn_from is None:
            return error_reply(404, "no data yet")
        return _drawn_file(snapshot, entry, drawn)
    if rest.startswith(SHIELDS.prefix):
        if SHIELDS.key_of(rest) not in METRIC_NAMES:
            return error_reply(404, "unknown metric", badge=kind)
    elif rest not in KEPT_NAMES:
        return error_reply(404, "not found")
    if entry is None:
        return error_reply(404, NOT_TRACKED, badge=kind)
    slot = KEPT_SLOTS.get(rest)
    reply = None if slot is None else entry.replies[slot]
    if reply is None:
        return error_reply(404, "no data yet", badge=kind)
    return reply


def _picture(snapshot: Snapshot, entry: AuthorEntry, file: catalogue.OutputFile) -> Reply | Pending:
    """A kit file of one name (the chart, the card), drawn by the catalogue from the entry's
    data."""

    def make() -> Reply:
        state = AuthorState(entry.scholar_id, entry.data(), stale=entry.stale)
        return Reply.make(file.draw(state)[""], file.media.encode(),
                          cache=cache_header(snapshot.max_age))

    return kept(snapshot.cache, (file.name, entry.scholar_id, entry.version), make)


def _after_preparing(
    snapshot: Snapshot, scholar_id: str, rest: str, query: Mapping[str, str]
) -> Reply:
    """The reply for an author not prepared when asked for: prepared first (from the store;
    503 when it cannot be reached), then answered as any other."""
    try:
        snapshot.prepare(scholar_id)
    except NotLoaded:
        return error_reply(503, NOT_LOADED, badge=_badge_kind(rest))
    if scholar_id in snapshot.unprepared:  # not swapped in (a newer attempt came): no old answer
        return error_reply(503, NOT_LOADED, badge=_badge_kind(rest))
    found = resolve(snapshot, scholar_id, rest, query)
    return found if isinstance(found, Reply) else found.make()


def _drawn_file(
    snapshot: Snapshot, entry: AuthorEntry, file: catalogue.OutputFile
) -> Reply | Pending:
    """A file of :data:`ON_DEMAND`: ``status.json`` or ``history.csv`` from their packed bodies,
    ``changes.json`` or ``changes.xml`` drawn by the catalogue from the entry's packed change
    log (and its profile, for the feed's author name); "no data yet" when it has none."""

    def make() -> Reply:
        if file in PACKED:
            body = unpack_files(entry.packed).get(file.name)
        else:
            state = AuthorState(entry.scholar_id, entry.data(),
                                changes=unpack_changes(entry.scholar_id, entry.changes or b""),
                                stale=entry.stale)
            body = file.draw(state).get("")
        if body is None:
            return error_reply(404, "no data yet")
        return Reply.make(body, file.media.encode(), cache=cache_header(snapshot.max_age),
                          compact=True)

    return kept(snapshot.cache, (file.name, entry.scholar_id, entry.version), make)


def svg_badge(
    snapshot: Snapshot, entry: AuthorEntry | None, metric: str, query: Mapping[str, str]
) -> Reply | Pending:
    slot = METRIC_SLOTS.get(metric)
    if slot is None:
        return error_reply(404, "unknown metric", badge="svg")
    if entry is None:
        return error_reply(404, NOT_TRACKED, badge="svg")
    if entry.values is None:
        return error_reply(404, "no data yet", badge="svg")
    if not query:  # the default badge, asked for most: a flat key hashes and compares fastest
        key: tuple[Any, ...] = (BADGE, entry.labels[metric], entry.values[slot], entry.stale)
    else:
        params = tuple(query.get(name) for name in BADGE_QUERY)
        for name, value in zip(BADGE_QUERY, params, strict=True):
            if value is not None and len(value) > BADGE_PARAM_LIMITS[name]:
                return error_reply(400, f"{name} longer than {BADGE_PARAM_LIMITS[name]} "
                                   "characters", badge="svg")
        label, *styling = params  # BADGE_QUERY's order
        key = (BADGE, entry.labels[metric] if label is None else label, entry.values[slot],
               entry.stale, *styling)
    # A badge is drawn from its key alone: authors with the same number share it.
    reply: Reply | None = snapshot.cache.get(key)  # most requests end here
    if reply is not None:
        return reply
    return kept(snapshot.cache, key, functools.partial(_draw_badge, key, snapshot.max_age))


def _draw_badge(key: tuple[Any, ...], max_age: int) -> Reply:
    """The badge of a key :func:`svg_badge` made (see :data:`BADGE`)."""
    _, text, number, stale, *styling = key
    color, label_color, style = styling or _NO_PARAMS[1:]
    try:
        svg = kit.metric_badge(text, number, stale=stale, color=color, label_color=label_color,
                               style=style)
    except badges.BadgeParamError as exc:
        return error_reply(400, str(exc), badge="svg")
    return Reply.make(svg, SVG, cache=cache_header(max_age))


def _paper(snapshot: Snapshot, entry: AuthorEntry | None, pub_id: str) -> Reply | Pending:
    if entry is None:
        return error_reply(404, NOT_TRACKED, badge="json")
    if entry.values is None:
        return error_reply(404, "no data yet", badge="json")
    short = catalogue.paper_key(entry.scholar_id, pub_id)
    if short is None:  # no paper of this author has files under such a name
        return error_reply(404, "unknown paper", badge="json")
    key = ("paper", entry.scholar_id, entry.version, short)
    reply: Reply | None = snapshot.cache.get(key)
    if reply is not None:
        return reply

    def make() -> Reply:  # the profile is decoded (once per version) only here
        count = _paper_counts(snapshot, entry).get(short)
        if count is None:
            return error_reply(404, "unknown paper", badge="json")
        return snapshot.cache.get_or_make(key, lambda: Reply.make(
            kit.paper_endpoint(count, stale=entry.stale, cache_seconds=snapshot.max_age), JSON,
            cache=cache_header(snapshot.max_age)))

    return Pending(make)
