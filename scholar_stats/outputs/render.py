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
from scholar_stats.outputs.badges import DEFAULT_COLOR, STALE_COLOR

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


def endpoint_color(stale: bool) -> str:
    """The colour an endpoint file gives its badge: the kit's badge blue, the kit's grey once the
    data is stale (the same rule and colours as ``kit.metric_badge``). Shields' own default is
    grey, so without it a fresh badge would look like a stale one."""
    return STALE_COLOR if stale else DEFAULT_COLOR


def data_endpoint(
    label: str, message: str, *, stale: bool, cache_seconds: int | None = None
) -> dict[str, Any]:
    """An endpoint object of a number: coloured by its age; ``cacheSeconds`` when the answer
    says how long it may be kept (the service's: its ``max-age``)."""
    extra: dict[str, Any] = {"color": endpoint_color(stale)}
    if cache_seconds is not None:
        extra["cacheSeconds"] = cache_seconds
    return endpoint_json(label, message, **extra)


def shield_endpoints(
    data: AuthorData, *, stale: bool = False, cache_seconds: int | None = None
) -> dict[str, dict[str, Any]]:
    """Metric name → endpoint object, for every metric in ``METRIC_NAMES``."""
    values = data.metrics.as_dict()
    return {
        metric: data_endpoint(metric_label(metric, data.since_year), str(values[metric]),
                              stale=stale, cache_seconds=cache_seconds)
        for metric in METRIC_NAMES
    }


def render_status(status: FetchStatus) -> bytes:
    return dump_json(status.as_dict())
