"""The arguments several commands take, checked before anything is touched (exit 2 on the first
bad one): Scholar ids (each an id or a pasted profile URL) and group names."""

from __future__ import annotations

from scholar_stats.core.groups import validate_group_name
from scholar_stats.core.model import parse_scholar_id
from scholar_stats.errors import UsageError


def scholar_ids(values: list[str]) -> list[str]:
    """Every id read, repeats dropped (an id and its profile URL are one), in the order given."""
    return list(dict.fromkeys(parse_scholar_id(value) for value in values))


def group_name(text: str) -> str:
    try:
        return validate_group_name(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
