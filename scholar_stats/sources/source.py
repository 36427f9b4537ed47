"""What a source of profiles is to the rest of the program: one ``Source`` object, kept in the
registry (``registry.py``), that the commands, the engine, the summary and the metrics ask
instead of comparing names.

A ``Source`` says what it is (its name, its title, its role under ``--source auto``), what it
needs from the settings, what it costs, and opens ``Fetcher``s: the source ready to fetch
within one run's deadline. Light to import (the HTTP clients are imported when a source is
opened): ``--source`` is checked against the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from scholar_stats.settings import DIRECT

if TYPE_CHECKING:
    from scholar_stats.core.model import AuthorData, FetchStatus, Metrics
    from scholar_stats.core.validate import Intake
    from scholar_stats.net.deadline import Deadline
    from scholar_stats.settings import FetchSettings
    from scholar_stats.store.database import Store


@dataclass(frozen=True)
class Opening:
    """What a source is opened with for one run: the fetch settings and the run's deadline,
    its own options (``Source.options``), and its budget as the run counts it (``None``: not
    counted). A source asked per address (``per_egress``) is opened once per ``egress``, with
    that address's hourly budget."""

    settings: FetchSettings
    deadline: Deadline
    options: Any = None
    budget: Any = None
    egress: str = DIRECT  # a pool entry (``settings.egresses``): a proxy URL or "direct"


class Fetcher(Protocol):
    """A source opened for a run: it fetches one ``AuthorData`` within the run's deadline,
    counts its HTTP requests, and counts every page it receives in the attempt's ``Intake``."""

    source: Source
    egress: str | None  # the address's key in the store ("" direct); None: not asked per address
    label: str  # the address as a message names it ("direct": none)

    @property
    def requests_made(self) -> int: ...

    def fetch(self, scholar_id: str, now: datetime, previous: Metrics | None,
              intake: Intake) -> AuthorData: ...

    def close(self) -> None: ...


class Budget(Protocol):
    """A source's own budget as the engine counts it in the store (SerpApi's monthly searches):
    what is left, and how a person reads it."""

    def remaining(self) -> int: ...

    def describe(self) -> str: ...


class Ledger(Protocol):
    """What ``fetch`` keeps of a source's cost in each output folder's ``status.json`` (it has no
    store): ``budget`` is handed to the source when it is asked in the run (else ``None``);
    ``begin`` marks an author's start, ``note`` writes what it spent into its status."""

    @property
    def budget(self) -> Any: ...

    def begin(self) -> None: ...

    def note(self, status: FetchStatus, previous: FetchStatus | None) -> FetchStatus: ...


class Source:
    """One place profiles come from. Subclasses set the facts and override what differs; the
    defaults are a free source that needs no settings."""

    name: str = ""  # in status.json, the store, ``--source NAME`` and the metrics' labels
    title: str = ""  # how messages and the job summary name it ("Scholar", "SerpApi")
    # The site the profiles are on (Scholar): a status that names no source is its (files from
    # before the field, internal errors), and the job summary notes every other source's data.
    origin: bool = False
    # Under ``--source auto``, asked after the sources that are not fallbacks: only when the
    # ones before it block, and only when its settings let it fetch (``missing``).
    fallback: bool = False
    # Asked through each egress address (the ``--proxy`` pool) in turn: its requests count
    # against that address's hourly budget (``--requests-per-hour``) and a block pauses the
    # address; a block is about the address, so the run's next authors skip it.
    per_egress: bool = False

    def options(self, args: Any) -> Any:
        """What it reads from a command's resolved settings (``args``); ``None``: nothing."""
        return None

    def check(self, options: Any) -> None:
        """Raise ``UsageError`` when ``options`` cannot be used at all (a malformed URL)."""

    def missing(self, options: Any) -> str | None:
        """Why ``options`` do not let it fetch (``--source NAME`` is then refused with this
        message, and ``auto`` leaves it out); ``None`` when nothing is missing."""
        return None

    def open(self, opening: Opening) -> Fetcher:
        """The source ready to fetch in one run (per address, for ``per_egress``)."""
        raise NotImplementedError

    def ledger(self, options: Any, statuses: Iterable[FetchStatus | None], now: datetime,
               asked: bool) -> Ledger | None:
        """What ``fetch`` counts of its cost in the folders' ``status.json`` files, read from
        their last ``statuses``; ``asked``: it is one of the run's sources. ``None``: nothing
        (a source whose cost is counted per address, or that costs nothing)."""
        return None

    def budget(self, store: Store, options: Any, clock: Any) -> Budget | None:
        """Its own budget counted in the store, shared by every process on it; ``None``:
        nothing beyond the hourly budget of each address (``per_egress``), or free."""
        return None

    def gauges(self, store: Store, now: datetime) -> Mapping[str, tuple[str, float]]:
        """The store's count of what it costs, for ``/metrics``: metric name -> (help, value)."""
        return {}

    def __repr__(self) -> str:
        return f"<source {self.name}>"
