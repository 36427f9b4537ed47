"""What changed between two successful fetches of an author, as events. Pure.

The same function serves ``fetch`` (the ``gs_data.json`` already in the folder against the new
one) and the store (the values it keeps against the new fetch): both hand it two
``ProfileSnapshot``s.
"""

from __future__ import annotations

from dataclasses import dataclass

from scholar_stats.core.papers import ProfileSnapshot

PAPER_CITATIONS = "paper_citations"  # a paper's citations changed (old -> new)
PAPER_ADDED = "paper_added"  # a paper appeared (old is None)
PAPER_REMOVED = "paper_removed"  # a paper disappeared (new is None)
METRIC = "metric"  # an author metric changed (old -> new)
KINDS = (METRIC, PAPER_CITATIONS, PAPER_ADDED, PAPER_REMOVED)  # the order events come in

# The author metrics that make events. ``publications`` is left out: its changes are the
# paper_added / paper_removed events themselves.
EVENT_METRICS = ("citations", "citations-5y", "h-index", "h-index-5y", "i10-index",
                 "i10-index-5y")


@dataclass(frozen=True)
class ChangeEvent:
    """One change seen by the fetch at ``at``.

    ``key`` is the paper's ``author_pub_id`` or the metric's name (as in ``shields/``);
    ``title`` the paper's title, or the metric's name again.
    """

    at: str
    scholar_id: str
    kind: str
    key: str
    title: str
    old: int | None
    new: int | None

    @property
    def is_paper(self) -> bool:
        return self.kind != METRIC


def compute_events(
    previous: ProfileSnapshot | None, new: ProfileSnapshot
) -> tuple[ChangeEvent, ...]:
    """Every change from ``previous`` to ``new``: metrics first (in ``EVENT_METRICS`` order),
    then papers by kind (citations changed, added, removed), each by ``author_pub_id``.

    No previous data (a first fetch) means no events: everything would be "new".
    """
    if previous is None:
        return ()
    events: list[ChangeEvent] = []
    old_metrics, new_metrics = previous.metrics.as_dict(), new.metrics.as_dict()
    for metric in EVENT_METRICS:
        if old_metrics[metric] != new_metrics[metric]:
            events.append(ChangeEvent(new.at, new.scholar_id, METRIC, metric, metric,
                                      old_metrics[metric], new_metrics[metric]))
    old_papers, new_papers = previous.papers, new.papers
    for pub_id in sorted(old_papers.keys() & new_papers.keys()):
        before, after = old_papers[pub_id], new_papers[pub_id]
        if before.citations != after.citations:
            events.append(ChangeEvent(new.at, new.scholar_id, PAPER_CITATIONS, pub_id,
                                      after.title or before.title, before.citations,
                                      after.citations))
    for pub_id in sorted(new_papers.keys() - old_papers.keys()):
        paper = new_papers[pub_id]
        events.append(ChangeEvent(new.at, new.scholar_id, PAPER_ADDED, pub_id, paper.title,
                                  None, paper.citations))
    for pub_id in sorted(old_papers.keys() - new_papers.keys()):
        paper = old_papers[pub_id]
        events.append(ChangeEvent(new.at, new.scholar_id, PAPER_REMOVED, pub_id, paper.title,
                                  paper.citations, None))
    return tuple(events)


def describe(event: ChangeEvent) -> str:
    """One line for a person: ``h-index: 12 -> 13``, ``new paper "X" (0 citations)``."""
    if event.kind == METRIC:
        return f"{event.key}: {event.old} -> {event.new}"
    title = shorten(event.title or event.key, 120)
    if event.kind == PAPER_ADDED:
        return f'new paper "{title}" ({event.new} citations)'
    if event.kind == PAPER_REMOVED:
        return f'paper gone "{title}" (had {event.old} citations)'
    gained = (event.new or 0) - (event.old or 0)
    return f'"{title}": {event.old} -> {event.new} citations ({gained:+d})'


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
