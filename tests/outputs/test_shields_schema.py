"""Every shields endpoint file, checked against shields' endpoint schema (support.shields_schema):
fresh ones blue like the kit's badges, grey once the last success is over the stale age, the
numbers kept; groups' too. docs/architecture.md, "Shields endpoint files"."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from support.shields_schema import assert_shields_endpoint, endpoint_problems
from support.store_helpers import gs_data, success

from scholar_stats.core.groups import group_totals
from scholar_stats.core.model import METRIC_NAMES, AuthorData
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.outputs.badges import DEFAULT_COLOR, STALE_COLOR
from scholar_stats.outputs.catalogue import PAPERS, SHIELDS, SHIELDS_CITATIONS, render_author_files
from scholar_stats.outputs.export import author_files
from scholar_stats.outputs.groups import render_group_files
from scholar_stats.refresh.record import record_outcome
from scholar_stats.store.database import Store

SID = "DhtAFkwAAAAJ"
PUBS = {f"P{i:011d}": i * 7 for i in range(5)}
T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def endpoints(files: dict[str, bytes]) -> dict[str, Any]:
    """The endpoint files among ``files``, decoded: by the catalogue's names only."""
    return {name: json.loads(body) for name, body in files.items()
            if name == SHIELDS_CITATIONS.name or SHIELDS.key_of(name) is not None
            or PAPERS.key_of(name) is not None}


def expected_names() -> set[str]:
    return {SHIELDS_CITATIONS.name, *(SHIELDS.path(m) for m in METRIC_NAMES),
            *(PAPERS.path(key) for key in PUBS)}


@pytest.mark.parametrize(("stale", "color"), [(False, DEFAULT_COLOR), (True, STALE_COLOR)])
def test_every_endpoint_file_is_valid_and_coloured_by_age(stale: bool, color: str) -> None:
    data = AuthorData(SID, gs_data(SID, PUBS), since_year=2021)
    found = endpoints(render_author_files(data, stale=stale))
    assert set(found) == expected_names()  # every metric and every paper
    values = data.metrics.as_dict()
    for name, obj in found.items():
        assert_shields_endpoint(obj, name)
        assert obj["color"] == color, name
        assert "cacheSeconds" not in obj, name  # a file's age is the origin's business
        assert "isError" not in obj, name
    for metric in METRIC_NAMES:  # the numbers stay, stale or not
        assert found[SHIELDS.path(metric)]["message"] == str(values[metric])
    assert found[SHIELDS_CITATIONS.name]["message"] == str(values["citations"])
    assert found[PAPERS.path("P00000000003")]["message"] == "21"


def test_export_greys_the_endpoints_once_the_last_success_is_over_seven_days(
    tmp_path: Path,
) -> None:
    """The kit's rule through the real path: a store's author exported at a given moment (the
    clock is the ``now`` handed in), blue at 6 days 23 h, grey past 7 days, numbers kept."""
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.add_authors([SID], 86400, T0)
        record_outcome(store, success(SID, PUBS, T0), T0)
        young = endpoints(author_files(store, SID, now=T0 + 7 * DAY - timedelta(hours=1)))
        old = endpoints(author_files(store, SID, now=T0 + 7 * DAY + timedelta(hours=1)))
    assert set(young) == set(old) == expected_names()
    for name in young:
        assert_shields_endpoint(young[name], name)
        assert_shields_endpoint(old[name], name)
        assert (young[name]["color"], old[name]["color"]) == (DEFAULT_COLOR, STALE_COLOR)
        assert old[name] == {**young[name], "color": STALE_COLOR}


def test_group_endpoint_files_are_valid() -> None:
    profiles = {sid: ProfileSnapshot.from_gs_data(gs_data(sid, PUBS))
                for sid in (SID, "OTHERAAAAAAJ")}
    files = render_group_files(group_totals("lab", profiles))
    found = {name: json.loads(body) for name, body in files.items() if name != "gs_data.json"}
    assert set(found) == {SHIELDS_CITATIONS.name, *(SHIELDS.path(m) for m in
                                                     ("citations", "h-index", "i10-index",
                                                      "publications"))}
    for name, obj in found.items():
        assert_shields_endpoint(obj, name)
        assert obj["color"] == DEFAULT_COLOR
    served = render_group_files(group_totals("lab", profiles), cache_seconds=3600)
    assert json.loads(served[SHIELDS_CITATIONS.name])["cacheSeconds"] == 3600


@pytest.mark.parametrize("bad", [
    [],
    {"label": "x", "message": "1"},
    {"schemaVersion": 2, "label": "x", "message": "1"},
    {"schemaVersion": True, "label": "x", "message": "1"},
    {"schemaVersion": 1, "message": "1"},
    {"schemaVersion": 1, "label": 3, "message": "1"},
    {"schemaVersion": 1, "label": "x", "message": 1234},
    {"schemaVersion": 1, "label": "x", "message": ""},
    {"schemaVersion": 1, "label": "x", "message": "1", "updated": "2026-01-01"},
    {"schemaVersion": 1, "label": "x", "message": "1", "isError": "true"},
    {"schemaVersion": 1, "label": "x", "message": "1", "color": ""},
    {"schemaVersion": 1, "label": "x", "message": "1", "color": "not-a-colour"},
    {"schemaVersion": 1, "label": "x", "message": "1", "cacheSeconds": -1},
    {"schemaVersion": 1, "label": "x", "message": "1", "cacheSeconds": 1.5},
    {"schemaVersion": 1, "label": "x", "message": "1", "cacheSeconds": "300"},
    {"schemaVersion": 1, "label": "x", "message": "1", "logoColor": "red"},
    {"schemaVersion": 1, "label": "x", "message": "1", "logoWidth": 14},
    {"schemaVersion": 1, "label": "x", "message": "1", "namedLogo": "a", "logoSvg": "<svg/>"},
    {"schemaVersion": 1, "label": "x", "message": "1", "style": "round"},
])
def test_the_schema_check_refuses_what_shields_refuses(bad: Any) -> None:
    assert endpoint_problems(bad)


def test_the_schema_check_takes_what_shields_takes() -> None:
    for good in ({"schemaVersion": 1, "label": "", "message": "1"},
                 {"schemaVersion": 1, "label": "x", "message": "1", "color": "9cf",
                  "labelColor": "f6f6f6", "isError": False, "namedLogo": "googlescholar",
                  "logoColor": "white", "logoWidth": 14, "style": "flat", "cacheSeconds": 0},
                 {"schemaVersion": 1, "label": "x", "message": "1", "color": "#007ec6",
                  "logoSvg": "<svg/>", "logoWidth": 12.5, "cacheSeconds": 3600}):
        assert endpoint_problems(good) == []
