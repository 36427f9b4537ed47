"""Turn an author's data into the bytes of the files users publish. Pure functions, no I/O.

The same bytes are written by ``fetch``, rebuilt by ``export`` and served by the live service,
so a homepage can switch between them by changing a base URL.
"""

from __future__ import annotations

import json
from typing import Any

from scholar_stats.core.model import METRIC_NAMES, AuthorData, FetchStatus

GS_DATA = "gs_data.json"
SHIELDS_CITATIONS = "gs_data_shieldsio.json"
STATUS = "status.json"
SHIELDS_DIR = "shields"

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


def render_author_files(
    data: AuthorData, *, stale: bool = False, kit: bool = True
) -> dict[str, bytes]:
    """Relative path → bytes for every file of one author (``status.json`` excluded): the data
    files and, with ``kit``, the homepage kit (``outputs/kit.py``: badges grey when ``stale``)."""
    files = {
        GS_DATA: dump_json(data.gs_data),
        SHIELDS_CITATIONS: dump_json(
            endpoint_json("citations", str(data.gs_data["citedby"]))
        ),
    }
    for metric, endpoint in shield_endpoints(data).items():
        files[f"{SHIELDS_DIR}/{metric}.json"] = dump_json(endpoint)
    if kit:
        from scholar_stats.outputs.kit import kit_files  # it renders with this module's helpers

        files.update(kit_files(data, stale=stale))
    return files


def render_status(status: FetchStatus) -> bytes:
    return dump_json(status.as_dict())
