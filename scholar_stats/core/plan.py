"""When each tracked author is due, how long a block pauses everything, how many requests a
fetch will take and when data turns stale. Pure functions.

The refresh engine decides with them and the store records what it decided (so a restart
continues the plan); export and the service judge staleness with them. One policy:

- every author has a stable offset inside its interval (a hash of its id), so a department of
  200 people is spread over the day instead of fired at the same minute;
- after an attempt the author is due at the slot nearest to ``attempt + interval`` (success,
  page not understood, implausible), after ``not_found_retry`` (not found: weekly), or after
  ``network_retry`` (a network failure is worth a sooner retry);
- a block (exit 3) is about the IP, not the author: it pauses all fetching, 30 min doubling up
  to 24 h; the author stays due and goes first when the pause ends; a success ends the backoff;
- data is stale once its last success is older than the max age (or there is none).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from scholar_stats.errors import AuthorNotFound, Blocked, NetworkFailure, UsageError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DAY = 86400.0
# The longest refresh interval (``authors add --interval``, ``POST /authors``): a year. Longer
# is not a schedule, and far longer (1e300 s) overflows every date computed from it.
MAX_INTERVAL = 365 * DAY
PAGE_SIZE = 100  # publications per profile page
# Data older than this is stale (grey badges): the stale_age setting's default (config.py), and
# the age fetch judges its kept data by, as it has no such setting.
STALE_AGE = 7 * DAY


@dataclass(frozen=True)
class Policy:
    """Every interval of the plan, injectable so tests can use seconds instead of days."""

    not_found_retry: float = 7 * DAY
    network_retry: float = 3600.0
    backoff_initial: float = 1800.0
    backoff_max: float = DAY
    attempt_retention: float = 90 * DAY


def check_interval(seconds: float) -> float:
    """``seconds`` if it is a refresh interval: more than 0 and at most ``MAX_INTERVAL``."""
    if not 0 < seconds <= MAX_INTERVAL:  # NaN fails too
        raise UsageError(
            f"the refresh interval must be more than 0 and at most {MAX_INTERVAL:g} seconds "
            f"(365 days), got {seconds:g}"
        )
    return seconds


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def stable_offset(scholar_id: str, interval_seconds: float) -> float:
    """Seconds into each interval at which this author's slot falls; the same on every run.

    Whole milliseconds, like the store's timestamps, so a stored slot compares equal.
    """
    digest = int.from_bytes(hashlib.sha256(scholar_id.encode()).digest()[:8], "big")
    return (digest % max(1, round(interval_seconds * 1000))) / 1000


def nearest_slot(scholar_id: str, interval_seconds: float, target: datetime) -> datetime:
    """The author's slot closest to ``target`` (slots are offset + k * interval since 1970)."""
    interval_ms = max(1, round(interval_seconds * 1000))
    offset_ms = round(stable_offset(scholar_id, interval_seconds) * 1000)
    elapsed_ms = (target - EPOCH) // timedelta(milliseconds=1) - offset_ms
    k = math.floor(elapsed_ms / interval_ms + 0.5)
    return EPOCH + timedelta(milliseconds=offset_ms + k * interval_ms)


def next_due_after(
    scholar_id: str, interval_seconds: float, exit_code: int, at: datetime, policy: Policy
) -> datetime | None:
    """When to try this author again after an attempt ending with ``exit_code`` at ``at``.

    ``None`` means "unchanged": a blocked author stays due and waits for the global pause.
    """
    if exit_code == Blocked.exit_code:
        return None
    if exit_code == AuthorNotFound.exit_code:
        return at + timedelta(seconds=max(policy.not_found_retry, interval_seconds))
    if exit_code == NetworkFailure.exit_code:
        return at + timedelta(seconds=min(policy.network_retry, interval_seconds))
    return nearest_slot(scholar_id, interval_seconds, at + timedelta(seconds=interval_seconds))


def backoff_seconds(level: int, policy: Policy) -> float:
    """Pause after the ``level``-th consecutive block (0-based): initial * 2**level, capped."""
    return min(policy.backoff_initial * 2.0 ** min(level, 32), policy.backoff_max)


@dataclass(frozen=True)
class Pause:
    """All fetching stops until ``until`` after ``level`` + 1 consecutive blocks."""

    until: datetime
    level: int


def pause_after(
    pause: Pause | None, exit_codes: Iterable[int], at: datetime, policy: Policy
) -> Pause | None:
    """The pause after attempts ending with ``exit_codes`` (in order) at ``at``: each block
    (exit 3) pauses one level longer, a success (exit 0) ends the backoff, anything else leaves
    it as it was."""
    for code in exit_codes:
        if code == Blocked.exit_code:
            level = pause.level + 1 if pause is not None else 0
            pause = Pause(at + timedelta(seconds=backoff_seconds(level, policy)), level)
        elif code == 0:
            pause = None
    return pause


def expected_requests(publications: int | None) -> int:
    """Pages a profile with ``publications`` needs (1 for an author never fetched)."""
    return max(1, math.ceil((publications or 0) / PAGE_SIZE))


def stale_at(last_success: datetime | None, max_age_seconds: float) -> datetime | None:
    """When data last fetched at ``last_success`` turns stale; ``None`` when there is none
    (stale already)."""
    if last_success is None:
        return None
    try:
        return last_success + timedelta(seconds=max_age_seconds)
    except OverflowError:  # a max age of centuries: never stale
        return datetime.max.replace(tzinfo=timezone.utc)


def is_stale(last_success: datetime | None, now: datetime, max_age_seconds: float) -> bool:
    """Stale when there is no data, or it is older than ``max_age_seconds`` at ``now``."""
    turns = stale_at(last_success, max_age_seconds)
    return turns is None or now > turns
