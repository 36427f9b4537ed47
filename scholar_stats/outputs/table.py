"""Rows printed as aligned columns, as the commands show a table on the terminal. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from scholar_stats.core.text import log_safe


def text_table(rows: Sequence[tuple[str, ...]]) -> str:
    """Aligned columns, every cell inert (``log_safe``) before it is measured."""
    shown = [[log_safe(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in shown) for i in range(len(shown[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in shown
    )
