"""A thin pure-ASGI answer for the public ``GET``/``HEAD /authors/...`` paths, in front of FastAPI.

FastAPI's per-route machinery (request objects, dependency solving, response classes) costs far
more than looking up prepared bytes, so these paths are answered here: find the reply
remembered for the path, or parse the path and look the reply up in the snapshot (or have the
render thread make it), negotiate gzip and ``If-None-Match``, send. FastAPI still declares the
same routes (for the OpenAPI schema) and answers everything else.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.resources
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from scholar_stats.outputs.catalogue import ROUTE_LABELS, SCRIPT, route_label
from scholar_stats.service.entry import KEPT_SLOTS
from scholar_stats.service.snapshot import (
    BADGE_METRICS,
    HTML,
    MAX_QUERY_BYTES,
    SVG,
    Pending,
    Reply,
    Snapshot,
    query_too_long,
    resolve,
    svg_badge,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Counts = defaultdict[tuple[str, int], int]  # (route label, status) -> requests answered

PREFIX = "/authors/"
_AFTER_PREFIX = len(PREFIX)
_GET_OR_HEAD = frozenset(("GET", "HEAD"))
_EMPTY: dict[str, str] = {}
_SVG_CSP = b"default-src 'none'; style-src 'unsafe-inline'"
# The paths asked for most, each with a place in a list where their 200s are counted
# (``FastPath.ok_counts``): the replies every entry keeps, at their slots, then the metrics'
# badges (path -> metric and place).
COUNTED = (*sorted(KEPT_SLOTS, key=KEPT_SLOTS.__getitem__), *BADGE_METRICS)
_BADGES = {path: (metric, COUNTED.index(path)) for path, metric in BADGE_METRICS.items()}


@functools.lru_cache(maxsize=1)
def html_csp() -> bytes:
    """The pages' Content-Security-Policy: no script, no plugin, no form, no frame around them;
    pictures from this service only; their one style sheet (inline in ``base.html``) by its
    hash."""
    template = importlib.resources.files("scholar_stats.service").joinpath("templates/base.html")
    style = re.search(r"<style>(.*?)</style>", template.read_text("utf-8"), re.S)
    if style is None:
        raise ValueError("base.html has no <style> element")
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    return (f"default-src 'none'; img-src 'self'; style-src 'sha256-{digest}'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'").encode()


def _etag_matches(header: bytes, etag: bytes) -> bool:
    if header.strip() == b"*":
        return True
    for candidate in header.split(b","):
        candidate = candidate.strip()
        if candidate.startswith(b"W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


@functools.lru_cache(maxsize=256)  # clients send the same few values again and again
def _accepts_gzip(header: bytes) -> bool:
    for part in header.lower().split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip() in (b"gzip", b"*"):
            q = params.replace(b" ", b"")
            return not (q.startswith(b"q=0") and q.rstrip(b"0.") in (b"q=", b"q"))
    return False


@functools.lru_cache(maxsize=64)
def _fixed_headers(
    ctype: bytes, cache: bytes, gzip_variant: bool | None
) -> tuple[tuple[bytes, bytes], ...]:
    """The headers every answer of one kind shares (``gzip_variant``: None when the reply has no
    gzip form, else whether this answer is the gzipped one); built once, not per request."""
    out = [
        (b"content-type", ctype),
        (b"cache-control", cache),
        (b"access-control-allow-origin", b"*"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if ctype == SVG:
        out.append((b"content-security-policy", _SVG_CSP))
    elif ctype == HTML:
        out.append((b"content-security-policy", html_csp()))
    if gzip_variant is not None:
        out.append((b"vary", b"accept-encoding"))
        if gzip_variant:
            out.append((b"content-encoding", b"gzip"))
    return tuple(out)


# The start messages of the 200 answers sent most, by ETag (with the content type and caching
# they were built for, which a reply of the same body could differ in): one lookup of bytes
# that keep their hash, where building the message and looking its headers up in an lru_cache
# of five values took 1,500 more instructions a request (benchmarks/hot_path.py). Emptied when
# full. The ETag names the body, and so its length and whether it has a gzip form; the
# messages are only read (as uvicorn does).
_STARTS: dict[bytes, tuple[bytes, bytes, Message, bytes]] = {}  # and its header lines
STARTS_KEPT = 1024
PATHS_KNOWN = 1024  # paths remembered with their reply (``FastPath.known``): some 190 KB


def answer(reply: Reply, method: str, headers: list[tuple[bytes, bytes]]) -> tuple[Message, bytes]:
    """The ``http.response.start`` message and the body answering a request with ``headers``
    by ``reply``: its gzip variant when accepted, a 304 when ``If-None-Match`` names the ETag
    sent, no body to HEAD."""
    inm = accept = None
    for key, value in headers:
        if key == b"if-none-match":
            inm = value
        elif key == b"accept-encoding":
            accept = value
    etag, body, variant = _variant(reply, accept)
    status = reply.status
    if inm is not None and status == 200 and _etag_matches(inm, etag):
        fixed = _fixed_headers(reply.ctype, reply.cache, variant)
        not_modified = (*(h for h in fixed if h[0] not in (b"content-type", b"content-encoding")),
                        (b"etag", etag))
        return _start(304, not_modified), b""
    known = _STARTS.get(etag) if status == 200 else None
    if known is not None and known[0] is reply.ctype and known[1] is reply.cache:
        start = known[2]
    else:
        headers_sent = (*_fixed_headers(reply.ctype, reply.cache, variant), (b"etag", etag),
                        (b"content-length", b"%d" % len(body)))
        start = _start(status, headers_sent)
        if status == 200:
            if len(_STARTS) >= STARTS_KEPT:
                _STARTS.clear()
            _STARTS[etag] = (reply.ctype, reply.cache, start, _header_lines(headers_sent))
    return start, b"" if method == "HEAD" else body  # HEAD: the length GET would be sent


def _variant(reply: Reply, accept: bytes | None) -> tuple[bytes, bytes, bool | None]:
    """The ETag and body of the variant of ``reply`` an ``Accept-Encoding`` of ``accept``
    gets, and which it is (None: ``reply`` has no gzip variant; else whether it is that)."""
    gz = reply.gz
    if gz is not None and accept is not None and _accepts_gzip(accept):
        return reply.gz_etag, gz, True
    body = reply.stored
    if body is None:  # a compact reply: its identity body inflated (``Reply.body``)
        body = reply.body
    return reply.etag, body, None if gz is None else False


def _header_lines(headers: tuple[tuple[bytes, bytes], ...]) -> bytes:
    """``headers`` as uvicorn writes them after the status line and its own (the date), and the
    blank line that ends them: what :meth:`FastPath.wire` sends."""
    return b"".join(b"%s: %s\r\n" % header for header in headers) + b"\r\n"


def _start(status: int, headers: tuple[tuple[bytes, bytes], ...]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers}


class FastPath:
    """ASGI middleware: answers public author paths from ``snapshot``, passes the rest on;
    each answer is counted in ``counts`` (the service's requests metric).

    A 200 of a path in :data:`COUNTED` is counted in ``ok_counts``, at the path's place there,
    where incrementing a list item hashes nothing; the metric adds them up when scraped
    (``metrics.Metrics``).

    Such a path, answered from an entry, is remembered in ``known`` with its reply and the
    snapshot's ``generation`` read before looking it up; asked again (without a query) while
    the generation is the same, it is answered with that reply, without splitting the path or
    looking anything up. Any change to the authors changes the generation (after the change),
    so a remembered reply is never older than the entry a lookup would find. Bounded by
    :data:`PATHS_KNOWN`, emptied when full: a path asked for often is soon remembered again."""

    def __init__(
        self,
        app: ASGIApp,
        snapshot: Snapshot,
        counts: Counts,
        ok_counts: list[int],
    ) -> None:
        self.app = app
        self.snapshot = snapshot
        self.counts = counts
        self.ok_counts = ok_counts
        # path -> generation, reply, place in COUNTED, route label
        self.known: dict[str, tuple[int, Reply, int, str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        counted: int | None  # the path's place in COUNTED, if it is there
        known = self.known.get(path)
        if (known is not None and known[0] == self.snapshot.generation
                and not scope["query_string"] and scope["method"] in _GET_OR_HEAD):
            _, reply, counted, rest = known  # answered before, from the same authors
        else:
            scholar_id, slash, rest = path[_AFTER_PREFIX:].partition("/")
            if not (slash and rest and path.startswith(PREFIX)
                    and scope["method"] in _GET_OR_HEAD):
                await self._other(path, scope, receive, send)
                return
            generation = self.snapshot.generation  # read first: what is found is as new
            raw = scope["query_string"]
            found: Reply | Pending | None = None
            counted = None
            if not raw:  # resolve()'s commonest cases first: a kept file, a default badge
                entry = self.snapshot.authors.get(scholar_id)
                if entry is not None:
                    counted = KEPT_SLOTS.get(rest)
                    if counted is not None:
                        found = entry.replies[counted]
                    else:
                        badge = _BADGES.get(rest)
                        if badge is not None:
                            metric, counted = badge
                            found = svg_badge(self.snapshot, entry, metric, _EMPTY)
                if found is None:
                    found = resolve(self.snapshot, scholar_id, rest, _EMPTY)
            elif len(raw) <= MAX_QUERY_BYTES:
                query = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
                found = resolve(self.snapshot, scholar_id, rest, query)
            else:  # never parsed: its values could only be refused, or kept as cache keys
                found = query_too_long(rest)
            reply = found if isinstance(found, Reply) else await self.snapshot.renders.settle(found)
            if counted is not None and reply.status == 200:
                if len(self.known) >= PATHS_KNOWN:
                    self.known.clear()
                self.known[path] = (generation, reply, counted, COUNTED[counted])  # shared str
        start, body = answer(reply, scope["method"], scope["headers"])
        await send(start)
        await send({"type": "http.response.body", "body": body})
        status = start["status"]
        if counted is not None and status == 200:
            self.ok_counts[counted] += 1
        else:
            label = ROUTE_LABELS.get(rest) or route_label(rest)  # mostly the first
            self.counts[label, status] += 1

    def wire(self, url: bytes, method: bytes, headers: list[tuple[bytes, bytes]]
             ) -> tuple[bytes, bytes] | None:
        """The header lines and body of the answer to a request whose headers were just
        parsed, for :class:`~scholar_stats.service.protocol.FastPathProtocol` to send after the
        status line and the date, without an ASGI cycle: the same bytes :meth:`__call__` would
        send through uvicorn for a remembered path asked for (GET or HEAD) while the generation
        is the same, once that answer's start is kept (``_STARTS``). None for anything else
        (a query, ``If-None-Match``, a path not remembered), which goes through ASGI."""
        if b"%" in url or not url.isascii():  # its path is not the target as sent
            return None
        known = self.known.get(url.decode())  # with a query, or an absolute URL: not found
        if (known is None or known[0] != self.snapshot.generation
                or (method != b"GET" and method != b"HEAD")):
            return None
        accept = None
        for key, value in headers:
            if key == b"if-none-match":
                return None
            if key == b"accept-encoding":
                accept = value
        reply = known[1]
        etag, body, _ = _variant(reply, accept)
        start = _STARTS.get(etag)
        if start is None or start[0] is not reply.ctype or start[1] is not reply.cache:
            return None
        self.ok_counts[known[2]] += 1
        return start[3], b"" if method == b"HEAD" else body

    async def _other(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to the app behind, counting its answer."""
        status_sent = [500]

        async def send_counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_sent[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            self.counts[_other_route(path), status_sent[0]] += 1


def _other_route(path: str) -> str:
    if path in ("/healthz", "/metrics", "/openapi.json", "/docs", "/" + SCRIPT.name):
        return path.lstrip("/")
    if path == "/":
        return "index_page"
    if path.startswith(PREFIX) and path.count("/") == 3 and path.endswith("/"):
        return "author_page"
    return "admin" if path.startswith("/authors") else "other"
