"""What the service answers, prepared ahead of requests. Pure data and pure functions; no I/O.

A refresh builds a new immutable :class:`AuthorEntry` from ``export.author_files`` (the same
bytes ``export --out`` writes) and the service swaps it in with one reference assignment, so a
request sees either the old entry or the new one, never a mix. Answering a request is a dict
lookup; badges with custom query parameters, charts and paper endpoints are rendered once, in
the render thread (a :class:`Pending` until then), and kept in a bounded LRU keyed by the
entry's version.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from scholar_stats.core.model import METRIC_NAMES, SCHOLAR_ID_RE
from scholar_stats.outputs import badges, kit
from scholar_stats.outputs.render import dump_json, endpoint_json
from scholar_stats.service.replies import DEFAULT_CACHE_BYTES as DEFAULT_CACHE_BYTES
from scholar_stats.service.replies import LRU, Pending, RenderThread, Reply, kept
from scholar_stats.service.replies import NO_CACHE as NO_CACHE
from scholar_stats.service.replies import footprint as footprint

JSON = b"application/json"
SVG = b"image/svg+xml"
CSV = b"text/csv; charset=utf-8"
ATOM = b"application/atom+xml"
HTML = b"text/html; charset=utf-8"
JS = b"text/javascript; charset=utf-8"
_TYPES = {".svg": SVG, ".csv": CSV, ".xml": ATOM}

# File names an author has, relative to /authors/{id}/ (export's names).
DATA_FILES = ("gs_data.json", "gs_data_shieldsio.json", "status.json", "history.csv",
              "changes.json", "changes.xml")
# Badge query parameters and the longest value each may have (characters). A label is drawn
# clamped to 64 characters; longer values are refused rather than kept as cache keys.
BADGE_PARAM_LIMITS = {"label": 256, "color": 32, "labelColor": 32, "style": 32}
BADGE_QUERY = tuple(BADGE_PARAM_LIMITS)
_NO_PARAMS = (None,) * len(BADGE_QUERY)
# The longest query string answered (bytes, as sent): four parameters at their limits fit,
# percent-encoded; a longer one gets 414 before it is parsed.
MAX_QUERY_BYTES = 2048

def content_type(name: str) -> bytes:
    return _TYPES.get(name[name.rfind("."):], JSON)


def cache_header(max_age: int) -> bytes:
    return f"public, max-age={max_age}".encode()


@functools.lru_cache(maxsize=256)
def error_reply(status: int, message: str, *, badge: str | None = None) -> Reply:
    """A JSON error, or on badge paths a valid error badge (``isError`` endpoint JSON or SVG)."""
    if badge == "svg":
        return Reply.make(badges.error_badge(message), SVG, status=status, error=message)
    if badge == "json":
        body = dump_json(endpoint_json("scholar", message, isError=True, color="red"))
        return Reply.make(body, JSON, status=status, error=message)
    return Reply.make(dump_json({"error": message}), JSON, status=status, error=message)


@dataclass(frozen=True, slots=True)
class AuthorEntry:
    """Everything served for one author at one moment; replaced whole, never changed."""

    scholar_id: str
    version: str  # changes whenever any served byte may change
    files: Mapping[str, Reply]  # relpath -> reply (export's files)
    values: Mapping[str, int] | None  # metric -> value; None before the first success
    labels: Mapping[str, str]
    stale: bool
    stale_at: float  # epoch seconds when the data turns stale (inf when it already is or no data)
    last_attempt: Any = None  # what the poller compares with the store
    last_success: Any = None
    name: str = ""  # the author's name, for the service's index page


_NO_LABELS: Mapping[str, str] = MappingProxyType({})


@functools.lru_cache(maxsize=64)
def _shared_labels(items: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    """Metric labels are the same for nearly every author: one mapping shared by all."""
    return MappingProxyType(dict(items))


_DECODER = json.JSONDecoder()
_BETWEEN = re.compile(r"[\s,:]*")


def leading_member(text: str, key: str) -> Any:
    """The value of ``key`` in a JSON object, decoding only the members before it: an author's
    name comes before its publications, so 10,000 profiles are not parsed to build entries."""
    pos = text.index("{") + 1
    while True:
        pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith("}", pos):
            return None
        name, pos = _DECODER.raw_decode(text, pos)
        pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]
        value, pos = _DECODER.raw_decode(text, pos)
        if name == key:
            return value


def load_record(body: bytes) -> dict[str, Any]:
    """``json.loads`` of a ``gs_data.json`` record, decoding its publications one at a time.

    ``json.loads`` is one call into C that holds the interpreter until it returns: 0.1-0.2 s for
    a record of 50,000 papers, during which the event loop's thread cannot run. Decoded here,
    the interpreter may switch threads between two publications.
    """
    text = body.decode("utf-8")
    return _load_object(text, text.index("{"), stepwise=("publications",))[0]


def dump_record(record: Mapping[str, Any]) -> bytes:
    """``dump_json(record)``, the same bytes, encoded a member and an item at a time: one
    ``json.dumps`` of a group of 50,000 papers holds the interpreter for a third of a second."""
    return _dump(record, depth=2).encode("utf-8")


def _dump(value: Any, depth: int) -> str:
    if depth and isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return "{" + ", ".join(f"{_dumps(key)}: {_dump(item, depth - 1)}"
                               for key, item in value.items()) + "}"
    if depth and isinstance(value, list):
        return "[" + ", ".join(_dump(item, depth - 1) for item in value) + "]"
    return _dumps(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _load_object(text: str, pos: int, stepwise: tuple[str, ...] = ()) -> tuple[Any, int]:
    """The JSON object starting at ``text[pos]`` and where it ends; the members named in
    ``stepwise`` are objects decoded member by member too."""
    record: dict[str, Any] = {}
    pos = _BETWEEN.match(text, pos + 1).end()  # type: ignore[union-attr]
    while not text.startswith("}", pos):
        name, pos = _DECODER.raw_decode(text, pos)
        pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]
        if name in stepwise and text.startswith("{", pos):
            record[name], pos = _load_object(text, pos)
        else:
            record[name], pos = _DECODER.raw_decode(text, pos)
        pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]
    return record, pos + 1


def build_entry(
    scholar_id: str,
    files: Mapping[str, bytes],
    *,
    max_age: int,
    stale: bool,
    stale_at: float,
    last_attempt: Any = None,
    last_success: Any = None,
) -> AuthorEntry:
    """An entry from export's bytes alone, so badges, papers and the chart can never disagree
    with the endpoint files (labels and numbers are read back from them)."""
    cache = cache_header(max_age)
    made: dict[tuple[bytes, bytes], Reply] = {}  # gs_data_shieldsio.json is shields/citations.json
    replies: dict[str, Reply] = {}
    for name, body in files.items():
        if kit.is_kit_file(name):
            continue  # drawn on demand from the data files (resolve), never kept per author
        ctype = content_type(name)
        reply = made.get((body, ctype))
        if reply is None:
            reply = made[body, ctype] = Reply.make(body, ctype, cache=cache, compact=True)
        replies[sys.intern(name)] = reply  # ten thousand authors share one copy of each name
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(replies):
        digest.update(name.encode() + b"\0" + replies[name].etag)
    digest.update(b"stale" if stale else b"fresh")
    values: Mapping[str, int] | None = None
    labels: Mapping[str, str] = _NO_LABELS
    author_name = ""
    if "gs_data.json" in files:
        author_name = str(leading_member(files["gs_data.json"].decode("utf-8"), "name") or "")
        endpoints = {m: json.loads(files[f"shields/{m}.json"]) for m in METRIC_NAMES}
        values = MappingProxyType({m: int(e["message"]) for m, e in endpoints.items()})
        labels = _shared_labels(tuple((m, str(e["label"])) for m, e in endpoints.items()))
    return AuthorEntry(
        scholar_id=scholar_id,
        version=digest.hexdigest(),
        files=MappingProxyType(replies),
        values=values,
        labels=labels,
        stale=stale,
        stale_at=stale_at,
        last_attempt=last_attempt,
        last_success=last_success,
        name=author_name,
    )


def _profile(snapshot: Snapshot, entry: AuthorEntry) -> tuple[dict[str, int], dict[str, int], str]:
    """(pub id after the colon -> citations, year -> citations, name) of an entry, parsed once
    per version when a paper or the chart is asked for, and kept in the LRU, not in every entry."""

    def make() -> Any:
        gs = load_record(entry.files["gs_data.json"].body)
        prefix = entry.scholar_id + ":"
        pubs = {
            key.removeprefix(prefix): int(pub.get("num_citations") or 0)
            for key, pub in (gs.get("publications") or {}).items()
        }
        cites = {str(k): int(v) for k, v in (gs.get("cites_per_year") or {}).items()}
        return pubs, cites, str(gs.get("name") or entry.scholar_id)

    return snapshot.cache.get_or_make(("profile", entry.scholar_id, entry.version), make)


@dataclass
class Snapshot:
    """The authors and groups being served. ``authors`` and ``groups`` are replaced, never
    mutated (``authors`` under ``swap_lock``); ``renders`` makes what is not kept yet."""

    max_age: int
    authors: Mapping[str, AuthorEntry] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> member ids
    cache: LRU = field(default_factory=lambda: LRU(4096))
    swap_lock: threading.Lock = field(default_factory=threading.Lock)
    renders: RenderThread = field(default_factory=RenderThread)

    def update(
        self, entries: Mapping[str, AuthorEntry], removed: Iterable[str] = (), *, full: bool = False
    ) -> None:
        """Swap in new entries (and drop ``removed``) with one reference assignment.

        Readers never lock: they read ``self.authors`` once and get a complete mapping. ``full``
        replaces everything (authors missing from ``entries`` are dropped).
        """
        with self.swap_lock:
            authors = {} if full else dict(self.authors)
            authors.update(entries)
            for scholar_id in removed:
                authors.pop(scholar_id, None)
            self.authors = authors


NOT_TRACKED = "not tracked"


def _badge_kind(rest: str) -> str | None:
    if rest.endswith(".svg") and rest.startswith("badges/"):
        return "svg"
    if rest == "gs_data_shieldsio.json" or rest.startswith(("shields/", "papers/")):
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
        reply = entry.files.get(rest)  # export's files: most requests end here
        if reply is not None:
            return reply
    valid = entry is not None or SCHOLAR_ID_RE.fullmatch(scholar_id)
    if rest.startswith("badges/") and rest.endswith(".svg"):
        if not valid:
            return error_reply(400, "invalid scholar id", badge="svg")
        return _svg_badge(snapshot, entry, rest[len("badges/"):-len(".svg")], query)
    kind = _badge_kind(rest)
    if not valid:
        return error_reply(400, "invalid scholar id", badge=kind)
    if rest in (kit.CHART, kit.CARD):
        if entry is None:
            return error_reply(404, NOT_TRACKED)
        if entry.values is None:
            return error_reply(404, "no data yet")
        return _picture(snapshot, entry, rest)
    if rest.startswith("papers/") and rest.endswith("/shields.json"):
        return _paper(snapshot, entry, rest[len("papers/"):-len("/shields.json")])
    if rest.startswith("papers/") and rest.endswith(".json") and "/" not in rest[len("papers/"):]:
        return _paper(snapshot, entry, rest[len("papers/"):-len(".json")])  # the kit's file
    if rest.startswith("shields/"):
        metric = rest[len("shields/"):].removesuffix(".json")
        if metric not in METRIC_NAMES or not rest.endswith(".json"):
            return error_reply(404, "unknown metric", badge=kind)
    elif rest not in DATA_FILES:
        return error_reply(404, "not found")
    if entry is None:
        return error_reply(404, NOT_TRACKED, badge=kind)
    reply = entry.files.get(rest)
    if reply is None:
        return error_reply(404, "no data yet", badge=kind)
    return reply


def _picture(snapshot: Snapshot, entry: AuthorEntry, name: str) -> Reply | Pending:
    """``chart.svg`` or ``card.svg``, drawn by the kit's renderers from the entry's profile."""

    def make() -> Reply:
        if name == kit.CHART:
            _pubs, cites, author = _profile(snapshot, entry)
            svg = kit.chart_svg(cites, author)
        else:  # the card needs the whole record; decoded here, once per version
            svg = kit.card_svg(load_record(entry.files["gs_data.json"].body), stale=entry.stale)
        return Reply.make(svg, SVG, cache=cache_header(snapshot.max_age))

    return kept(snapshot.cache, (name, entry.scholar_id, entry.version), make)


def _svg_badge(
    snapshot: Snapshot, entry: AuthorEntry | None, metric: str, query: Mapping[str, str]
) -> Reply | Pending:
    if metric not in METRIC_NAMES:
        return error_reply(404, "unknown metric", badge="svg")
    if entry is None:
        return error_reply(404, NOT_TRACKED, badge="svg")
    values = entry.values  # narrowed here, for make() below
    if values is None:
        return error_reply(404, "no data yet", badge="svg")
    params = tuple(query.get(name) for name in BADGE_QUERY) if query else _NO_PARAMS
    for name, value in zip(BADGE_QUERY, params, strict=True):
        if value is not None and len(value) > BADGE_PARAM_LIMITS[name]:
            return error_reply(400, f"{name} longer than {BADGE_PARAM_LIMITS[name]} characters",
                               badge="svg")
    key = ("badge", entry.scholar_id, entry.version, metric, params)

    def make() -> Reply:
        label, color, label_color, style = params
        try:
            badge = badges.make_badge(
                entry.labels[metric] if label is None else label,
                str(values[metric]),
                color=color, label_color=label_color, style=style, logo=True,
            )
        except badges.BadgeParamError as exc:
            return error_reply(400, str(exc), badge="svg")
        if entry.stale:  # keep the number, turn grey: the data is old
            badge = dataclasses.replace(badge, color=badges.STALE_COLOR)
        return Reply.make(badges.render_badge(badge), SVG, cache=cache_header(snapshot.max_age))

    return kept(snapshot.cache, key, make)


def _paper(snapshot: Snapshot, entry: AuthorEntry | None, pub_id: str) -> Reply | Pending:
    if entry is None:
        return error_reply(404, NOT_TRACKED, badge="json")
    short = pub_id.removeprefix(entry.scholar_id + ":")
    if entry.values is None:
        return error_reply(404, "no data yet", badge="json")
    key = ("paper", entry.scholar_id, entry.version, short)
    reply: Reply | None = snapshot.cache.get(key)
    if reply is not None:
        return reply

    def make() -> Reply:  # the profile is decoded (once per version) only here
        count = _profile(snapshot, entry)[0].get(short)
        if count is None:
            return error_reply(404, "unknown paper", badge="json")
        return snapshot.cache.get_or_make(key, lambda: Reply.make(
            dump_json(endpoint_json("citations", str(count))), JSON,
            cache=cache_header(snapshot.max_age)))

    return Pending(make)
