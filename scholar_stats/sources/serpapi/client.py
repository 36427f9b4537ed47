"""HTTP to SerpApi, with httpx: the only module that talks to SerpApi.

Like ``sources/scholar/client.py``, every request of a run fits inside its ``Deadline`` (each
connect, read and write waits at most what is left of it, through the bounded transport in
``net/bounded.py``), an answer is at most ``MAX_PAGE_BYTES``, and only transient failures
(connection errors, timeouts, 5xx) are retried, a bounded number of times. Unlike Scholar, no
politeness delay: SerpApi is a paid API, not a site we scrape.

The key is a query parameter (SerpApi has no other way to pass it), so it is in the URL of every
request: that URL is never logged or put in a message by this module, and the client remembers
the key with ``redact`` (as the CLI does), so httpx's and httpcore's own log lines, the errors
raised here and the profile returned (``sources/scrub.py``) hold ``***`` instead.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from scholar_stats import config, redact
from scholar_stats.core.model import AuthorData
from scholar_stats.core.validate import MAX_PAGES, Intake
from scholar_stats.errors import NetworkFailure, PageNotUnderstood, ScholarStatsError
from scholar_stats.net.bounded import BoundedBackend, bounded_transport, read_bounded
from scholar_stats.net.deadline import Deadline
from scholar_stats.settings import FetchSettings
from scholar_stats.sources.scrub import without_secrets
from scholar_stats.sources.serpapi.parse import (
    ProfileParts,
    next_start,
    read_answer,
    request_params,
)

log = logging.getLogger(__name__)

DEFAULT_SERPAPI_URL = config.default("serpapi_url")
SEARCH_PATH = "/search.json"


class SerpApiClient:
    """Fetches SerpApi pages for one run; ``requests_made`` counts every HTTP request sent.

    ``before_request`` may refuse a request (the monthly limit); ``on_answer`` is called for
    each one answered with 200, the searches SerpApi bills, and ``on_unanswered`` for each
    other request sent (a budget that counted it in ``before_request`` gives it back).
    """

    def __init__(
        self,
        settings: FetchSettings,
        deadline: Deadline,
        api_key: str,
        *,
        base_url: str = DEFAULT_SERPAPI_URL,
        before_request: Callable[[], None] | None = None,
        on_answer: Callable[[], None] | None = None,
        on_unanswered: Callable[[], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.deadline = deadline
        self.requests_made = 0
        self._key = api_key
        self._base_url = base_url.rstrip("/")
        self._before_request = before_request
        self._on_answer = on_answer
        self._on_unanswered = on_unanswered
        self._rng = rng or random.Random()
        self._request_ends = time.monotonic()
        self._backend = BoundedBackend(self._seconds_left, deadline.cancellation)
        redact.remember([api_key, *redact.url_secrets(base_url)])
        self._http = httpx.Client(
            transport=bounded_transport(None, self._backend),
            follow_redirects=False,
            headers={"Accept": "application/json", "Accept-Encoding": "gzip",
                     "User-Agent": "scholar-stats"},
        )

    def __enter__(self) -> SerpApiClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._backend.close()

    def fetch_author(self, scholar_id: str, now: datetime,
                     intake: Intake | None = None) -> AuthorData:
        """Every page of the profile (``start`` 0, 100, ... as ``serpapi_pagination.next``
        says), parsed, with no secret of the run in it: ⌈P/100⌉ searches for P articles. Each
        page is counted by ``intake`` (the attempt's) and reduced to the record's parts before the
        next is asked for."""
        intake = intake or Intake()
        try:
            parts, start = ProfileParts(scholar_id), 0
            while True:
                page = self.get_page(scholar_id, start, intake)
                following = next_start(page, start)
                parts.add(page)
                del page  # only its parts are kept
                if following is None:
                    return without_secrets(parts.finish(now), "SerpApi")
                if parts.pages >= MAX_PAGES:
                    raise PageNotUnderstood(
                        f"SerpApi's article list goes on past {MAX_PAGES} pages: no real "
                        "profile is that long")
                start = following
        except ScholarStatsError as exc:  # the key, should SerpApi echo it, as ***
            raise redact.redacted(exc) from None

    def get_page(self, scholar_id: str, start: int,
                 intake: Intake | None = None) -> dict[str, Any]:
        """One page of articles from ``start`` (counted by ``intake``), or the ``FetchError``
        SerpApi's answer means."""
        query = request_params(scholar_id, start)
        for attempt in range(1, self.settings.attempts + 1):
            outcome = self._exchange(query)
            if isinstance(outcome, tuple):
                status, body = outcome
                if status < 500:
                    if status == 200 and body is not None and intake is not None:
                        intake.take(body, "SerpApi")
                    return read_answer(status, body)
                reason = f"HTTP {status} from SerpApi"
            else:
                reason = outcome
            if attempt == self.settings.attempts:
                raise NetworkFailure(f"{reason} after {attempt} attempts; SerpApi or the "
                                     "network is having trouble: try again later")
            wait = self.settings.backoff * 2 ** (attempt - 1) * self._rng.uniform(0.5, 1.5)
            log.info("retrying SerpApi page start=%s in %.1f s: %s", start, wait, reason)
            if wait >= self.deadline.remaining():
                raise self.deadline.passed(f"retrying after {reason}")
            self.deadline.sleep(wait)
            self.deadline.check(f"retrying after {reason}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _seconds_left(self) -> float:
        return min(self._request_ends - time.monotonic(), self.deadline.remaining())

    def _exchange(self, query: dict[str, str]) -> tuple[int, bytes | None] | str:
        """One request: (status, body) — the body of a 5xx is not read — or, for a transient
        failure, its reason."""
        self.deadline.check("before a SerpApi request")
        if self._before_request is not None:
            self._before_request()
        answered = False
        try:
            outcome = self._send(query)
            answered = isinstance(outcome, tuple) and outcome[0] == 200
            return outcome
        finally:
            hook = self._on_answer if answered else self._on_unanswered
            if hook is not None:
                hook()

    def _send(self, query: dict[str, str]) -> tuple[int, bytes | None] | str:
        self.requests_made += 1
        self._request_ends = time.monotonic() + self.settings.timeout
        shown = urlencode(query)
        log.debug("GET %s%s?%s&api_key=***", self._base_url, SEARCH_PATH, shown)
        url = f"{self._base_url}{SEARCH_PATH}?{shown}&{urlencode({'api_key': self._key})}"
        try:
            with self._http.stream("GET", url, timeout=self.settings.timeout) as response:
                if response.status_code >= 500:
                    return response.status_code, None
                try:
                    body = read_bounded(response.iter_raw(), response.headers.get(
                        "content-encoding"), response.headers.get("content-length"))
                except PageNotUnderstood as exc:  # its words are about Scholar pages
                    raise PageNotUnderstood("SerpApi's answer: " + str(exc).replace(
                        "Scholar", "SerpApi")) from None
                return response.status_code, body
        except httpx.TimeoutException:
            if self.deadline.expired:
                raise self.deadline.passed("waiting for SerpApi to answer") from None
            return f"no answer within {self.settings.timeout:g} s"
        except httpx.TransportError as exc:
            if self.deadline.expired:
                raise self.deadline.passed("waiting for SerpApi to answer") from None
            return f"connection failed ({type(exc).__name__})"

