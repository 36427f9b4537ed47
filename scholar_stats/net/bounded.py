"""httpx transport whose every socket wait is bounded by the deadline, and a body reader
that stops at ``MAX_PAGE_BYTES`` (as sent and once decompressed): a gzip bomb or an endless
page is refused, never held in memory.
"""

from __future__ import annotations

import re
import socket
import threading
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx
from httpcore._backends.sync import SyncStream as _SyncStream  # see bounded_transport

from scholar_stats.errors import (
    PageNotUnderstood,
)
from scholar_stats.net.deadline import Cancellation

# A real profile page is 0.1-0.5 MB (100 rows of long titles) and Google's sign-in page 1.3 MB;
# 8 MiB leaves a wide margin yet keeps a hostile page from taking the machine's memory.
MAX_PAGE_BYTES = 8 * 2**20  # as received (compressed or not), and again once decompressed


_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


def decode_body(content: bytes, content_type: str | None) -> str:
    """Decode by the declared charset: the HTTP header first, then ``<meta charset>``, else UTF-8.

    Old Scholar pages (``oe=ASCII``) are ISO-8859-1 and not valid UTF-8; like a browser, we read
    that label as windows-1252, so Scholar's curly quotes and dashes come out right.
    """
    charset = None
    if content_type:
        match = re.search(r"charset=([A-Za-z0-9_-]+)", content_type, re.IGNORECASE)
        if match:
            charset = match.group(1)
    if charset is None:
        meta = _META_CHARSET.search(content[:4096])
        if meta:
            charset = meta.group(1).decode("ascii")
    charset = (charset or "utf-8").lower()
    # As browsers do (WHATWG Encoding): pages labelled Latin-1 or ASCII are decoded as cp1252.
    if charset in ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        charset = "cp1252"
    try:
        return content.decode(charset, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


HOST_NAME = re.compile(r"[a-z0-9.:\[\]-]{1,255}")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(parts: Any) -> tuple[str, str, int | None]:
    try:
        port = parts.port
    except ValueError:
        port = -1  # an unreadable port matches nothing
    return parts.scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(parts.scheme)


def origin_text(parts: Any) -> str:
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path.rstrip('/')}"


def read_bounded(
    chunks: Iterable[bytes], content_encoding: str | None, content_length: str | None
) -> bytes:
    """The page from the raw body ``chunks``, at most ``MAX_PAGE_BYTES`` as received and again
    once decompressed: reading stops at either cap (a gzip bomb expands only that far).

    Only gzip is asked for (``Accept-Encoding``), as the one coding bounded here besides none.
    """
    too_large = PageNotUnderstood(
        f"the page is larger than {MAX_PAGE_BYTES // 2**20} MiB (a real profile page is under "
        "1 MB), so reading stopped there: the server is not behaving like Scholar"
    )
    coding = (content_encoding or "identity").strip().lower()
    if coding not in ("identity", "gzip", "x-gzip"):
        raise PageNotUnderstood(
            f"Scholar sent the page in an encoding it was not asked for ({coding[:40]!r})"
        )
    if content_length and content_length.strip().isdigit() \
            and int(content_length) > MAX_PAGE_BYTES:
        raise too_large
    gunzip = zlib.decompressobj(16 + zlib.MAX_WBITS) if coding != "identity" else None
    received = 0
    page = bytearray()
    try:
        for chunk in chunks:
            received += len(chunk)
            if received > MAX_PAGE_BYTES:
                raise too_large
            if gunzip is None:
                page += chunk
                continue
            while chunk:  # inflate at most one byte past the cap at a time
                page += gunzip.decompress(chunk, MAX_PAGE_BYTES + 1 - len(page))
                if len(page) > MAX_PAGE_BYTES:
                    raise too_large
                chunk = gunzip.unconsumed_tail
    except zlib.error:
        raise PageNotUnderstood("the page's gzip data is corrupt") from None
    if gunzip is not None and not gunzip.eof:
        raise PageNotUnderstood("the page's gzip data was cut short (truncated)")
    return bytes(page)


