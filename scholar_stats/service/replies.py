"""Prepared HTTP answers, the bounded cache of rendered ones, and the thread they are rendered
in. No I/O.

A :class:`Reply` is built once (body, gzip variant, ETag) and then only read; the :class:`LRU`
keeps rendered replies (custom badges, charts, cards, paper endpoints, pages) within a count
and a byte budget. A reply that is not in memory yet is a :class:`Pending`, made by the
:class:`RenderThread`, never on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
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


# The replies :func:`shared` hands out, by content type and caching, then body: a dict of
# bodies takes 36 bytes a reply, where an lru_cache's keys and links took 156 (1.2 MB).
_SHARED: dict[tuple[bytes, bytes], dict[bytes, Reply]] = {}
SHARED_BODIES = 8192


def shared(body: bytes, ctype: bytes, cache: bytes) -> Reply:
    """``Reply.make(body, ctype, cache=cache)``, one object for the authors whose answer is the
    same bytes (the endpoint JSON of one number: ten thousand authors have a few thousand
    distinct ones). Bounded: emptied when :data:`SHARED_BODIES` are kept; the replies in it
    stay with the entries holding them."""
    bodies = _SHARED.setdefault((ctype, cache), {})
    reply = bodies.get(body)
    if reply is None:
        if len(bodies) >= SHARED_BODIES:
            bodies.clear()
        reply = bodies[body] = Reply.make(body, ctype, cache=cache)
    return reply


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
    """A thread-safe cache of rendered replies (custom badges, charts, paper endpoints) and
    parsed profiles, bounded in items (``size``) and in bytes (``max_bytes``, by
    :func:`footprint` of key and value): strangers choose badge parameters, so they must not
    choose its memory.

    What goes when it is full is the least recently used, near enough, by a second chance
    (CLOCK): a hit only marks its item used, where moving it to the newest end hashed and
    compared its key again (950 instructions a badge answered); the oldest item goes, unless it
    was used since it was last looked at, when it moves to the newest end unmarked instead."""

    def __init__(self, size: int, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()  # [value, used]
        self._costs: dict[tuple[Any, ...], int] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any:
        """What is kept under ``key`` (now marked used), else ``None``."""
        kept = self._items.get(key)  # a hit takes no lock: one dict lookup, one list store
        if kept is None:
            return None
        kept[1] = True
        return kept[0]

    def get_or_make(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """The reply kept under ``key``, else ``make()``'s (each key's kind names its type)."""
        reply: T | None = self.get(key)
        if reply is not None:
            return reply
        reply = make()
        cost = footprint(key) + footprint(reply)
        if cost > self.max_bytes or self.size < 1:
            return reply  # answered, not kept: it would push out everything else
        with self._lock:
            if key in self._items:  # made by another thread meanwhile: this one replaces it
                del self._items[key]
                self.bytes -= self._costs.pop(key)
            # Room is made before the new item goes in, at the newest end: behind the items
            # given a second chance, not among the first to go.
            while self._items and (len(self._items) >= self.size
                                   or self.bytes + cost > self.max_bytes):
                old, kept = self._items.popitem(last=False)
                if kept[1]:  # used since last looked at: a second chance, at the newest end
                    kept[1] = False
                    self._items[old] = kept
                else:
                    self.bytes -= self._costs.pop(old)
            self._items[key] = [reply, False]
            self._costs[key] = cost
            self.bytes += cost
        return reply

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class Pending:
    """A reply that is not in memory yet. Making it may take time that grows with a profile's
    size or the number of authors (parsing a 50,000-paper record takes a quarter of a second),
    so it is made in the :class:`RenderThread`, not on the event loop."""

    make: Callable[[], Reply]


def kept(cache: LRU, key: tuple[Any, ...], make: Callable[[], Reply]) -> Reply | Pending:
    """The reply kept under ``key``, or the work of making (and keeping) it."""
    reply: Reply | None = cache.get(key)
    return reply if reply is not None else Pending(lambda: cache.get_or_make(key, make))


class RenderThread:
    """The one thread where replies are made (:class:`Pending`), so that no request, whatever
    it asks, holds up the answers the event loop gives from memory.

    One thread: renders queue behind each other instead of competing with the event loop for
    the interpreter, and a reply asked for by many requests at once is made by the first (the
    others find it kept when their turn comes). A render runs with the cyclic garbage collector
    paused: what it builds (half a million objects for a group holding a 50,000-paper member)
    is freed by reference counting when it ends, and a collection over it would hold the
    interpreter, and so the event loop, for a quarter of a second.
    """

    def __init__(self) -> None:
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    async def settle(self, reply: Reply | Pending) -> Reply:
        """``reply``, made in the render thread when it is pending."""
        if isinstance(reply, Reply):
            return reply
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(1, "scholar-stats-render")
            pool = self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, _collected_after,
                                                                 reply.make)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _collected_after(make: Callable[[], Reply]) -> Reply:
    """``make()`` with the cyclic garbage collector paused (only the render thread pauses it)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return make()
    finally:
        if paused:
            gc.enable()
