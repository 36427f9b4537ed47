"""The pieces an author's files are drawn with: the one JSON encoding, shields endpoints and
their labels, the status. Pure functions, no I/O.

The files themselves are drawn by the catalogue (``outputs/catalogue.py``): the same bytes are
written by ``fetch``, rebuilt by ``export`` and served by the live service, so a homepage can
switch between them by changing a base URL.
"""

from __future__ import annotations

import json
from typing import Any

from scholar_stats.core.model import METRIC_NAMES, AuthorData, FetchStatus

_BASE_LABELS = {
    "citations": "citations",
    "h-index": "h-index",
    "i10-index": "i10-index",
    "publications": "publications",
}


def dump_json(obj: Any) -> bytes:
    """The one JSON encoding every file uses (UTF-8, non-ASCII kept, like the old recipe)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def metric_label(metric: str, since_year: int | None) -> str:
    """``citations-5y`` → ``citations since 2021`` (the year Scholar shows in its table)."""
    if metric.endswith("-5y"):
        base = metric[: -len("-5y")]
        return f"{base} since {since_year}" if since_year else f"{base} (5 years)"
    return _BASE_LABELS[metric]


def endpoint_json(label: str, message: str, **extra: Any) -> dict[str, Any]:
    """A shields.io endpoint object (docs/architecture.md, "Shields endpoint files"): message
    is always a non-empty string."""
    if not isinstance(message, str) or not message:
        raise ValueError("a shields endpoint message must be a non-empty string")
    return {"schemaVersion": 1, "label": label, "message": message, **extra}


def shield_endpoints(data: AuthorData) -> dict[str, dict[str, Any]]:
    """Metric name → endpoint object, for every metric in ``METRIC_NAMES``."""
    values = data.metrics.as_dict()
    return {
        metric: endpoint_json(metric_label(metric, data.since_year), str(values[metric]))
        for metric in METRIC_NAMES
    }


def render_status(status: FetchStatus) -> bytes:
    return dump_json(status.as_dict())
