"""The store's value types (frozen dataclasses) and the small conversions between rows and them."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from scholar_stats.core.changes import ChangeEvent
from scholar_stats.core.model import AuthorData, FetchStatus
from scholar_stats.core.plan import Pause


@dataclass(frozen=True)
class TrackedAuthor:
    """A tracked author; ``state`` is "new" until the first attempt, then "ok" or an error kind."""

    scholar_id: str
    added_at: datetime
    interval_seconds: float
    state: str
    last_attempt: datetime | None
    last_success: datetime | None
    next_due: datetime
    last_outcome: str | None
    last_exit_code: int | None
    source: str | None = None  # the source of the stored profile (list_authors reads it)


@dataclass(frozen=True)
class Attempt:
    scholar_id: str
    at: datetime
    outcome: str
    exit_code: int
    error_kind: str | None
    message: str
    requests: int
    duration_seconds: float
    source: str | None = None  # a source's name (sources/registry.py); none for an internal error


@dataclass(frozen=True)
class Lease:
    """Who is fetching an author (``<pid>@<host>/<pid namespace>``), and until when at the
    latest: then anyone may take over, as they may at once when the holder has died."""

    holder: str
    until: datetime

    @property
    def who(self) -> str:
        """"pid 1234 on host build-7", for messages."""
        pid, _, machine = self.holder.partition("@")
        return f"pid {pid} on host {machine.split('/')[0]}"


def this_process() -> str:
    """This process as a lease holder: pid, host name and (on Linux) pid namespace, so two
    containers that share a host name are not mistaken for one machine."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        namespace = ""
    return f"{os.getpid()}@{socket.gethostname()[:200]}/{namespace}"


def holder_is_gone(holder: str) -> bool:
    """True only when ``holder`` is a process of this machine that no longer exists. Another
    machine's process cannot be checked: its lease ends at its expiry."""
    pid_text, _, machine = holder.partition("@")
    here = this_process().partition("@")[2]
    if os.name != "posix" or machine != here or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it exists, as another user
        return False
    return False


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt to record, as its caller decided it: the status (the attempt row and
    status.json), the profile when it succeeded, and when the author is next due (``None``:
    unchanged). The store stores it; it decides nothing."""

    scholar_id: str
    status: FetchStatus
    data: AuthorData | None = None
    next_due: datetime | None = None
    events: tuple[ChangeEvent, ...] = ()  # what this success changed (core.changes)


@dataclass(frozen=True)
class DeliveryRow:
    """A notification as recorded: to whom (never the URL), whether it arrived, why not."""

    scholar_id: str
    at: datetime
    target: str
    delivered: bool
    attempts: int
    detail: str


KEEP: Literal["keep"] = "keep"  # ``record_attempts(pause=KEEP)``: the stored pause stays as it is
PauseChange = Pause | None | Literal["keep"]


def author_from_row(row: Any) -> TrackedAuthor:
    return TrackedAuthor(
        scholar_id=row.scholar_id,
        added_at=row.added_at,
        interval_seconds=row.interval_seconds,
        state=row.state,
        last_attempt=row.last_attempt_at,
        last_success=row.last_success_at,
        next_due=row.next_due_at,
        last_outcome=row.last_outcome,
        last_exit_code=row.last_exit_code,
        source=getattr(row, "source", None),
    )


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def encode_gs_data(gs_data: dict[str, Any]) -> str:
    """Compact JSON; ``render`` re-encodes the parsed record, so the files are unaffected."""
    return json.dumps(gs_data, ensure_ascii=False, separators=(",", ":"), check_circular=False)
