"""What the service answers, prepared ahead of requests. Pure data and pure functions; no I/O.

A refresh builds a new immutable :class:`AuthorEntry` from ``export.author_files`` (the same
bytes ``export --out`` writes) and the service swaps it in with one reference assignment, so a
request sees either the old entry or the new one, never a mix. Answering a request is a dict
lookup; badges with custom query parameters, charts and paper endpoints are rendered once and
kept in a bounded LRU keyed by the entry's version.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from scholar_stats import config
from scholar_stats.core.model import METRIC_NAMES, SCHOLAR_ID_RE
from scholar_stats.outputs import badges
from scholar_stats.outputs.chart import render_citations_chart
from scholar_stats.outputs.render import dump_json, endpoint_json

JSON = b"application/json"
SVG = b"image/svg+xml"
CSV = b"text/csv; charset=utf-8"
ATOM = b"application/atom+xml"
_TYPES = {".svg": SVG, ".csv": CSV, ".xml": ATOM}
GZIP_MIN_BYTES = 1024
NO_CACHE = b"no-cache"

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
# The rendered-reply cache (custom badges, charts, paper endpoints, parsed profiles): its
# limits are the settings badge_cache and badge_cache_bytes.
DEFAULT_CACHE_BYTES: int = config.default("badge_cache_bytes")

T = TypeVar("T")


def content_type(name: str) -> bytes:
    return _TYPES.get(name[name.rfind("."):], JSON)


@dataclass(frozen=True, slots=True)
class Reply:
    """One complete HTTP answer body with its validators; ``gz`` is the gzip variant if worth it.

    Built once and then only read, so a request never sees a half-built answer.
    """

    status: int
    stored: bytes | None  # the identity body, unless ``compact`` dropped it for ``gz``
    ctype: bytes
    etag: bytes
    gz: bytes | None
    cache: bytes
    error: str | None = None

    @classmethod
    def make(
        cls, body: bytes, ctype: bytes, *, status: int = 200, cache: bytes = NO_CACHE,
        error: str | None = None, compact: bool = False,
    ) -> Reply:
        """``compact`` keeps only the gzip bytes of a large body (identity is inflated on
        demand through a small LRU): 10,000 authors' ``gs_data.json`` fit in memory that way."""
        etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
        gz = None
        if len(body) >= GZIP_MIN_BYTES:
            packed = gzip.compress(body, compresslevel=6, mtime=0)
            gz = packed if len(packed) < len(body) * 0.9 else None
        stored = None if compact and gz is not None else body
        return cls(status, stored, ctype, etag, gz, cache, error)

    @property
    def body(self) -> bytes:
        if self.stored is not None:
            return self.stored
        if self.gz is None:
            raise ValueError("a reply keeps its body, its gzip bytes or both")
        return _inflate(self.gz)

    @property
    def gz_etag(self) -> bytes:
        return self.etag[:-1] + b'-gz"'


@functools.lru_cache(maxsize=256)
def _inflate(packed: bytes) -> bytes:
    """Identity bodies of compact replies; hot authors stay inflated (bytes cache their hash)."""
    return gzip.decompress(packed)


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


_NO_LABELS: Mapping[str, str] = MappingProxyType({})


@functools.lru_cache(maxsize=64)
def _shared_labels(items: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    """Metric labels are the same for nearly every author: one mapping shared by all."""
    return MappingProxyType(dict(items))


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
        ctype = content_type(name)
        reply = made.get((body, ctype))
        if reply is None:
            reply = made[body, ctype] = Reply.make(body, ctype, cache=cache, compact=True)
        replies[sys.intern(name)] = reply  # ten thousand authors share one copy of each name
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + replies[name].etag)
    digest.update(b"stale" if stale else b"fresh")
    values: Mapping[str, int] | None = None
    labels: Mapping[str, str] = _NO_LABELS
    if "gs_data.json" in files:
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
    )


def _profile(snapshot: Snapshot, entry: AuthorEntry) -> tuple[dict[str, int], dict[str, int], str]:
    """(pub id after the colon -> citations, year -> citations, name) of an entry, parsed once
    per version when a paper or the chart is asked for, and kept in the LRU, not in every entry."""

    def make() -> Any:
        gs = json.loads(entry.files["gs_data.json"].body)
        prefix = entry.scholar_id + ":"
        pubs = {
            key.removeprefix(prefix): int(pub.get("num_citations") or 0)
            for key, pub in (gs.get("publications") or {}).items()
        }
        cites = {str(k): int(v) for k, v in (gs.get("cites_per_year") or {}).items()}
        return pubs, cites, str(gs.get("name") or entry.scholar_id)

    return snapshot.cache.get_or_make(("profile", entry.scholar_id, entry.version), make)


