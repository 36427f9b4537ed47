"""Waiting for something to happen, the one way the tests do it."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], what: str | Callable[[], str],
               timeout: float = 30.0) -> None:
    """Return as soon as ``predicate()`` is true; fail naming ``what`` did not happen if it is
    still false after ``timeout`` seconds.

    ``what`` says what is awaited ("the scheduler fetched every author"); a callable is asked
    only on failure, to add the state seen last. The timeout only bounds a test that fails: it
    is never the thing measured, so it is generous.
    """
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout:g} s: {said}")
        time.sleep(0.02)
