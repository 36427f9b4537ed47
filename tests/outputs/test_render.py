"""The shields endpoint files and the plausibility gate: pure functions, checked against the rules
of docs/architecture.md, "Shields endpoint files"."""

from __future__ import annotations

import json

import pytest

from scholar_stats.core.gate import check_plausible
from scholar_stats.core.model import (
    METRIC_NAMES,
    AuthorData,
    Metrics,
    validate_scholar_id,
)
from scholar_stats.errors import Implausible
from scholar_stats.outputs.badges import DEFAULT_COLOR, STALE_COLOR
from scholar_stats.outputs.catalogue import render_author_files
from scholar_stats.outputs.history import (
    HistoryRow,
    parse_history_csv,
    render_history_csv,
    upsert_row,
)
from scholar_stats.outputs.render import endpoint_json, metric_label

SHIELDS_KEYS = {
    "schemaVersion", "label", "message", "color", "labelColor", "isError", "namedLogo",
    "logoSvg", "logoColor", "logoSize", "logoWidth", "style", "cacheSeconds",
}


def author(citedby: int = 1234, pubs: int = 3, since: int | None = 2021) -> AuthorData:
    publications = {
        f"DhtAFkwAAAAJ:pub{i:09d}": {"author_pub_id": f"DhtAFkwAAAAJ:pub{i:09d}",
                                     "num_citations": i}
        for i in range(pubs)
    }
    gs = {"scholar_id": "DhtAFkwAAAAJ", "name": "Ada", "citedby": citedby, "citedby5y": 900,
          "hindex": 12, "hindex5y": 10, "i10index": 14, "i10index5y": 11,
          "publications": publications, "updated": "2026-11-21T12:00:00+00:00"}
    return AuthorData("DhtAFkwAAAAJ", gs, since)


def assert_valid_endpoint(obj: dict) -> None:
    assert obj["schemaVersion"] == 1
    assert isinstance(obj["label"], str)
    assert isinstance(obj["message"], str) and obj["message"]
    assert set(obj) <= SHIELDS_KEYS, set(obj) - SHIELDS_KEYS


def test_citations_badge_is_the_old_recipe_file_with_the_kits_colour() -> None:
    files = render_author_files(author())
    assert json.loads(files["gs_data_shieldsio.json"]) == {
        "schemaVersion": 1, "label": "citations", "message": "1234", "color": DEFAULT_COLOR}
    grey = render_author_files(author(), stale=True)
    assert json.loads(grey["gs_data_shieldsio.json"]) == {
        "schemaVersion": 1, "label": "citations", "message": "1234", "color": STALE_COLOR}


def test_every_metric_has_a_valid_endpoint_file() -> None:
    files = render_author_files(author(pubs=7))
    for metric in METRIC_NAMES:
        obj = json.loads(files[f"shields/{metric}.json"])
        assert_valid_endpoint(obj)
    assert json.loads(files["shields/publications.json"])["message"] == "7"
    assert json.loads(files["shields/h-index-5y.json"]) == {
        "schemaVersion": 1, "label": "h-index since 2021", "message": "10",
        "color": DEFAULT_COLOR}
    assert json.loads(files["shields/citations-5y.json"])["label"] == "citations since 2021"


def test_since_label_without_a_year() -> None:
    assert metric_label("i10-index-5y", None) == "i10-index (5 years)"
    assert metric_label("i10-index", 2020) == "i10-index"


@pytest.mark.parametrize("message", [1234, "", None])
def test_endpoint_message_must_be_a_non_empty_string(message) -> None:
    with pytest.raises(ValueError):
        endpoint_json("citations", message)


def test_gs_data_bytes_keep_non_ascii_and_big_integers() -> None:
    data = author()
    data.gs_data["name"] = "方政儒"
    data.gs_data["organization"] = 12406940829042173998
    raw = render_author_files(data)["gs_data.json"]
    assert "方政儒".encode() in raw
    assert b"12406940829042173998" in raw


@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        ((1000, 100), (901, 100), False),  # -9.9 %: fine
        ((1000, 100), (899, 100), True),  # -10.1 %: refused
        ((1000, 100), (1000, 76), False),
        ((1000, 100), (1000, 74), True),
        ((1000, 100), (5000, 300), False),  # growth is always fine
    ],
)
def test_plausibility_gate(old, new, refused) -> None:
    def metrics(citations: int, pubs: int) -> Metrics:
        return Metrics(citations, 0, 0, 0, 0, 0, pubs)

    if refused:
        with pytest.raises(Implausible, match=str(old[0] if new[0] < old[0] * .9 else old[1])):
            check_plausible("DhtAFkwAAAAJ", metrics(*old), metrics(*new))
    else:
        check_plausible("DhtAFkwAAAAJ", metrics(*old), metrics(*new))


def test_gate_refuses_losing_the_metrics() -> None:
    with pytest.raises(Implausible, match="no metrics"):
        check_plausible("DhtAFkwAAAAJ", Metrics(10, 0, 0, 0, 0, 0, 1), None)
    check_plausible("DhtAFkwAAAAJ", None, Metrics(0, 0, 0, 0, 0, 0, 0))


@pytest.mark.parametrize("bad", ["", "short", "DhtAFkwAAAAJX", "DhtAFkw/AAAJ", "../../etc/pa"])
def test_malformed_ids_are_refused(bad: str) -> None:
    with pytest.raises(Exception, match="not a Google Scholar id"):
        validate_scholar_id(bad)


def test_history_csv_round_trip_and_upsert() -> None:
    day1 = HistoryRow.from_metrics("2026-11-20", author(citedby=10).metrics)
    day2 = HistoryRow.from_metrics("2026-11-21", author(citedby=11).metrics)
    rows = upsert_row(upsert_row([], day2), day1)
    text = render_history_csv(rows)
    assert text.splitlines()[0] == (
        b"date,citations,citations-5y,h-index,h-index-5y,i10-index,i10-index-5y,publications")
    assert parse_history_csv(text) == rows
    again = upsert_row(rows, HistoryRow.from_metrics("2026-11-21", author(citedby=12).metrics))
    assert [r.values["citations"] for r in again] == [10, 12]
    assert parse_history_csv(b"date,citations\nnot,a,row\n") == []
