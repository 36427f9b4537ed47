"""The run's deadline as a wall-clock total, and a cancellation another thread can fire.

Every socket wait (connect, proxy handshake, read, write), retry and sleep asks the ``Deadline``
how long it may still take, so a server that trickles one byte at a time cannot stretch a run.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

from scholar_stats.errors import (
    NetworkFailure,
)


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
    with contextlib.suppress(OSError):  # already closed or never connected: nothing waits on it
        sock.shutdown(socket.SHUT_RDWR)


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
