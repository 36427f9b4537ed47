"""Secrets kept out of everything scholar-stats prints, logs and writes.

The run's secrets (the SerpApi key, the GitHub and admin tokens, each webhook URL, the password
of each URL among the settings) are remembered once per process (:func:`remember`), and
:func:`redact` replaces each of them, the userinfo of any URL (``scheme://user:pass@``) and the
value of any ``api_key=`` parameter by ``***``. It is the one mechanism:

* :func:`install`, called where logging is configured, makes every log record redact itself
  (its message, its traceback, its stack), whichever logger made it (ours, httpx, httpcore,
  SQLAlchemy, uvicorn, APScheduler, asyncio) and whichever handler or formatter prints it; and
  the tracebacks Python prints itself (``SCHOLAR_STATS_DEBUG``, a thread's) are redacted too;
* the command line's error lines go through :func:`redact`;
* what a source answers goes through :func:`scrub` before anything is written.

Why the record factory and not a filter on the root's handler: uvicorn and others bring their
own handlers, which such a filter never sees, while every record is made by the factory.

A secret shorter than ``MIN_LENGTH`` characters is masked only where a pattern finds it (a
URL's userinfo): searched for as plain text it would mask ordinary words. Only the standard
library and ``config`` are imported: the CLI imports this before any command module.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

from scholar_stats import config

MASK = "***"
MIN_LENGTH = 4
# the userinfo of a URL (up to its last "@" before the path), and an api_key parameter's value:
# what the group before it matched is kept
_PATTERNS = r"(://)[^\s/?#]*@|([?&]api_key=)[^&#\s'\"\\]+"
# variables git and gh read a token from (``GITHUB_TOKEN`` is also a declared setting)
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # replaced, never changed in place: readers need no lock
_pattern = re.compile(_PATTERNS)


def _spellings(secret: str) -> set[str]:
    """``secret`` as it may be written: raw, percent-encoded or decoded, escaped in JSON or in
    a bytes repr (httpcore logs headers as bytes)."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), unquote(secret),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             repr(secret.encode())[2:-1]}
    return {form for form in forms if len(form) >= MIN_LENGTH}


def remember(secrets: Iterable[str | None]) -> None:
    """Add ``secrets`` to this process's: from now on :func:`redact` masks them."""
    global _secrets, _pattern
    with _lock:
        known = set(_secrets)
        for secret in secrets:
            if secret:
                known.update(_spellings(secret))
        if len(known) == len(_secrets):
            return
        ordered = sorted(known, key=len, reverse=True)  # the longest first: a URL, then its path
        _pattern = re.compile("|".join([_PATTERNS, *map(re.escape, ordered)]))
        _secrets = tuple(ordered)


def known() -> tuple[str, ...]:
    """The secrets remembered so far (for a worker process to remember them too)."""
    return _secrets


def redact(text: str) -> str:
    """``text`` with every known secret, URL userinfo and ``api_key=`` value as ``***``."""
    if not _may_hold(text):
        return text
    return _pattern.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1) + MASK + "@"
    return (match.group(2) or "") + MASK


def _may_hold(text: str) -> bool:
    """Whether ``text`` may hold something to mask: plain searches, much faster than the
    pattern on a large text (a 50,000-publication record)."""
    return ("://" in text and "@" in text) or "api_key=" in text or any(
        secret in text for secret in _secrets)


def url_secrets(text: str, whole: bool = False) -> list[str]:
    """What in a URL is secret: its password (and, ``whole``, the URL itself and its path and
    query, as for a webhook). Not a URL: nothing, or with ``whole`` the text itself."""
    try:
        parts = urlsplit(text.strip())
        password = parts.password
    except ValueError:
        return [text] if whole else []
    found = [password] if password else []
    if whole:
        found.append(text.strip())
        if parts.netloc:
            found.append(parts._replace(scheme="", netloc="").geturl())
    return found


