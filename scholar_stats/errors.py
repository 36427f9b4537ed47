"""Every failure scholar-stats reports, and the exit code it ends with.

The tree, with exit codes (the README has the same table)::

    ScholarStatsError                 1  internal error (a bug, or an unexpected state)
    ├── UsageError                    2  bad flags, or a malformed Scholar id
    ├── FetchError                       a fetch of one author that did not produce data
    │   ├── Blocked                   3  403, 429 after retries, a CAPTCHA page, /sorry/
    │   ├── AuthorNotFound            4  404, or the sign-in page served for unknown ids
    │   ├── PageNotUnderstood         5  no metrics table, truncated HTML, a layout change
    │   └── NetworkFailure            6  connection errors or 5xx after retries, deadline passed
    ├── Implausible                   7  new data would drop too far below the data on disk
    ├── PublishFailed                 8  the git push was still rejected after retries
    ├── OutputNotWritable             9  cannot write the output (disk full, read-only, no folder)
    ├── StoreUnavailable             10  the database cannot be reached, or stays locked
    ├── CannotListen                 11  ``serve`` cannot listen on the host and port
    └── AuthorBusy                   12  another live process is fetching this author (its lease)

Each error's ``str()`` is one line meant for a person: what happened and what to do.
"""

from __future__ import annotations

EXIT_OK = 0


class ScholarStatsError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with, ``kind`` names it in status files."""

    exit_code = 1
    kind = "internal"


class UsageError(ScholarStatsError):
    exit_code = 2
    kind = "usage"


class FetchError(ScholarStatsError):
    """A fetch that produced no data; nothing already stored is touched."""

    kind = "fetch"


class Blocked(FetchError):
    exit_code = 3
    kind = "blocked"


class AuthorNotFound(FetchError):
    exit_code = 4
    kind = "not_found"


class PageNotUnderstood(FetchError):
    exit_code = 5
    kind = "not_understood"


class NetworkFailure(FetchError):
    exit_code = 6
    kind = "network"


class Implausible(ScholarStatsError):
    exit_code = 7
    kind = "implausible"


class PublishFailed(ScholarStatsError):
    exit_code = 8
    kind = "publish"


class OutputNotWritable(ScholarStatsError):
    """A local write failed (no space, read-only, a file where a folder should be); the message
    names the path and the cause. Files already written stay as they were."""

    exit_code = 9
    kind = "output"


class StoreUnavailable(ScholarStatsError):
    """The database could not be reached or stayed locked; nothing was changed."""

    exit_code = 10
    kind = "store"


class CannotListen(ScholarStatsError):
    """``serve`` could not bind its address (port taken, not permitted)."""

    exit_code = 11
    kind = "listen"


class AuthorBusy(ScholarStatsError):
    """Another live process holds the author's lease; the message says who and until when."""

    exit_code = 12
    kind = "busy"
