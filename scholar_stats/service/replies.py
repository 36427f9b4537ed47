"""Prepared HTTP answers and the bounded cache of rendered ones. Pure data; no I/O.

A :class:`Reply` is built once (body, gzip variant, ETag) and then only read; the :class:`LRU`
keeps rendered replies (custom badges, charts, cards, paper endpoints, pages) within a count
and a byte budget.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from scholar_stats import config

GZIP_MIN_BYTES = 1024
NO_CACHE = b"no-cache"
# The rendered-reply cache (custom badges, charts, paper endpoints, parsed profiles): its
# limits are the settings badge_cache and badge_cache_bytes.
DEFAULT_CACHE_BYTES: int = config.default("badge_cache_bytes")

T = TypeVar("T")


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
