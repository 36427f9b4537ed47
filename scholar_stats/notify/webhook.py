"""Webhook notifications: one POST per fetch that changed something, to each ``--notify`` URL.

Generic JSON by default; Slack's and Discord's incoming-webhook formats when the URL is theirs.
Delivery never holds up or fails the data path: it runs after the files are written, every wait
is bounded by the run's ``Deadline`` (the same bounded transport as Scholar requests), it is
retried a bounded number of times on 5xx, 429, timeouts and connection failures, with the same
``Idempotency-Key`` on every try, and its outcome is returned (and logged) rather than raised.

A webhook URL is a secret (whoever has it can post to the channel): it is never printed or
logged. A target is named "webhook #N (host)". That is also why requests go through httpx's
transport directly and not an ``httpx.Client``, which logs every request's full URL.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from scholar_stats import __version__
from scholar_stats.core.changes import ChangeEvent, describe, shorten
from scholar_stats.net.bounded import BoundedBackend, bounded_transport
from scholar_stats.net.deadline import Deadline
from scholar_stats.notify.urls import target_name, webhook_style
from scholar_stats.outputs.changes import MAX_EVENTS, PROFILE_URL, event_as_dict

log = logging.getLogger(__name__)

SHOWN_EVENTS = 10  # lines of a chat message; the rest is "and N more"
DISCORD_LIMIT = 2000  # characters of a Discord message's content
_RETRY_STATUSES = frozenset({429, *range(500, 600)})


@dataclass(frozen=True)
class Notice:
    """What one fetch tells: who, when, and its events (in ``compute_events`` order)."""

    scholar_id: str
    name: str
    fetched_at: str
    events: tuple[ChangeEvent, ...]

    @property
    def idempotency_key(self) -> str:
        """The same for every try (and rerun) of this fetch's notice, so a receiver that got
        a retried POST twice can tell."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL,
                              f"{PROFILE_URL}{self.scholar_id}#changes/{self.fetched_at}"))


def summary_text(notice: Notice, shown: int = SHOWN_EVENTS) -> str:
    """The message a person reads: a heading, one line per change, "and N more"."""
    count = len(notice.events)
    who = shorten(notice.name, 100) if notice.name else notice.scholar_id
    lines = [f"{who} ({notice.scholar_id}) on Google Scholar: "
             f"{count} change{'s' if count != 1 else ''} ({notice.fetched_at})"]
    lines += [describe(event) for event in notice.events[:shown]]
    if count > shown:
        lines.append(f"and {count - shown} more")
    return "\n".join(lines)


def _slack_escape(text: str) -> str:
    """Slack reads ``<...>`` as links and mentions (``<!channel>``): escape as Slack documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(style: str, notice: Notice) -> dict[str, Any]:
    """The JSON body for a receiver of ``style``."""
    text = summary_text(notice)
    if style == "slack":
        return {"text": _slack_escape(text)}
    if style == "discord":
        # no mention in a scraped title ("@everyone") may ping anyone
        return {"content": shorten(text, DISCORD_LIMIT), "allowed_mentions": {"parse": []}}
    return {
        "scholar_id": notice.scholar_id,
        "name": notice.name,
        "date": notice.fetched_at,
        "profile": PROFILE_URL + notice.scholar_id,
        "summary": text,
        "events_total": len(notice.events),
        "events": [event_as_dict(event) for event in notice.events[:MAX_EVENTS]],
    }


@dataclass(frozen=True)
class Delivery:
    """How one notice went to one target: ``detail`` says what happened, without the URL."""

    target: str
    delivered: bool
    attempts: int
    detail: str


class _Retry(Exception):
    """A failure worth another try (5xx, 429, timeout, connection)."""


class WebhookNotifier:
    """Posts notices to the webhooks of one run, within its ``deadline``.

    ``backoff`` is the first wait between tries (doubled each time); 0 in tests.
    """

    def __init__(self, urls: Sequence[str], deadline: Deadline, *, attempts: int = 3,
                 backoff: float = 1.0, timeout: float = 10.0) -> None:
        self.urls = list(urls)
        self.deadline = deadline
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.timeout = timeout
        self._request_ends = time.monotonic()
        self._backend = BoundedBackend(self._seconds_left, deadline.cancellation)
        self._transport = bounded_transport(None, self._backend)  # never through --proxy

    def __enter__(self) -> WebhookNotifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()
        self._backend.close()

    def _seconds_left(self) -> float:
        return min(self._request_ends - time.monotonic(), self.deadline.remaining())

    def send(self, notice: Notice) -> list[Delivery]:
        """One POST (plus retries) per URL; none when the notice has no events."""
        if not notice.events:
            return []
        deliveries = []
        for number, url in enumerate(self.urls, 1):
            delivery = self._deliver(target_name(number, url), url, notice)
            log.info("%s: %s", delivery.target, delivery.detail)
            deliveries.append(delivery)
        return deliveries

    def _deliver(self, target: str, url: str, notice: Notice) -> Delivery:
        body = json.dumps(webhook_payload(webhook_style(url), notice),
                          ensure_ascii=False).encode("utf-8")
        detail = "no time left in the run's deadline"
        for attempt in range(1, self.attempts + 1):
            if self.deadline.remaining() <= 0:
                return Delivery(target, False, attempt - 1, detail)
            try:
                status = self._post(url, body, notice.idempotency_key)
            except _Retry as failure:
                detail = str(failure)
            else:
                if 200 <= status < 300:
                    return Delivery(target, True, attempt, f"delivered (HTTP {status})")
                return Delivery(target, False, attempt, f"refused: HTTP {status}")
            if attempt < self.attempts:
                wait = self.backoff * 2 ** (attempt - 1)
                if wait >= self.deadline.remaining():
                    return Delivery(target, False, attempt,
                                    f"{detail}; no time left in the run's deadline to retry")
                self.deadline.sleep(wait)
        suffix = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return Delivery(target, False, self.attempts, detail + suffix)

    def _post(self, url: str, body: bytes, key: str) -> int:
        """One POST; its status, or ``_Retry``. The answer's body is never read."""
        self._request_ends = time.monotonic() + self.timeout
        request = httpx.Request(
            "POST", url, content=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": key,
                     "User-Agent": f"scholar-stats/{__version__}"},
            extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"),
                                                 self.timeout)},
        )
        try:
            response = self._transport.handle_request(request)
        except httpx.TimeoutException:
            raise _Retry("no answer in time") from None
        except httpx.TransportError as exc:  # the type only: a message may quote the URL
            raise _Retry(f"connection failed ({type(exc).__name__})") from None
        response.close()
        if response.status_code in _RETRY_STATUSES:
            raise _Retry(f"HTTP {response.status_code}")
        return response.status_code
