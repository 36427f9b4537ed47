"""HTTP to Google Scholar, with httpx: the only module that talks to Scholar.

(The deadline lives in ``net/deadline.py``, the bounded transport in ``net/bounded.py``.)

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
  means blocked, its sign-in page means the profile does not exist, any other site is refused;
* the passwords of the Scholar URL and the proxy are remembered with ``redact``: log lines and
  errors show ``***``, and so does the profile returned (``sources/scrub.py``).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from scholar_stats import redact
from scholar_stats.core.model import AuthorData
from scholar_stats.core.validate import Intake
from scholar_stats.errors import (
    AuthorNotFound,
    Blocked,
    NetworkFailure,
    PageNotUnderstood,
    ScholarStatsError,
)
from scholar_stats.net.bounded import (
    HOST_NAME,
    BoundedBackend,
    bounded_transport,
    decode_body,
    origin_of,
    origin_text,
    read_bounded,
)
from scholar_stats.net.deadline import Deadline
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.scholar.parse import parse_profile
from scholar_stats.sources.scrub import without_secrets

log = logging.getLogger(__name__)


_MAX_REDIRECTS = 3


_REDIRECT_STATUSES = (301, 302, 303, 307, 308)


_BLOCK_ADVICE = "this IP is blocked for now; try later, from another network, or with --proxy"


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
    same_origin = origin_of(parts) == origin_of(base)
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
        where = host if HOST_NAME.fullmatch(host) else "an unreadable address"
        raise PageNotUnderstood(
            f"Scholar redirected to another site ({parts.scheme}://{where}), which is not "
            f"followed: only {origin_text(base)} is trusted to serve profiles"
        )
    return target


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
        self._backend = BoundedBackend(self._seconds_left, deadline.cancellation)
        redact.remember([*redact.url_secrets(settings.scholar_url),
                         *redact.url_secrets(settings.proxy or "")])
        self._http = httpx.Client(
            base_url=settings.scholar_url,
            transport=bounded_transport(settings.proxy, self._backend),
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

    def fetch_author(self, scholar_id: str, now: datetime,
                     intake: Intake | None = None) -> AuthorData:
        """Every page of the profile, parsed and checked, with no secret of the run in it;
        ``intake`` (the attempt's) counts the pages."""
        try:
            return without_secrets(parse_profile(scholar_id, self.get_page, now, intake),
                                   "Scholar")
        except ScholarStatsError as exc:  # a page's text it quotes, as ***
            raise redact.redacted(exc) from None

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
        if status == 200 and body is not None:  # _get reads the body of every 200
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