def footprint(value: Any) -> int:
    """Bytes an LRU key or value holds, near enough: strings, bytes and replies, and tuples and
    dicts of them (objects shared with the snapshot are counted too, which errs on the safe
    side). Sizes come from ``sys.getsizeof``, so a non-ASCII string counts what it takes."""
    if isinstance(value, Reply):
        return (sys.getsizeof(value) + footprint(value.stored) + footprint(value.gz)
                + footprint(value.etag))
    if isinstance(value, tuple):
        return sys.getsizeof(value) + sum(footprint(item) for item in value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(footprint(k) + footprint(v) for k, v in value.items())
    return sys.getsizeof(value)


class LRU:
    """A thread-safe LRU of rendered replies (custom badges, charts, paper endpoints) and parsed
    profiles, bounded in items (``size``) and in bytes (``max_bytes``, by :func:`footprint` of
    key and value): strangers choose badge parameters, so they must not choose its memory."""

    def __init__(self, size: int, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._costs: dict[tuple[Any, ...], int] = {}
        self._lock = threading.Lock()

    def get_or_make(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """The reply kept under ``key``, else ``make()``'s (each key's kind names its type)."""
        reply = self._items.get(key)  # a hit takes no lock: each OrderedDict call is atomic
        if reply is not None:
            # SIM105: a hit is the service's hot path, and suppress() costs a call and a context
            try:  # noqa: SIM105  see above
                self._items.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile; the reply is still whole
                pass
            return reply
        reply = make()
        cost = footprint(key) + footprint(reply)
        if cost > self.max_bytes:
            return reply  # answered, not kept: it would push out everything else
        with self._lock:
            self.bytes += cost - self._costs.get(key, 0)  # another thread may have made it too
            self._items[key] = reply
            self._costs[key] = cost
            while len(self._items) > self.size or self.bytes > self.max_bytes:
                old, _ = self._items.popitem(last=False)
                self.bytes -= self._costs.pop(old)
        return reply

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Snapshot:
    """The authors being served. ``authors`` is replaced, never mutated, under ``swap_lock``."""

    max_age: int
    authors: Mapping[str, AuthorEntry] = field(default_factory=dict)
    cache: LRU = field(default_factory=lambda: LRU(4096))
    swap_lock: threading.Lock = field(default_factory=threading.Lock)

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


def resolve(snapshot: Snapshot, scholar_id: str, rest: str, query: Mapping[str, str]) -> Reply:
    """The reply for ``GET /authors/{scholar_id}/{rest}?query``; errors are replies too."""
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
    if rest == "chart.svg":
        if entry is None:
            return error_reply(404, NOT_TRACKED)
        if entry.values is None:
            return error_reply(404, "no data yet")
        tracked = entry  # the closure keeps the narrowed (not-None) type

        def chart() -> Reply:
            _pubs, cites, name = _profile(snapshot, tracked)
            svg = render_citations_chart(cites, f"{name}: citations per year")
            return Reply.make(svg, SVG, cache=cache_header(snapshot.max_age))

        return snapshot.cache.get_or_make(("chart", scholar_id, entry.version), chart)
    if rest.startswith("papers/") and rest.endswith("/shields.json"):
        return _paper(snapshot, entry, rest[len("papers/"):-len("/shields.json")])
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


def _svg_badge(
    snapshot: Snapshot, entry: AuthorEntry | None, metric: str, query: Mapping[str, str]
) -> Reply:
    if metric not in METRIC_NAMES:
        return error_reply(404, "unknown metric", badge="svg")
    if entry is None:
        return error_reply(404, NOT_TRACKED, badge="svg")
    values = entry.values  # narrowed here, for make() below
    if values is None:
        return error_reply(404, "no data yet", badge="svg")
    params = tuple(query.get(name) for name in BADGE_QUERY) if query else _NO_PARAMS
    key = ("badge", entry.scholar_id, entry.version, metric, params)

    def make() -> Reply:
        for name, value in zip(BADGE_QUERY, params, strict=True):
            if value is not None and len(value) > BADGE_PARAM_LIMITS[name]:
                return error_reply(400, f"{name} longer than {BADGE_PARAM_LIMITS[name]} characters",
                                   badge="svg")
        label, color, label_color, style = params
        try:
            badge = badges.make_badge(
                entry.labels[metric] if label is None else label,
                str(values[metric]),
                color=color, label_color=label_color, style=style,
            )
        except badges.BadgeParamError as exc:
            return error_reply(400, str(exc), badge="svg")
        if entry.stale:  # keep the number, turn grey: the data is old
            badge = badges.Badge(badge.label, badge.message, badges.STALE_COLOR, badge.label_color,
                                 badge.style)
        return Reply.make(badges.render_badge(badge), SVG, cache=cache_header(snapshot.max_age))

    return snapshot.cache.get_or_make(key, make)


def _paper(snapshot: Snapshot, entry: AuthorEntry | None, pub_id: str) -> Reply:
    if entry is None:
        return error_reply(404, NOT_TRACKED, badge="json")
    short = pub_id.removeprefix(entry.scholar_id + ":")
    if entry.values is None:
        return error_reply(404, "no data yet", badge="json")
    count = _profile(snapshot, entry)[0].get(short)
    if count is None:
        return error_reply(404, "unknown paper", badge="json")
    return snapshot.cache.get_or_make(
        ("paper", entry.scholar_id, entry.version, short),
        lambda: Reply.make(
            dump_json(endpoint_json("citations", str(count))), JSON,
            cache=cache_header(snapshot.max_age),
        ),
    )
