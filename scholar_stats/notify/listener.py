"""Notifications for ``refresh``, ``schedule`` and ``serve``: a refresh-engine listener.

Why a thread of its own: the engine calls its listeners in the fetching thread, under its lock;
a slow or hanging webhook must not hold up the next fetch. The listener only queues the notice
(never blocking: a full queue drops it, logged); one sender thread posts them in order, each
within a deadline (the run's, or ``deadline_seconds`` per notice), and records every delivery
in the store (``deliveries``), a failed one logged as a warning that names the webhook by
number and host, never by URL.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import Any

from scholar_stats.core.plan import utcnow
from scholar_stats.net.deadline import Deadline
from scholar_stats.notify.webhook import Notice, WebhookNotifier

log = logging.getLogger(__name__)

GRACE_SECONDS = 1.0  # a send bounded by the deadline may take this much longer to wind down
QUEUE_SIZE = 1000  # notices waiting to be sent; more are dropped (logged), never waited for


class NotifyListener:
    """Call it with each recorded ``RefreshResult``; :meth:`close` sends what is queued."""

    def __init__(self, store: Any, urls: Sequence[str], *, deadline_seconds: float,
                 run_deadline: Deadline | None = None, backoff: float = 1.0,
                 timeout: float = 10.0) -> None:
        self.store = store
        self.urls = list(urls)
        self.deadline_seconds = deadline_seconds
        self.run_deadline = run_deadline
        self.backoff = backoff
        self.timeout = timeout
        self._queue: queue.Queue[Notice | None] = queue.Queue(QUEUE_SIZE)
        self._abandoned = threading.Event()  # closed: the store may be gone, leave it alone
        self._thread = threading.Thread(target=self._run, name="scholar-stats-notify",
                                        daemon=True)
        self._thread.start()

    def __call__(self, result: Any) -> None:
        """Queue the notice of a fetch that changed something; returns at once."""
        if not self.urls or not result.events or result.data is None:
            return
        notice = Notice(result.scholar_id, result.data.name, result.events[0].at,
                        tuple(result.events))
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            log.warning("%s: notification dropped: %d are waiting to be sent",
                        result.scholar_id, QUEUE_SIZE)

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued, waiting at most ``timeout`` seconds (the run's deadline, which
        bounds every send too) and a short grace; what is left then is given up, unrecorded."""
        wait = None if timeout is None else max(0.0, timeout) + GRACE_SECONDS
        try:
            self._queue.put(None, timeout=wait)
        except queue.Full:
            pass
        else:
            self._thread.join(wait)
        if self._thread.is_alive():
            self._abandoned.set()
            log.warning("notifications still being sent were given up at the deadline")

    def _run(self) -> None:
        while True:
            notice = self._queue.get()
            if notice is None or self._abandoned.is_set():
                return
            try:
                self._send(notice)
            except Exception:  # a notification never ends the sender
                log.exception("%s: notifying failed", notice.scholar_id)

    def _send(self, notice: Notice) -> None:
        deadline = self.run_deadline or Deadline(self.deadline_seconds)
        with WebhookNotifier(self.urls, deadline, backoff=self.backoff,
                             timeout=self.timeout) as notifier:
            sent = notifier.send(notice)
        for delivery in sent:
            if delivery.delivered:
                log.info("%s: notified %s", notice.scholar_id, delivery.target)
            else:
                log.warning("%s: notifying %s failed: %s (the data was recorded)",
                            notice.scholar_id, delivery.target, delivery.detail)
        if self._abandoned.is_set():
            return
        self.store.record_deliveries(
            notice.scholar_id, utcnow(),
            [(d.target, d.delivered, d.attempts, d.detail) for d in sent])


def attach(engine: Any, urls: Sequence[str], settings: Any,
           run_deadline: Deadline | None = None) -> NotifyListener | None:
    """A :class:`NotifyListener` on ``engine`` (with the fetch ``settings``' deadline, backoff
    and timeout) when there are webhook ``urls``; else ``None``."""
    if not urls:
        return None
    listener = NotifyListener(engine.store, urls, deadline_seconds=settings.deadline,
                              run_deadline=run_deadline, backoff=settings.backoff,
                              timeout=settings.timeout)
    engine.add_listener(listener)
    return listener
