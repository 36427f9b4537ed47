"""HTTP to Google Scholar, with httpx: the only module that talks to Scholar.

Why not scholarly's Navigator: it is a process-wide singleton whose page loop sleeps 60-120 s and
retries without counting when Scholar blocks, so a blocked CI job runs until it is killed. Here:

* every request, retry and sleep fits inside one ``Deadline`` for the whole run;
* only transient failures are retried (connection errors, timeouts, 5xx, and a 429 whose
  Retry-After fits in what is left of the deadline), a bounded number of times with jittered
  exponential backoff;
* a block (403, 429, a redirect to ``/sorry/``) is final at once: retrying only digs deeper;
* pages are spaced by a jittered politeness delay;
* redirects are not followed blindly: ``/sorry/`` means blocked, a Google sign-in page means the
  profile does not exist.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from .errors import AuthorNotFound, Blocked, NetworkFailure
from .settings import FetchSettings

log = logging.getLogger(__name__)

_MAX_REDIRECTS = 3
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
_BLOCK_ADVICE = "this IP is blocked for now; try later, from another network, or with --proxy"


class Deadline:
    """The end of the run. Nothing may sleep or wait past it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self, waiting_for: str) -> None:
        if self.expired:
            raise self.passed(waiting_for)

    def passed(self, waiting_for: str) -> NetworkFailure:
        return NetworkFailure(
            f"the deadline of {self.seconds:g} s passed ({waiting_for}); "
            "raise --deadline or try again later"
        )


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


def _redirect_error(location: str) -> Blocked | AuthorNotFound | None:
    parts = urlsplit(location)
    if parts.path.startswith("/sorry"):
        return Blocked(f"Scholar redirected to its /sorry/ page: {_BLOCK_ADVICE}")
    if parts.hostname == "accounts.google.com" or "signin" in parts.path.lower() \
            or "ServiceLogin" in parts.path:
        return AuthorNotFound(
            "no Scholar profile has this id (Scholar sent a Google sign-in page); "
            "check the id in your profile URL (user=...)"
        )
    return None


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
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.deadline = deadline
        self.requests_made = 0
        self._before_request = before_request
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._last_page_at: float | None = None
        self._http = httpx.Client(
            base_url=settings.scholar_url,
            proxy=settings.proxy,
            transport=transport,
            follow_redirects=False,
            headers={
                "User-Agent": settings.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en-US,en;q=0.9",
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
            if instead is not None:
                raise instead
            raise self.deadline.passed(what)
        self._sleep(seconds)

    def _get_once(self, path: str) -> str:
        url = path
        for _hop in range(_MAX_REDIRECTS + 1):
            response = self._send(url)
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers.get("location", ""))
                redirect_error = _redirect_error(location)
                if redirect_error is not None:
                    raise redirect_error
                url = location
                continue
            return self._read(response)
        raise NetworkFailure(f"Scholar redirected more than {_MAX_REDIRECTS} times")

    def _send(self, url: str) -> httpx.Response:
        self.deadline.check("before a request")
        if self._before_request is not None:
            self._before_request()
        timeout = min(self.settings.timeout, self.deadline.remaining())
        self.requests_made += 1
        log.debug("GET %s (timeout %.1f s)", url, timeout)
        try:
            return self._http.get(url, timeout=timeout)
        except httpx.TimeoutException:
            if self.deadline.expired:
                raise self.deadline.passed("waiting for Scholar to answer") from None
            raise _Transient(f"no answer within {timeout:.0f} s") from None
        except httpx.TransportError as exc:
            raise _Transient(f"connection failed ({type(exc).__name__})") from None

    def _read(self, response: httpx.Response) -> str:
        status = response.status_code
        if status == 200:
            return decode_body(response.content, response.headers.get("content-type"))
        if status == 403:
            raise Blocked(f"Scholar refused the request (HTTP 403): {_BLOCK_ADVICE}")
        if status == 429:
            wait = retry_after_seconds(response.headers.get("retry-after"))
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
