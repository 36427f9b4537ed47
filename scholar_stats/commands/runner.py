"""Running one command in this process, as the command line (cli.py) and the Action's fetch
both do: its log lines inert, its secrets masked in every line and traceback, and whatever it
raises turned into one line on stderr and an exit code (``internal error``, exit 1, for bugs).

Only the standard library, ``errors``, ``redact``, ``core.text`` and ``extras`` are imported
here: the command's own module (and scholarly, httpx, SQLAlchemy behind it) is imported by
name when it runs, so a missing extra is named in a line instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from scholar_stats import redact
from scholar_stats.core.text import log_safe
from scholar_stats.errors import ScholarStatsError, UsageError
from scholar_stats.extras import install_hint, missing_extra


class InertFormatter(logging.Formatter):
    """Log lines whose message is shown through ``log_safe``: a warning may quote scraped text."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return log_safe(super().formatMessage(record))


def usage_error(message: str) -> int:
    """A usage error as the command line prints it (redacted, one line); its exit code, 2."""
    print(log_safe(f"scholar-stats: error: {redact.redact(message)}"), file=sys.stderr)
    return 2


def run(args: argparse.Namespace, handler: str) -> int:
    """``handler`` (``"module:function"``) run on ``args``, a command's resolved settings (with
    ``command``, ``verbose`` and ``debug``); its exit code. With ``debug`` a bug raises."""
    debug = args.debug
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(InertFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        handlers=[stderr])
    # every log record, traceback and error line from here on is redacted: no secret of the
    # run (see redact.py) is printed by any logger at any level
    redact.install(redact.settings_secrets(vars(args)))
    module_name, func_name = handler.split(":")

    try:
        try:
            function = getattr(importlib.import_module(module_name), func_name)
            return int(function(args))
        except ModuleNotFoundError as exc:  # a lean install: name the extra to install, exit 2
            extra = missing_extra(exc)
            if extra is None:
                raise  # not an extra's package: our bug, reported as one below
            raise UsageError(install_hint(args.command, extra)) from None
    except ScholarStatsError as exc:
        print(log_safe(f"scholar-stats: {redact.redact(str(exc))}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("scholar-stats: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(log_safe(
            f"scholar-stats: internal error: {type(exc).__name__}: {redact.redact(str(exc))} "
            "(set SCHOLAR_STATS_DEBUG=1 for a traceback, and please report it)"),
            file=sys.stderr,
        )
        return 1
