"""Which sources a fetch asks, from ``--source`` and each source's own settings.

``--source NAME`` asks that source alone (refused, exit 2, when its settings lack what it needs:
SerpApi without ``SERPAPI_API_KEY``); ``--source auto`` asks every source that can fetch, in the
registry's order, fallbacks last: Scholar, then SerpApi when Scholar blocks (exit 3) and a key
is set. ``refresh/attempt.py`` walks the list ``open_sources`` returns, the next source only when
the one before blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scholar_stats import config
from scholar_stats.errors import UsageError
from scholar_stats.settings import FetchSettings
from scholar_stats.sources import registry
from scholar_stats.sources.source import Budget, Fetcher, Ledger, Opening, Source

if TYPE_CHECKING:
    from scholar_stats.core.model import FetchStatus
    from scholar_stats.net.deadline import Deadline
    from scholar_stats.store.database import Store

# The budget a run counts ``source`` by: at pool entry ``entry`` for a per-address source.
BudgetOf = Callable[[Source, "str | None"], Any]


@dataclass(frozen=True)
class SourceSettings:
    """``--source`` and what each source read from the settings (``Source.options``)."""

    choice: str = config.default("source")
    options: tuple[tuple[str, Any], ...] = ()  # (source name, its options); secrets: repr=False

    def __post_init__(self) -> None:
        if self.choice not in registry.choices():
            setting = config.BY_NAME["source"]  # a flag or its variable: name both
            raise UsageError(f"{setting.flag} ({setting.variable}): expected one of "
                             f"{', '.join(registry.choices())}, got {self.choice!r}")
        for source in registry.sources():
            source.check(self.options_of(source))
        if self.choice != registry.AUTO:
            chosen = registry.get(self.choice)
            missing = chosen.missing(self.options_of(chosen))
            if missing:
                raise UsageError(missing)

    @classmethod
    def of(cls, choice: str = config.default("source"), **options: Any) -> SourceSettings:
        """``SourceSettings.of("auto", serpapi=SerpApiOptions(key=...))``."""
        return cls(choice, tuple(options.items()))

    @classmethod
    def from_args(cls, args: Any) -> SourceSettings:
        """From the settings ``args`` holds (a command's resolved namespace)."""
        return cls(choice=args.source,
                   options=tuple((source.name, source.options(args))
                                 for source in registry.sources()))

    def options_of(self, source: Source) -> Any:
        return dict(self.options).get(source.name)

    @property
    def order(self) -> tuple[Source, ...]:
        """The sources a fetch asks, in order; the next only when the one before blocks."""
        if self.choice != registry.AUTO:
            return (registry.get(self.choice),)
        able = [source for source in registry.sources()
                if source.missing(self.options_of(source)) is None]
        return (tuple(source for source in able if not source.fallback)
                + tuple(source for source in able if source.fallback))

    def ledgers(self, statuses: Iterable[FetchStatus | None],
                now: datetime) -> dict[str, Ledger]:
        """What ``fetch`` counts of each source's cost in the folders' ``status.json``, by
        source name (every source's, asked in this run or not: a count is carried over)."""
        statuses, order = list(statuses), self.order
        found = {source.name: source.ledger(self.options_of(source), statuses, now,
                                            source in order)
                 for source in registry.sources()}
        return {name: ledger for name, ledger in found.items() if ledger is not None}

    def budgets(self, store: Store, clock: Any) -> dict[str, Budget]:
        """The budgets of this order's sources that count their own in the store, by name."""
        found = {source.name: source.budget(store, self.options_of(source), clock)
                 for source in self.order}
        return {name: budget for name, budget in found.items() if budget is not None}


def openings(sources: SourceSettings, settings: FetchSettings, deadline: Deadline,
             budget_of: BudgetOf | None = None, *, order: tuple[Source, ...] | None = None,
             egresses: tuple[str, ...] | None = None) -> list[tuple[Source, Opening]]:
    """What one run opens, in order (``sources.order`` by default): a per-address source once
    per egress address (``egresses``, by default the whole pool, in order), each other once;
    each with the budget ``budget_of`` gives it (none by default)."""
    found: list[tuple[Source, Opening]] = []
    for source in sources.order if order is None else order:
        options = sources.options_of(source)
        if not source.per_egress:
            budget = budget_of(source, None) if budget_of else None
            found.append((source, Opening(settings, deadline, options, budget)))
            continue
        for entry in settings.egresses if egresses is None else egresses:
            budget = budget_of(source, entry) if budget_of else None
            found.append((source, Opening(settings, deadline, options, budget, entry)))
    return found


def open_sources(sources: SourceSettings, settings: FetchSettings, deadline: Deadline,
                 budget_of: BudgetOf | None = None, *, order: tuple[Source, ...] | None = None,
                 egresses: tuple[str, ...] | None = None) -> list[Fetcher]:
    """The fetchers of one run (see ``openings``); close each when done."""
    return [source.open(opening) for source, opening in
            openings(sources, settings, deadline, budget_of, order=order, egresses=egresses)]