def settings_secrets(values: Mapping[str, Any],
                     environ: Mapping[str, str] | None = None) -> list[str]:
    """The secrets among the settings: the value of each one declared secret and the password
    of each URL, whether ``values`` holds it (a command's resolved settings: name → value) or
    only its variable does (read raw here: the command may not read it), and the tokens git
    reads."""
    environ = os.environ if environ is None else environ
    found = [environ.get(name) or "" for name in TOKEN_VARIABLES]
    for setting in config.SETTINGS:
        value = values.get(setting.name)
        raw = environ.get(setting.variable) or ""
        items = [*(value if isinstance(value, (list, tuple)) else [value]),
                 raw, *re.split(r"[\s,]+", raw)]
        for item in items:
            if isinstance(item, str) and item:
                found.extend(url_secrets(item, whole=setting.secret))
    return found


def argv_secrets(argv: Iterable[str]) -> list[str]:
    """Secrets on a command line not yet parsed (an argparse error echoes its arguments): the
    value of each secret flag (``--notify URL``, ``--notify=URL``, or an abbreviation), and the
    password of each URL."""
    flags = [s.flag for s in config.SETTINGS if s.secret and s.flag]
    found: list[str] = []
    secret_next = False
    for token in argv:
        name, equals, value = token.partition("=")
        if secret_next:
            found.extend(url_secrets(token, whole=True))
        secret_next = False
        if name.startswith("--") and len(name) > 2 and any(f.startswith(name) for f in flags):
            if equals:
                found.extend(url_secrets(value, whole=True))
            else:
                secret_next = True
        for part in token.replace("=", ",").split(","):
            found.extend(url_secrets(part))
    return found


class RedactedRecord(logging.LogRecord):
    """A log record that never holds a secret: its message, its text arguments (a formatter
    may read them itself, as uvicorn's access log does), traceback and stack redacted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.args, tuple):
            self.args = tuple(redact(a) if isinstance(a, str) else a for a in self.args)
        elif isinstance(self.args, Mapping):
            self.args = {k: redact(v) if isinstance(v, str) else v for k, v in self.args.items()}

    def getMessage(self) -> str:
        return redact(super().getMessage())

    @property
    def exc_text(self) -> str | None:
        return self._exc_text

    @exc_text.setter
    def exc_text(self, text: str | None) -> None:
        self._exc_text = redact(text) if text else text

    @property
    def stack_info(self) -> str | None:
        return self._stack_info

    @stack_info.setter
    def stack_info(self, text: str | None) -> None:
        self._stack_info = redact(text) if text else text


def _print_redacted(exc_type: type[BaseException], exc: BaseException | None, tb: Any) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    _print_redacted(args.exc_type, args.exc_value, args.exc_traceback)


def install(secrets: Iterable[str | None] = ()) -> None:
    """Remember ``secrets``, and redact every log record and every traceback Python prints."""
    remember(secrets)
    logging.setLogRecordFactory(RedactedRecord)
    if sys.excepthook is sys.__excepthook__:  # a hook someone else set (pytest's) stays
        sys.excepthook = _print_redacted
    if threading.excepthook is threading.__excepthook__:
        threading.excepthook = _thread_hook


_Error = TypeVar("_Error", bound=Exception)


def redacted(exc: _Error) -> _Error:
    """``exc``, or one of its type whose message has the secrets it held masked."""
    text = str(exc)
    clean = redact(text)
    return exc if clean == text else type(exc)(clean)


def scrub(value: Any, where: str = "") -> tuple[Any, list[str]]:
    """``value`` (what a source answered: dicts, lists, texts, numbers) with every secret in
    its texts replaced by ``***``, and where one was found (``name``, ``publications.X.bib``).
    A secret in a key (a publication id) is a ``ValueError`` naming where: an id cannot be
    mended."""
    if not where and not _may_hold(json.dumps(value, ensure_ascii=False, default=str)):
        return value, []  # the usual case, in one search
    if isinstance(value, str):
        clean = redact(value)
        return clean, [where] if clean != value else []
    found: list[str] = []
    if isinstance(value, list):
        items = []
        for number, item in enumerate(value):
            item, inside = scrub(item, f"{where}[{number}]")
            items.append(item)
            found.extend(inside)
        return items, found
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            label = redact(str(key))
            place = f"{where}.{label}" if where else label
            if label != str(key):
                raise ValueError(f"the key of {place}")
            result[key], inside = scrub(item, place)
            found.extend(inside)
        return result, found
    return value, found
