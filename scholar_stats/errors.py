"""Every failure scholar-stats reports, and the exit code it ends with.

Each error class says, once, its exit code and how people are told of it: ``brief`` in the
``--help`` epilog, ``meaning`` and ``remedy`` in the table of docs/exit-codes.md. Both are made
from :func:`exit_codes` (the page by docs/gen_reference.py; tests/project/test_exit_codes.py).
``FetchError`` groups the failures of one author's fetch and has no code of its own.

Each error's ``str()`` is one line meant for a person: what happened and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0


@dataclass(frozen=True)
class ExitCode:
    """One exit code as ``--help`` (``brief``) and the docs (``meaning``, ``remedy``) say it."""

    code: int
    brief: str
    meaning: str
    remedy: str


class ScholarStatsError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with, ``kind`` names it in status files."""

    exit_code = 1
    kind = "internal"
    brief = "internal error"
    meaning = "internal error"
    remedy = "report it (set `SCHOLAR_STATS_DEBUG=1` for a traceback)"


class UsageError(ScholarStatsError):
    exit_code = 2
    kind = "usage"
    brief = "usage"
    meaning = ("usage error, a malformed Scholar id or profile URL, a `--db` path whose folder "
               "does not exist, or a command whose extra is not installed; or SerpApi refused "
               "`SERPAPI_API_KEY` (the message names the variable, never the key)")
    remedy = "fix the command line or the key, or install the extra the message names"


class FetchError(ScholarStatsError):
    """A fetch that produced no data; nothing already stored is touched."""

    kind = "fetch"


class Blocked(FetchError):
    exit_code = 3
    kind = "blocked"
    brief = "blocked by Scholar"
    meaning = ("blocked by Scholar: 403, 429 after retries, a CAPTCHA page, a redirect to "
               "`/sorry/`; or SerpApi: the account has run out of searches, its hourly limit "
               "(429), or `--serpapi-monthly-limit` is reached")
    remedy = ("try later, from another network, with `--proxy`, or with SerpApi (see \"When "
              "Scholar blocks you\")")


class AuthorNotFound(FetchError):
    exit_code = 4
    kind = "not_found"
    brief = "author not found"
    meaning = ("author not found: 404, or the Google sign-in page Scholar serves for unknown "
               "ids, or SerpApi's \"Google hasn't returned any results\"")
    remedy = "check the id"


class PageNotUnderstood(FetchError):
    exit_code = 5
    kind = "not_understood"
    brief = "page not understood"
    meaning = ("page not understood: no metrics table, truncated HTML, a layout change, a "
               "SerpApi answer that is not JSON or misses a part (the message names the part); "
               "numbers out of range from either source")
    remedy = "retry later; report it if it persists"


class NetworkFailure(FetchError):
    exit_code = 6
    kind = "network"
    brief = "network failure or deadline"
    meaning = "network failure after retries, or the deadline passed"
    remedy = "check the network, raise `--deadline`"


class Implausible(ScholarStatsError):
    exit_code = 7
    kind = "implausible"
    brief = "implausible data refused"
    meaning = "refused: the new data is implausible next to the data already in `--out`"
    remedy = "check the profile; `--force` writes anyway"


class PublishFailed(ScholarStatsError):
    exit_code = 8
    kind = "publish"
    brief = "push failed"
    meaning = ("`publish`: the push was refused, still rejected after retries, or the remote "
               "could not be reached")
    remedy = "see the message"


class OutputNotWritable(ScholarStatsError):
    """A local write failed (no space, read-only, a file where a folder should be); the message
    names the path and the cause. Files already written stay as they were."""

    exit_code = 9
    kind = "output"
    brief = "cannot write the output"
    meaning = ("cannot write the output: a full disk, a read-only folder, `--out` naming a file "
               "(the message names the path and the cause)")
    remedy = "free space or fix the path; files already there are unchanged"


class StoreUnavailable(ScholarStatsError):
    """The database could not be reached or stayed locked; nothing was changed."""

    exit_code = 10
    kind = "store"
    brief = "database unreachable"
    meaning = "the database cannot be reached (down, refused, locked too long)"
    remedy = "check `--db` and the server"


class CannotListen(ScholarStatsError):
    """``serve`` could not bind its address (port taken, not permitted)."""

    exit_code = 11
    kind = "listen"
    brief = "cannot listen"
    meaning = "`serve` cannot listen on `--host`/`--port` (taken, not permitted)"
    remedy = "pick another port"


class AuthorBusy(ScholarStatsError):
    """Another live process holds the author's lease; the message says who and until when."""

    exit_code = 12
    kind = "busy"
    brief = "author busy in another process"
    meaning = ("`refresh ID`: another live process is fetching this author (the message says "
               "which, and until when)")
    remedy = "wait, or stop the other process"


def exit_codes() -> list[ExitCode]:
    """Every exit code, in order: 0, then each error class of this module that sets a code of
    its own (``FetchError`` inherits its code; other modules' errors reuse these codes)."""
    found, pending = [], [ScholarStatsError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == __name__ and "exit_code" in vars(cls):
            found.append(ExitCode(cls.exit_code, cls.brief, cls.meaning, cls.remedy))
        pending += cls.__subclasses__()
    return [ExitCode(EXIT_OK, "ok", "ok", ""), *sorted(found, key=lambda row: row.code)]
