"""What changed (issue 13): events between two fetches, changes.json, the Atom changes.xml (read
by a real feed parser), and `fetch` writing them beside gs_data.json, carried by `publish`."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import feedparser
import pytest
from support.cli_helpers import run_main
from support.fake_scholar import FakeScholar

from scholar_stats.core.changes import (
    METRIC,
    PAPER_ADDED,
    PAPER_CITATIONS,
    PAPER_REMOVED,
    ChangeEvent,
    compute_events,
)
from scholar_stats.core.model import AuthorData
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.outputs.changes import (
    MAX_EVENTS,
    ChangeLog,
    change_log_after,
    entry_id,
    merge_events,
    parse_changes_json,
    render_changes_json,
    render_changes_xml,
    xml_text,
)
from scholar_stats.publish import branch as pub

SID = "ChangeAuth01"
T1, T2, T3 = "2026-03-01T06:17:00+00:00", "2026-03-02T06:17:00+00:00", "2026-03-03T06:17:00+00:00"


def record(at: str, papers: dict[str, tuple[str, int]], **metrics: int) -> dict[str, Any]:
    """A gs_data.json record: ``papers`` is pub id suffix -> (title, citations)."""
    values = {"citedby": 100, "citedby5y": 60, "hindex": 5, "hindex5y": 4, "i10index": 3,
              "i10index5y": 2, **metrics}
    return {
        "scholar_id": SID, "name": "Ada Example", "updated": at, **values,
        "publications": {
            f"{SID}:{key}": {"bib": {"title": title, "pub_year": "2020"},
                             "author_pub_id": f"{SID}:{key}", "num_citations": cites}
            for key, (title, cites) in papers.items()
        },
    }


def snap(rec: dict[str, Any]) -> ProfileSnapshot:
    return ProfileSnapshot.from_gs_data(rec)


BEFORE = record(T1, {"aaa": ("Kept paper", 10), "bbb": ("Growing paper", 20),
                     "ccc": ("Gone paper", 5)})
AFTER = record(T2, {"aaa": ("Kept paper", 10), "bbb": ("Growing paper", 27),
                    "ddd": ("New paper", 1)}, citedby=107, hindex=6, i10index5y=3)


def test_every_kind_of_event_in_a_fixed_order() -> None:
    events = compute_events(snap(BEFORE), snap(AFTER))
    assert [(e.kind, e.key, e.title, e.old, e.new) for e in events] == [
        (METRIC, "citations", "citations", 100, 107),
        (METRIC, "h-index", "h-index", 5, 6),
        (METRIC, "i10-index-5y", "i10-index-5y", 2, 3),
        (PAPER_CITATIONS, f"{SID}:bbb", "Growing paper", 20, 27),
        (PAPER_ADDED, f"{SID}:ddd", "New paper", None, 1),
        (PAPER_REMOVED, f"{SID}:ccc", "Gone paper", 5, None),
    ]
    assert {e.at for e in events} == {T2} and {e.scholar_id for e in events} == {SID}
    assert compute_events(snap(BEFORE), snap(AFTER)) == events  # deterministic


@pytest.mark.parametrize("metric,key", [("citedby5y", "citations-5y"), ("hindex5y", "h-index-5y"),
                                        ("i10index", "i10-index")])
def test_each_metric_makes_its_own_event(metric: str, key: str) -> None:
    after = record(T2, {"aaa": ("Kept paper", 10)}, **{metric: 99})
    before = record(T1, {"aaa": ("Kept paper", 10)})
    assert [(e.kind, e.key, e.new) for e in compute_events(snap(before), snap(after))] == [
        (METRIC, key, 99)]


def test_no_previous_data_or_no_change_makes_no_event() -> None:
    assert compute_events(None, snap(AFTER)) == ()
    same = copy.deepcopy(BEFORE)
    same["updated"] = T2
    assert compute_events(snap(BEFORE), snap(same)) == ()


def event(at: str, key: str, new: int = 1) -> ChangeEvent:
    return ChangeEvent(at, SID, PAPER_CITATIONS, f"{SID}:{key}", key, new - 1, new)


def test_merge_keeps_the_newest_first_and_at_most_200() -> None:
    old = [event(T1, f"p{i:03d}") for i in range(MAX_EVENTS)]
    new = [event(T2, "x"), event(T2, "a")]
    merged = merge_events(new, old)
    assert len(merged) == MAX_EVENTS
    assert merged[:2] == tuple(new)  # one fetch's events keep their order
    assert merged[2:] == tuple(old[: MAX_EVENTS - 2])
    assert merge_events(new, merged) == merged  # the same fetch merged twice is kept once
    # offsets differ: ordered by the instant, not the text
    later = ChangeEvent("2026-03-02T05:00:00-05:00", SID, METRIC, "citations", "citations", 1, 2)
    assert merge_events([later], [event(T2, "z")])[0] == later


def test_changes_json_round_trips_and_refuses_what_it_did_not_write() -> None:
    log = ChangeLog(SID, T1, compute_events(snap(BEFORE), snap(AFTER)))
    data = render_changes_json(log)
    assert parse_changes_json(data, SID) == log
    listed = json.loads(data)["events"]
    assert listed[0] == {"date": T2, "kind": "metric", "scholar_id": SID, "metric": "citations",
                         "title": "citations", "old": 100, "new": 107}
    assert listed[-1]["pub_id"] == f"{SID}:ccc" and listed[-1]["new"] is None
    for bad, why in [(b"[1", "not JSON"), (b"[]", "no list"),
                     (data.replace(SID.encode(), b"OtherAuthor1"), "another author"),
                     (data.replace(b'"old": 100', b'"old": "100"'), "whole number"),
                     (data.replace(T2.encode(), b"yesterday"), "ISO 8601"),
                     (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
                     (data.replace(b'"events": [', b'"events": [' + b"[" * 20 + b"]" * 20 + b","),
                      "nested more than 8")]:
        with pytest.raises(ValueError, match=why):
            parse_changes_json(bad, SID)
    # text no file can carry (a lone surrogate, NUL, C1) is removed, as from any source
    dirty = data.replace(b'"citations", "old"', b'"cit\\ud800a\\u0000ti\\u0085ons", "old"')
    assert parse_changes_json(dirty, SID).events[0].title == "citations"


def parsed_feed(data: bytes) -> Any:
    ET.fromstring(data)  # well-formed XML, or this raises
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


HOSTILE = 'Q&A <script>alert("x")</script> ]]> \x01\x0b end'


def test_atom_feed_parses_one_entry_per_fetch_with_stable_ids() -> None:
    day2 = compute_events(snap(BEFORE), snap(AFTER))
    third = record(T3, {"aaa": ("Kept paper", 12), "bbb": ("Growing paper", 27),
                        "ddd": (HOSTILE, 1)})
    day3 = compute_events(snap(AFTER), snap(third))
    log = ChangeLog(SID, T1, merge_events(day3, day2))
    data = render_changes_xml(log, "Ada <Example> & co")
    feed = parsed_feed(data)
    assert feed.feed.title == "Ada <Example> & co: changes on Google Scholar"
    assert feed.feed.author == "Ada <Example> & co"
    assert feed.feed.updated == "2026-03-03T06:17:00Z"
    assert [entry.updated for entry in feed.entries] == ["2026-03-03T06:17:00Z",
                                                         "2026-03-02T06:17:00Z"]
    newest, older = feed.entries
    assert newest.id == entry_id(SID, T3) and older.id == entry_id(SID, T2)
    assert len({newest.id, older.id, feed.feed.id}) == 3
    assert newest.title == "citations: 107 -> 100 and 3 more changes"
    assert '"Kept paper": 10 -> 12 citations (+2)' in newest.content[0].value
    assert older.title == "citations: 100 -> 107 and 5 more changes"
    assert 'new paper "New paper" (1 citations)' in older.content[0].value
    assert render_changes_xml(log, "Ada <Example> & co") == data  # byte for byte stable
    older_only = render_changes_xml(ChangeLog(SID, T1, day2), "Ada")
    assert parsed_feed(older_only).entries[0].id == older.id  # an entry keeps its id


def test_hostile_titles_stay_text_in_the_feed() -> None:
    hostile = record(T2, {"aaa": ("Kept paper", 10), "bbb": ("Growing paper", 20),
                          "ccc": ("Gone paper", 5), "zzz": (HOSTILE, 3)})
    log = ChangeLog(SID, T1, compute_events(snap(BEFORE), snap(hostile)))
    data = render_changes_xml(log, HOSTILE)
    assert b"<script>" not in data and b"\x01" not in data
    feed = parsed_feed(data)
    expected = 'Q&A <script>alert("x")</script> ]]> \ufffd\ufffd end'
    assert feed.feed.author == expected
    assert f'new paper "{expected}" (3 citations)' in feed.entries[0].content[0].value
    assert xml_text("ok \ud800 \ufffe \x00 \t\n") == "ok \ufffd \ufffd \ufffd \t\n"


def test_an_empty_feed_is_valid_and_dated_by_its_start() -> None:
    feed = parsed_feed(render_changes_xml(ChangeLog(SID, T1, ()), ""))
    assert feed.entries == [] and feed.feed.updated == "2026-03-01T06:17:00Z"
    assert feed.feed.title == f"{SID}: changes on Google Scholar"


def test_files_after_a_fetch() -> None:
    data = AuthorData(SID, AFTER, 2021)
    first = change_log_after(None, None, data)
    assert first.events == () and first.log.since == T2
    second = change_log_after(BEFORE, None, data)  # an older folder: no changes.json yet
    assert len(second.events) == 6 and second.log.since == T1
    again = change_log_after(AFTER, render_changes_json(second.log), data)
    assert again.events == () and again.log == second.log  # nothing changed: the same files
    foreign = change_log_after({**BEFORE, "scholar_id": "OtherAuthor1"}, b"{oops", data)
    assert foreign.events == () and foreign.warning == "not JSON"


# --- fetch end to end -----------------------------------------------------------------


def add_citations(gained: int) -> Any:
    """A doctor raising the first paper's citations by ``gained``."""
    def doctor(_user: str, html: str) -> str:
        return re.sub(r'(class="gsc_a_ac gs_ibl">)(\d+)<',
                      lambda m: f"{m.group(1)}{int(m.group(2)) + gained}<", html, count=1)
    return doctor


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def test_fetch_writes_changes_and_publish_carries_them(
    fake_scholar: FakeScholar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "results"
    fake_scholar.add_profile(SID, pubs=5, citations=1000)
    assert run_main(["fetch", SID, "--out", str(out)])[0] == 0
    first = json.loads((out / "changes.json").read_text())
    assert first["events"] == [] and first["since"]
    parsed_feed((out / "changes.xml").read_bytes())

    fake_scholar.add_profile(SID, pubs=7, citations=1040)
    fake_scholar.doctor = add_citations(3)
    assert run_main(["fetch", SID, "--out", str(out)])[0] == 0
    events = json.loads((out / "changes.json").read_text())["events"]
    kinds = [(e["kind"], e.get("metric") or e["pub_id"].split(":")[0]) for e in events]
    assert kinds[:2] == [("metric", "citations"), ("metric", "citations-5y")]
    assert [e["kind"] for e in events[2:]] == ["paper_citations", "paper_added", "paper_added"]
    assert events[2]["new"] - events[2]["old"] == 3
    gs = json.loads((out / "gs_data.json").read_text())
    assert {e["date"] for e in events} == {gs["updated"]}
    assert len(parsed_feed((out / "changes.xml").read_bytes()).entries) == 1

    changes = {name: (out / name).read_bytes() for name in ("changes.json", "changes.xml")}
    assert run_main(["fetch", SID, "--out", str(out)])[0] == 0  # nothing changed
    assert {name: (out / name).read_bytes() for name in changes} == changes

    # publish carries both; an unchanged fetch commits nothing for them
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test Bot")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "bot@example.invalid")
    monkeypatch.setenv("HOME", str(tmp_path))
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    git(work, "remote", "add", "origin", str(remote))
    assert pub.publish(out, repo=work).pushed
    for name, data in changes.items():
        assert subprocess.run(["git", "-C", str(remote), "show", f"google-scholar-stats:{name}"],
                              capture_output=True, check=True).stdout == data
    assert run_main(["fetch", SID, "--out", str(out)])[0] == 0
    assert not pub.publish(out, repo=work).committed


def test_a_changes_json_it_did_not_write_is_started_afresh(
    fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    fake_scholar.add_profile(SID, pubs=3, citations=1000)
    assert run_main(["fetch", SID, "--out", str(tmp_path)])[0] == 0
    (tmp_path / "changes.json").write_text("<html>not mine</html>")
    fake_scholar.add_profile(SID, pubs=4, citations=1000)
    code, _out, err = run_main(["fetch", SID, "--out", str(tmp_path)])
    assert code == 0
    assert err == (f"scholar-stats: warning: {tmp_path / 'changes.json'} is not a file "
                   "scholar-stats wrote (not JSON); it is started afresh\n")
    events = json.loads((tmp_path / "changes.json").read_text())["events"]
    assert [e["kind"] for e in events] == ["paper_added"]