class BoundedBackend(httpcore.NetworkBackend):
    """httpcore's network backend for one client: every connect, read and write waits at most
    ``seconds_left()`` (the SOCKS5 handshake too, which httpcore runs with no timeout at all),
    and every socket is registered with the run's ``Cancellation`` before it connects.

    A duplicate of each socket's descriptor is what gets registered: it outlives the TLS
    wrapping (which detaches the original object), and shutting it down ends the connection
    for every descriptor. The duplicates are closed with their stream, or with the client.
    """

    def __init__(self, seconds_left: Callable[[], float], cancellation: Cancellation) -> None:
        self._seconds_left = seconds_left
        self._cancellation = cancellation
        self._watchers: set[socket.socket] = set()
        self._lock = threading.Lock()

    def bound(self, timeout: float | None, timeout_error: type[Exception]) -> float:
        """``timeout`` cut to the time left; ``timeout_error`` when there is none."""
        left = self._seconds_left()
        if left <= 0:
            raise timeout_error("no time left for this request")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.bound(timeout, httpcore.ConnectTimeout)
        try:
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        failure: OSError | None = None
        for family, kind, proto, _name, address in addresses:
            sock = socket.socket(family, kind, proto)
            watcher = self._watch(sock)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if local_address:
                    sock.bind((local_address, 0))
                sock.settimeout(self.bound(timeout, httpcore.ConnectTimeout))
                sock.connect(address)
                return BoundedStream(_SyncStream(sock), self, watcher)
            except OSError as exc:
                failure = exc
                self.forget(watcher)
                sock.close()
            except BaseException:
                self.forget(watcher)
                sock.close()
                raise
        if isinstance(failure, socket.timeout):
            raise httpcore.ConnectTimeout(str(failure))
        raise httpcore.ConnectError(str(failure))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> Any:
        raise httpcore.ConnectError("Scholar is reached over TCP only")

    def sleep(self, seconds: float) -> None:
        self._cancellation.wait(min(seconds, self._seconds_left()))

    def _watch(self, sock: socket.socket) -> socket.socket:
        watcher = sock.dup()
        with self._lock:
            self._watchers.add(watcher)
        self._cancellation.watch(watcher)
        return watcher

    def forget(self, watcher: socket.socket) -> None:
        self._cancellation.forget(watcher)
        with self._lock:
            self._watchers.discard(watcher)
        watcher.close()

    def close(self) -> None:
        """Close what streams left behind (httpcore drops a stream whose proxy handshake
        failed without closing it)."""
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            self.forget(watcher)


class BoundedStream(httpcore.NetworkStream):
    """httpcore's own socket stream, with every wait cut to what the run has left."""

    def __init__(self, stream: httpcore.NetworkStream, backend: BoundedBackend,
                 watcher: socket.socket) -> None:
        self._stream = stream
        self._backend = backend
        self._watcher = watcher

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._backend.bound(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._backend.forget(self._watcher)
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        bounded = self._backend.bound(timeout, httpcore.ConnectTimeout)
        tls = self._stream.start_tls(ssl_context, server_hostname, bounded)
        return BoundedStream(tls, self._backend, self._watcher)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def bounded_transport(proxy: str | None, backend: BoundedBackend) -> httpx.HTTPTransport:
    """httpx's own transport (proxies, TLS, HTTP/1.1), running on ``backend``.

    httpx 0.28 has no public way to give its transport a network backend (httpcore's pools take
    one), and httpcore 1.0 no public stream over a socket we connected: the pool's
    ``_network_backend`` here and ``_SyncStream`` (imported above) are the whole private seam.
    Their versions are pinned in pyproject.toml; an upgrade that moves them fails loudly here
    and in tests/net/test_hostile_scholar.py, never silently unbounded.
    """
    transport = httpx.HTTPTransport(proxy=proxy)
    pool = getattr(transport, "_pool", None)
    if not isinstance(getattr(pool, "_network_backend", None), httpcore.SyncBackend):
        raise RuntimeError(
            f"httpx {httpx.__version__} / httpcore {httpcore.__version__} no longer take a "
            "network backend the way scholar-stats plugs it in; install the versions pinned "
            "in pyproject.toml"
        )
    # the private attribute checked just above; httpx types the pool as possibly absent
    pool._network_backend = backend  # type: ignore[union-attr]
    return transport
