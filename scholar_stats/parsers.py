"""The parsers every setting is read with, whether it comes from a flag or from its variable:
pure functions that return the value or raise ``ValueError`` with a message meant for a person
("expected ..., got ..."); the caller names the flag or variable. Standard library only, as
``--help`` imports this module.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from urllib.parse import urlsplit

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def parse_bool(text: str) -> bool:
    """true/false, 1/0, yes/no, on/off in any case: anything else is a mistake, not "true"."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"expected true/false, 1/0, yes/no or on/off, got {text!r}")


def parse_seconds(text: str) -> float:
    """A finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"expected a finite number >= 0, got {text!r}")
    return value


def parse_count(text: str) -> int:
    """A whole number >= 1 (workers, attempts, requests per hour)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def parse_size(text: str) -> int:
    """A whole number >= 0 (seconds of max-age, items, bytes); ``1e6`` is read as 1000000."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"expected a whole number >= 0, got {text!r}")
    return int(value)


def parse_interval(text: str) -> float:
    """A refresh interval: more than 0 s, at most ``plan.MAX_INTERVAL`` (as ``POST /authors``)."""
    from scholar_stats.core.plan import MAX_INTERVAL

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_INTERVAL:  # NaN fails too
        raise ValueError(
            f"expected seconds, more than 0 and at most {MAX_INTERVAL:g} (365 days), got {text!r}"
        )
    return value


def parse_port(text: str) -> int:
    """A TCP port 1-65535, or 0 for "let the system pick one"."""
    if not text.strip().isdigit() or int(text) > 65535:
        raise ValueError(f"expected a port number 1-65535 (0 picks a free one), got {text!r}")
    return int(text)


def parse_trusted_proxies(text: str) -> tuple[str, ...]:
    """IP addresses and networks (``10.0.0.0/8``), separated by commas, or ``*`` for any."""
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    if items == ("*",):
        return items
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"expected IP addresses or networks separated by commas, or *, "
                             f"got {item[:60]!r}") from None
    if not items:
        raise ValueError("expected IP addresses or networks separated by commas, or *")
    return items


def parse_source(text: str) -> str:
    """Where profiles come from: ``auto`` or a source's name, lower-cased. Whether a source of
    that name exists is the sources' own question (``sources.choice.SourceSettings`` asks the
    registry), so this layer needs no knowledge of them."""
    word = text.strip().lower()
    if not word:
        raise ValueError("expected auto or a source's name, got ''")
    return word


def parse_choice(text: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``, in any case."""
    word = text.strip().lower()
    if word not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
    return word


_WORKFLOW = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.ya?ml|[1-9][0-9]*")


def parse_workflow(text: str) -> str:
    """A workflow of the repository, as GitHub's API names it: its file name in
    .github/workflows (``deploy.yml``; that folder may be written before it) or its number."""
    name = text.strip().removeprefix(".github/workflows/")
    if not _WORKFLOW.fullmatch(name):
        raise ValueError("expected the file name of a workflow in .github/workflows (such as "
                         f"deploy.yml) or its numeric id, got {text!r}")
    return name


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def parse_proxy_pool(text: str) -> tuple[str, ...]:
    """Egress addresses for Scholar: proxy URLs and ``direct`` (no proxy), comma-separated,
    in the order they are tried; repeats dropped.

    A comma inside a password must be percent-encoded (``%2C``, as any URL writes it; the
    proxy gets the decoded password): a raw one splits the URL, and the message about the
    pieces shows none of them, as any piece may be part of the password."""
    entries = [part.strip() for part in text.split(",") if part.strip()]
    if not entries:
        raise ValueError("expected proxy URLs or 'direct', separated by commas")
    for number, entry in enumerate(entries, 1):
        if entry.lower() != "direct" and url_problem(entry, PROXY_SCHEMES):
            raise ValueError(
                f"proxy #{number} of {len(entries)} is not a usable URL (not shown: it may "
                f"hold a password): expected {', '.join(PROXY_SCHEMES[:-1])} or "
                f"{PROXY_SCHEMES[-1]}://host:port (user:password@ before the host), or 'direct'; "
                "a comma in a password is written %2C")
    return tuple(dict.fromkeys("direct" if entry.lower() == "direct" else entry
                               for entry in entries))


# "USER:PASSWORD@HOST" would be masked as a URL's credentials wherever the message is printed
DB_FORMS = ("a file path (SQLite) or a database URL: sqlite:///PATH or "
            "postgresql+psycopg://HOST/DATABASE (USER:PASSWORD@ before the host)")
_SCHEME_WITHOUT_SLASHES = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")  # sqlite:x.db
_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]|\\\\")  # C:\x.db, C:/x.db, \\server\share


def db_path(text: str, windows: bool = os.name == "nt") -> str | None:
    """The SQLite file ``--db`` names when it is a path, ``None`` when it is a URL (the store
    parses that); ``ValueError`` for what is neither: a URL missing its ``//``, a Windows path
    elsewhere, a path with ``?`` (SQLite's options belong in the URL form)."""
    if "://" in text:  # a URL, or a broken one: never a file of that name
        return None
    if not text.strip():
        raise ValueError(f"the database is empty: expected {DB_FORMS}")
    if _WINDOWS_PATH.match(text):
        if windows:
            return text
        raise ValueError(f"the database path {text[:80]} is a Windows path: on this system, "
                         "expected one like ~/scholar-stats.db, or a database URL")
    if _SCHEME_WITHOUT_SLASHES.match(text):  # not shown: a URL may hold a password
        raise ValueError("the database URL cannot be parsed (no // after its scheme; not shown: "
                         f"it may hold a password): expected {DB_FORMS}")
    if "?" in text:
        raise ValueError(f"the database path {text[:80]!r} has a '?': SQLite's options go in the "
                         "URL form, sqlite:///PATH?...")
    return text


def parse_scholar_url(text: str) -> str:
    """Scholar's base URL (or a mirror's, or a test server's): http or https, with a host."""
    problem = url_problem(text, ("http", "https"))
    if problem:
        raise ValueError(problem)
    return text


def parse_serpapi_url(text: str) -> str:
    """SerpApi's base URL (or a test server's): http or https, with a host."""
    return parse_scholar_url(text)


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with ``url`` (credentials redacted), or ``None`` when it is usable."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in schemes or not parts.hostname:
        return (f"expected a URL like {schemes[0]}://host:port (schemes: {', '.join(schemes)}), "
                f"got {redact_url(url)!r}")
    return None


def redact_url(url: str) -> str:
    """``socks5://user:secret@host:1080`` → ``socks5://***@host:1080``: safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()
