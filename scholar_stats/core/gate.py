"""The plausibility gate: new numbers that fall too far below the old ones are not written.

Scholar sometimes serves a partial profile (a merge in progress, a half-indexed page); writing it
would show a homepage a collapse that did not happen. ``--force`` is the way past the gate.
"""

from __future__ import annotations

from scholar_stats.core.model import Metrics
from scholar_stats.errors import Implausible

MAX_CITATION_DROP = 0.10
MAX_PUBLICATION_DROP = 0.25


def check_plausible(scholar_id: str, old: Metrics | None, new: Metrics | None) -> None:
    """Raise ``Implausible`` (exit 7) when ``new`` is not believable next to ``old``."""
    if old is None:
        return
    if new is None:
        raise Implausible(
            f"{scholar_id}: the new data has no metrics table while the old one had "
            f"{old.citations} citations; nothing written (use --force to write anyway)"
        )
    problems = []
    if new.citations < old.citations * (1 - MAX_CITATION_DROP):
        problems.append(f"citations {old.citations} -> {new.citations}")
    if new.publications < old.publications * (1 - MAX_PUBLICATION_DROP):
        problems.append(f"publications {old.publications} -> {new.publications}")
    if problems:
        raise Implausible(
            f"{scholar_id}: refusing implausible drop ({', '.join(problems)}; limits "
            f"{MAX_CITATION_DROP:.0%} of citations, {MAX_PUBLICATION_DROP:.0%} of publications); "
            "nothing written (use --force to write anyway)"
        )
