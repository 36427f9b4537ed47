"""HTTP to Google Scholar, with httpx: the only module that talks to Scholar.

Why not scholarly's Navigator: it is a process-wide singleton whose page loop sleeps 60-120 s and
retries without counting when Scholar blocks, so a blocked CI job runs until it is killed. Here:

* every request, retry and sleep fits inside one ``Deadline`` for the whole run, as a wall-clock
  total: each connect, proxy handshake, read and write waits at most what is left of it (httpx's
  own timeouts are per socket operation, so a server trickling one byte at a time would never
  trip them), and another thread can stop the run at once (``Cancellation``);
* a page is at most ``MAX_PAGE_BYTES`` as sent and once decompressed, read as a stream that
  stops at the cap: a gzip bomb or an endless page is refused, never held in memory;
* only transient failures are retried (connection errors, timeouts, 5xx, and a 429 whose
  Retry-After fits in what is left of the deadline), a bounded number of times with jittered
  exponential backoff;
* a block (403, 429, a redirect to ``/sorry/``) is final at once: retrying only digs deeper;
* pages are spaced by a jittered politeness delay;
* redirects are followed only within the configured Scholar base URL: Google's ``/sorry/`` page
  means blocked, its sign-in page means the profile does not exist, any other site is refused.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from httpcore._backends.sync import SyncStream as _SyncStream  # see _bounded_transport

from .errors import AuthorNotFound, Blocked, NetworkFailure, PageNotUnderstood
from .settings import FetchSettings

log = logging.getLogger(__name__)

_MAX_REDIRECTS = 3
# A real profile page is 0.1-0.5 MB (100 rows of long titles) and Google's sign-in page 1.3 MB;
# 8 MiB leaves a wide margin yet keeps a hostile page from taking the machine's memory.
MAX_PAGE_BYTES = 8 * 2**20  # as received (compressed or not), and again once decompressed
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
_BLOCK_ADVICE = "this IP is blocked for now; try later, from another network, or with --proxy"


class Cancellation:
    """Stops every run that shares it, from another thread (SIGTERM of ``serve``/``schedule``).

    Its runs' sleeps wait on it, and the sockets they use are registered here, so ``cancel``
    also shuts those down: a read blocked on a silent server returns at once.
    """

    def __init__(self) -> None:
        self.reason = ""
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self, reason: str) -> None:
        with self._lock:
            if not self._event.is_set():
                self.reason = reason
                self._event.set()
            sockets = list(self._sockets)
        for sock in sockets:
            _shut_down(sock)

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less when cancelled meanwhile; True if cancelled."""
        return self._event.wait(max(0.0, seconds))

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            if not self._event.is_set():
                return
        _shut_down(sock)

    def forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)


