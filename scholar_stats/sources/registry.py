"""The one registry of sources: the only place the program lists them. ``--source`` takes
``auto`` or a registered name; everything else asks the ``Source`` (``source.py``) it gets here.

A new source is a module with a ``Source`` and one ``register`` line below; a test (or an
embedding program) may ``register`` one of its own and ``unregister`` it after. The order is
the order of registration: ``--source auto`` asks the sources in it, fallbacks last.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from scholar_stats.sources.scholar.source import SCHOLAR
from scholar_stats.sources.serpapi.source import SERPAPI
from scholar_stats.sources.source import Source

AUTO = "auto"  # every source that can fetch, in order (``choice.SourceSettings.order``)
NAME_LENGTH = 16  # the longest name the store keeps (its ``source`` columns, store/schema.py)

_SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Add ``source`` under its name (lower case, not ``auto``, not taken); returns it."""
    name = source.name
    if not re.fullmatch(f"[a-z][a-z0-9_]{{0,{NAME_LENGTH - 1}}}", name) or name == AUTO:
        raise ValueError(f"a source's name is a lower-case word of at most {NAME_LENGTH} "
                         f"characters other than {AUTO!r}: {name!r}")
    if name in _SOURCES:
        raise ValueError(f"a source named {name!r} is registered already")
    if source.origin and any(other.origin for other in _SOURCES.values()):
        raise ValueError("one source only is where the profiles are (origin)")
    _SOURCES[name] = source
    return source


def unregister(name: str) -> None:
    """Remove the source named ``name`` (a test's, when it is done); never the origin."""
    source = _SOURCES.get(name)
    if source is None or source.origin:
        raise ValueError(f"no source {name!r} that can be removed is registered")
    del _SOURCES[name]


@contextmanager
def registered(source: Source) -> Iterator[Source]:
    """``source`` registered for the ``with`` block only."""
    register(source)
    try:
        yield source
    finally:
        unregister(source.name)


def sources() -> tuple[Source, ...]:
    """Every registered source, in order."""
    return tuple(_SOURCES.values())


def choices() -> tuple[str, ...]:
    """What ``--source`` accepts: ``auto``, then every source's name."""
    return (AUTO, *_SOURCES)


def get(name: str | None) -> Source:
    """The source named ``name``; ``None`` (a status that names none) is the origin's."""
    if name is None:
        return origin()
    return _SOURCES[name]


def origin() -> Source:
    """The source the profiles are on (Scholar): the others fetch copies of its pages."""
    return next(source for source in _SOURCES.values() if source.origin)


def noted_titles() -> dict[str, str]:
    """The sources whose data the job summary notes ("ok (from SerpApi)"), name -> title:
    every source but the origin."""
    return {source.name: source.title for source in _SOURCES.values() if not source.origin}


register(SCHOLAR)
register(SERPAPI)
