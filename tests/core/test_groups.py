"""Group totals (issue 13): members' papers merged with a co-authored paper counted once, against
a case computed by hand."""

from __future__ import annotations

import json
from typing import Any

from scholar_stats.core.groups import group_totals, h_index, i10_index, normalise_title
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.outputs.groups import render_group_files

A, B, C = "AAAAAAAAAAAA", "BBBBBBBBBBBB", "CCCCCCCCCCCC"


def profile(scholar_id: str, papers: list[tuple[str, str, int]], **metrics: int) -> ProfileSnapshot:
    """``papers``: (title, year, citations); the member's own metrics as Scholar shows them."""
    return ProfileSnapshot.from_gs_data({
        "scholar_id": scholar_id, "name": f"Member {scholar_id[0]}",
        "updated": "2026-03-01T06:17:00+00:00",
        "citedby": 0, "citedby5y": 0, "hindex": 0, "hindex5y": 0, "i10index": 0,
        "i10index5y": 0, **metrics,
        "publications": {
            f"{scholar_id}:{n}": {"bib": {"title": title, "pub_year": year},
                                  "num_citations": cites}
            for n, (title, year, cites) in enumerate(papers, 1)
        },
    })


def lab() -> dict[str, ProfileSnapshot]:
    return {
        A: profile(A, [("Deep Learning: A Review", "2020", 50), ("Graph methods", "2019", 12),
                       ("Small note", "2021", 3)], citedby=65, hindex=3, i10index=2),
        B: profile(B, [("deep learning \u2014 a review", "2020", 48),  # the same paper as A:1
                       ("Graph methods", "2018", 10),  # same title, another year: not merged
                       ("\uff31\uff55\uff41\uff4e\uff54\uff55\uff4d  Stuff!", "2022", 25)],
                   citedby=83, hindex=3, i10index=3),
        C: profile(C, [("Quantum stuff", "2022", 27),  # the same paper as B:3 (full-width)
                       ("!!!", "2020", 9), ("!!!", "2020", 1)],  # empty titles: never merged
                   citedby=37, hindex=2, i10index=1),
    }


def test_a_lab_with_shared_papers_against_the_hand_computed_numbers() -> None:
    totals = group_totals("lab", lab())
    # merged: 50 (A:1 = B:1, the higher count), 27 (B:3 = C:1), 12, 10, 9, 3, 1
    assert [paper.citations for paper in totals.papers] == [50, 27, 12, 10, 9, 3, 1]
    assert totals.publications == 7  # 9 entries, 2 co-authored
    assert totals.citations == 112  # not 185, the members' sum
    assert totals.h_index == 5  # 50, 27, 12, 10, 9 >= 5; the 6th has 3
    assert totals.i10_index == 4
    assert totals.shared_papers == 2
    assert totals.papers[0].pub_ids == (f"{A}:1", f"{B}:1")
    assert totals.papers[0].title == "Deep Learning: A Review"
    assert totals.papers[1].pub_ids == (f"{B}:3", f"{C}:1")
    assert [(m.scholar_id, m.citations, m.h_index, m.i10_index, m.publications)
            for m in totals.members] == [(A, 65, 3, 2, 3), (B, 83, 3, 3, 3), (C, 37, 2, 1, 3)]


def test_one_member_is_their_own_numbers_and_order_does_not_matter() -> None:
    members = lab()
    alone = group_totals("a", {A: members[A]})
    assert (alone.citations, alone.h_index, alone.i10_index, alone.publications) == (65, 3, 2, 3)
    reversed_lab = dict(reversed(list(members.items())))
    assert group_totals("lab", reversed_lab) == group_totals("lab", members)


def test_one_members_own_papers_with_one_title_and_year_stay_distinct() -> None:
    """A conference and a journal version of one paper: the same normalised title and year on
    one profile are two papers, never merged; another member's entry for that title is paired
    with the most cited of them."""
    a = profile(A, [("Fast Sorting", "2021", 30), ("Fast sorting.", "2021", 10),
                    ("Other work", "2020", 4)], citedby=44, hindex=3, i10index=2)
    b = profile(B, [("FAST  SORTING", "2021", 12)], citedby=12, hindex=1, i10index=1)
    alone = group_totals("a", {A: a})
    # by hand: A alone is A's own three papers, 30 + 10 + 4
    assert (alone.citations, alone.h_index, alone.i10_index, alone.publications) == (44, 3, 2, 3)
    assert alone.shared_papers == 0
    totals = group_totals("ab", {A: a, B: b})
    # by hand: {A:1 (30), B:1 (12)} -> 30, {A:2} -> 10, {A:3} -> 4 (merging all three would
    # give 30 + 4 = 34 citations from 2 papers, h-index 2)
    assert [paper.citations for paper in totals.papers] == [30, 10, 4]
    assert [paper.pub_ids for paper in totals.papers] == [(f"{A}:1", f"{B}:1"), (f"{A}:2",),
                                                          (f"{A}:3",)]
    assert (totals.citations, totals.h_index, totals.i10_index, totals.publications,
            totals.shared_papers) == (44, 3, 2, 3, 1)
    # both have versions: paired by rank, most cited with most cited; member order is no matter
    c = profile(C, [("fast sorting", "2021", 2), ("Fast Sorting", "2021", 40),
                    ("Fast Sorting", "2021", 12)], citedby=54, hindex=2, i10index=2)
    for members in ({A: a, C: c}, {C: c, A: a}):
        totals = group_totals("ac", members)
        # by hand: {A 30, C 40} -> 40, {A 10, C 12} -> 12, {C 2} -> 2, {A "Other work"} -> 4
        assert [paper.citations for paper in totals.papers] == [40, 12, 4, 2]
        assert [len(paper.pub_ids) for paper in totals.papers] == [2, 2, 1, 1]
        assert (totals.citations, totals.h_index, totals.publications,
                totals.shared_papers) == (58, 3, 4, 2)


def test_normalisation_and_indices() -> None:
    assert normalise_title("  Deep\tLearning:  A Review. ") == "deeplearningareview"
    assert normalise_title("Stra\u00dfe \u2014 \ufb01ne") == normalise_title("STRASSE fine")
    assert normalise_title("?!") == ""
    assert h_index([]) == 0 and h_index([0, 0]) == 0 and h_index([1]) == 1
    assert h_index([10, 8, 5, 4, 3]) == 4 and h_index([25, 8, 5, 3, 3]) == 3
    assert i10_index([10, 9, 100]) == 2


def test_group_files_serve_every_members_paper_ids() -> None:
    files = render_group_files(group_totals("lab", lab()))
    gs: dict[str, Any] = json.loads(files["gs_data.json"])
    assert (gs["citedby"], gs["hindex"], gs["i10index"]) == (112, 5, 4)
    # the homepage script reads publications[<its author_pub_id>].num_citations: every
    # member's id of a shared paper gives the group's count for it
    assert gs["publications"][f"{A}:1"]["num_citations"] == 50
    assert gs["publications"][f"{B}:1"]["num_citations"] == 50
    assert len(gs["publications"]) == 9 and len(gs["papers"]) == 7
    assert [m["scholar_id"] for m in gs["members"]] == [A, B, C]
    shields = {path: json.loads(data) for path, data in files.items()
               if path.startswith("shields/")}
    assert shields["shields/h-index.json"] == {"schemaVersion": 1, "label": "h-index",
                                               "message": "5", "color": "#007ec6"}
    assert set(shields) == {f"shields/{m}.json" for m in
                            ("citations", "h-index", "i10-index", "publications")}
    assert json.loads(files["gs_data_shieldsio.json"])["message"] == "112"