def _shut_down(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected: nothing is waiting on it


class Deadline:
    """The end of the run. Nothing may sleep or wait past it; ``cancellation`` ends it early."""

    def __init__(
        self, seconds: float, clock: Callable[[], float] = time.monotonic,
        cancellation: Cancellation | None = None,
    ) -> None:
        self.seconds = seconds
        self.cancellation = cancellation or Cancellation()
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        if self.cancellation.cancelled:
            return 0.0
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self, waiting_for: str) -> None:
        if self.expired:
            raise self.passed(waiting_for)

    def passed(self, waiting_for: str) -> NetworkFailure:
        if self.cancellation.cancelled:
            return NetworkFailure(
                f"the fetch was stopped ({waiting_for}): {self.cancellation.reason}"
            )
        return NetworkFailure(
            f"the deadline of {self.seconds:g} s passed ({waiting_for}); "
            "raise --deadline or try again later"
        )

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` (the caller checked they fit), waking early when cancelled."""
        self.cancellation.wait(seconds)


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
        match = _META_CHARSET.search(content[:4096])
        if match:
            charset = match.group(1).decode("ascii")
    charset = (charset or "utf-8").lower()
    # As browsers do (WHATWG Encoding): pages labelled Latin-1 or ASCII are decoded as cp1252.
    if charset in ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        charset = "cp1252"
    try:
        return content.decode(charset, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def redirect_target(base_url: str, current_url: str, location: str | None) -> str:
    """The URL a redirect from ``current_url`` may be followed to: within ``base_url`` only.

    Google's ``/sorry/`` page is a block and its sign-in page an unknown id, recognised without
    being followed; any other site is refused (it could serve another profile's data).
    """
    if not location:
        raise PageNotUnderstood("Scholar sent a redirect with no Location")
    target = urljoin(current_url, location.strip())
    parts, base = urlsplit(target), urlsplit(base_url)
    host = (parts.hostname or "").lower()
    same_origin = _origin(parts) == _origin(base)
    base_path = base.path.rstrip("/")
    on_site = same_origin and (parts.path == base_path or parts.path.startswith(base_path + "/"))
    google = host == "google.com" or host.endswith(".google.com")
    if (same_origin or google) and parts.path.startswith("/sorry"):
        raise Blocked(f"Scholar redirected to its /sorry/ page: {_BLOCK_ADVICE}")
    if host == "accounts.google.com" or (
        same_origin and ("ServiceLogin" in parts.path or "signin" in parts.path.lower())
    ):
        raise AuthorNotFound(
            "no Scholar profile has this id (Scholar sent a Google sign-in page); "
            "check the id in your profile URL (user=...)"
        )
    if not on_site:
        where = host if _HOST_NAME.fullmatch(host) else "an unreadable address"
        raise PageNotUnderstood(
            f"Scholar redirected to another site ({parts.scheme}://{where}), which is not "
            f"followed: only {_origin_text(base)} is trusted to serve profiles"
        )
    return target


_HOST_NAME = re.compile(r"[a-z0-9.:\[\]-]{1,255}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(parts: Any) -> tuple[str, str, int | None]:
    try:
        port = parts.port
    except ValueError:
        port = -1  # an unreadable port matches nothing
    return parts.scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(parts.scheme)


def _origin_text(parts: Any) -> str:
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


# -- the network backend: every socket wait bounded by the run ---------------------------------


class _BoundedBackend(httpcore.NetworkBackend):
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
                return _BoundedStream(_SyncStream(sock), self, watcher)
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


class _BoundedStream(httpcore.NetworkStream):
    """httpcore's own socket stream, with every wait cut to what the run has left."""

    def __init__(self, stream: httpcore.NetworkStream, backend: _BoundedBackend,
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
        return _BoundedStream(tls, self._backend, self._watcher)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _bounded_transport(proxy: str | None, backend: _BoundedBackend) -> httpx.HTTPTransport:
    """httpx's own transport (proxies, TLS, HTTP/1.1), running on ``backend``.

    httpx 0.28 has no public way to give its transport a network backend (httpcore's pools take
    one), and httpcore 1.0 no public stream over a socket we connected: the pool's
    ``_network_backend`` here and ``_SyncStream`` (imported above) are the whole private seam.
    Their versions are pinned in pyproject.toml; an upgrade that moves them fails loudly here
    and in tests/test_hostile_scholar.py, never silently unbounded.
    """
    transport = httpx.HTTPTransport(proxy=proxy)
    pool = getattr(transport, "_pool", None)
    if not isinstance(getattr(pool, "_network_backend", None), httpcore.SyncBackend):
        raise RuntimeError(
            f"httpx {httpx.__version__} / httpcore {httpcore.__version__} no longer take a "
            "network backend the way scholar-stats plugs it in; install the versions pinned "
            "in pyproject.toml"
        )
    pool._network_backend = backend  # type: ignore[union-attr]
    return transport


class _Transient(Exception):
    """A failure worth another try; ``wait`` overrides the backoff (Retry-After)."""

    def __init__(self, reason: str, wait: float | None = None, final: Exception | None = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.final = final


class ScholarClient:
    """Fetches Scholar pages for one run; ``requests_made`` counts every HTTP request sent."""

    def __init__(
        self,
        settings: FetchSettings,
        deadline: Deadline,
        *,
        before_request: Callable[[], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.deadline = deadline
        self.requests_made = 0
        self._before_request = before_request
        self._rng = rng or random.Random()
        self._last_page_at: float | None = None
        self._request_ends = time.monotonic()
        self._backend = _BoundedBackend(self._seconds_left, deadline.cancellation)
        self._http = httpx.Client(
            base_url=settings.scholar_url,
            transport=_bounded_transport(settings.proxy, self._backend),
            follow_redirects=False,
            headers={
                "User-Agent": settings.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en-US,en;q=0.9",
                "Accept-Encoding": "gzip",  # the one coding read_bounded can bound
            },
        )

    def __enter__(self) -> ScholarClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._backend.close()

    def get_page(self, path: str) -> str:
        """The HTML of ``path`` (e.g. ``/citations?hl=en&user=…``), or a ``FetchError``."""
        self._polite_pause()
        try:
            for attempt in range(1, self.settings.attempts + 1):
                try:
                    return self._get_once(path)
                except _Transient as failure:
                    if attempt == self.settings.attempts:
                        raise failure.final or NetworkFailure(
                            f"{failure.reason} after {attempt} attempts; Scholar or the network "
                            "is having trouble: try again later (or check --proxy)"
                        ) from None
                    wait = failure.wait
                    if wait is None:
                        wait = self.settings.backoff * 2 ** (attempt - 1)
                        wait *= self._rng.uniform(0.5, 1.5)
                    log.info("retrying %s in %.1f s: %s", path, wait, failure.reason)
                    self._wait(wait, f"retrying after {failure.reason}", failure.final)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._last_page_at = time.monotonic()

    def _polite_pause(self) -> None:
        if self._last_page_at is None or self.settings.delay <= 0:
            return
        pause = self.settings.delay * self._rng.uniform(0.5, 1.5)
        pause -= time.monotonic() - self._last_page_at
        if pause > 0:
            self._wait(pause, "the politeness delay between pages")

    def _wait(self, seconds: float, what: str, instead: Exception | None = None) -> None:
        if seconds >= self.deadline.remaining():
            if instead is not None and not self.deadline.cancellation.cancelled:
                raise instead
            raise self.deadline.passed(what)
        self.deadline.sleep(seconds)
        self.deadline.check(what)

    def _seconds_left(self) -> float:
        """What the request under way may still wait: its own timeout, within the run's."""
        return min(self._request_ends - time.monotonic(), self.deadline.remaining())

    def _get_once(self, path: str) -> str:
        url = self.settings.scholar_url.rstrip("/") + path
        for _hop in range(_MAX_REDIRECTS + 1):
            status, headers, body = self._exchange(url)
            if status in _REDIRECT_STATUSES:
                url = redirect_target(self.settings.scholar_url, url, headers.get("location"))
                continue
            return self._answer(status, headers, body)
        raise PageNotUnderstood(
            f"Scholar redirected more than {_MAX_REDIRECTS} times (a redirect loop)"
        )

    def _exchange(self, url: str) -> tuple[int, httpx.Headers, bytes | None]:
        """One request: status, headers and, for a 200, the body (bounded); nothing waits past
        the request's timeout or the deadline."""
        self.deadline.check("before a request")
        if self._before_request is not None:
            self._before_request()
        self.requests_made += 1
        self._request_ends = time.monotonic() + self.settings.timeout
        log.debug("GET %s", url)
        try:
            with self._http.stream("GET", url, timeout=self.settings.timeout) as response:
                body = None
                if response.status_code == 200:
                    body = read_bounded(response.iter_raw(), response.headers.get(
                        "content-encoding"), response.headers.get("content-length"))
                return response.status_code, response.headers, body
        except httpx.TimeoutException:
            if self.deadline.expired:
                raise self.deadline.passed("waiting for Scholar to answer") from None
            raise _Transient(f"no answer within {self.settings.timeout:g} s") from None
        except httpx.TransportError as exc:
            if self.deadline.expired:
                raise self.deadline.passed("waiting for Scholar to answer") from None
            raise _Transient(f"connection failed ({type(exc).__name__})") from None

    def _answer(self, status: int, headers: httpx.Headers, body: bytes | None) -> str:
        if status == 200:
            assert body is not None
            return decode_body(body, headers.get("content-type"))
        if status == 403:
            raise Blocked(f"Scholar refused the request (HTTP 403): {_BLOCK_ADVICE}")
        if status == 429:
            wait = retry_after_seconds(headers.get("retry-after"))
            blocked = Blocked(
                "Scholar is rate-limiting (HTTP 429"
                + (f", Retry-After {wait:.0f} s" if wait is not None else "")
                + f"): {_BLOCK_ADVICE}"
            )
            if wait is None or wait >= self.deadline.remaining():
                raise blocked
            raise _Transient("HTTP 429", wait=wait, final=blocked)
        if status == 404:
            raise AuthorNotFound(
                "no Scholar profile has this id (HTTP 404); check the id in your profile URL"
            )
        if status >= 500:
            raise _Transient(f"HTTP {status} from Scholar")
        raise NetworkFailure(f"unexpected HTTP {status} from Scholar")
