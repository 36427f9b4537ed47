"""Answers that are well-formed but not what a profile is (issue 17, class 1): every value from
either source passes one validation at the boundary (``core.validate.accept_record``), so a
hostile answer is exit 5 with one line, its SerpApi searches counted in status.json, the data
files untouched; never exit 1. Text no file or database can carry is removed instead.

The fake SerpApi and the fake Scholar serve real saved answers, doctored per case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from support.cli_helpers import folder_hashes
from support.fake_scholar import FakeScholar
from support.fake_serpapi import FakeSerpApi

from scholar_stats.cli import main
from scholar_stats.core.text import MAX_DEPTH, clean_json, clean_text, load_json
from scholar_stats.net.bounded import decode_body

MEYER = "LSsXyncAAAAJ"  # a real SerpApi answer: 20 articles, one page
REAL = "LZ5D_p4AAAAJ"  # a real Scholar page: 12 publications
# Every kind of character the text rules remove: C0 (NUL, BEL, ESC), DEL, C1 (NEL, CSI), lone
# surrogates, noncharacters of the BMP and of plane 1.
REMOVED = "\x00\x07\x1b\x7f\x85\x9b\udfff\ud800\ufffe\uffff\ufdd0\U0001fffe"  # no pair
KEPT = "\t\n\r é—\u200b\U0001f600"  # what stays: whitespace, accents, zero-width, astral
Page = dict[str, Any]


def month() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m")


def nested(depth: int, leaf: Any = "x") -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


def status(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "status.json").read_text())


def fetch(*args: str) -> int:
    return main(["fetch", *args])


# -- SerpApi: a hostile answer is exit 5, one line, its search counted --------------------------


def on_first(change: Callable[[Page], None]) -> Callable[[dict[str, str], Page], Page]:
    def doctor(query: dict[str, str], page: Page) -> Page:
        if query.get("start") == "0":
            change(page)
        return page
    return doctor


def setter(path: str, value: Any) -> Callable[[Page], None]:
    """Set ``value`` at ``path`` ("author.name", "articles.0.title") in the page."""
    *parents, last = path.split(".")

    def change(page: Page) -> None:
        node: Any = page
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return change


def raw(body: Callable[[Page], str]) -> Callable[[dict[str, str], Page], bytes]:
    return lambda _query, page: body(page).encode()


def replaced(old: str, new: str) -> Callable[[Page], str]:
    """The page as JSON with ``old`` (JSON text) replaced by ``new``, once."""
    def body(page: Page) -> str:
        text = json.dumps(page)
        assert old in text, old
        return text.replace(old, new, 1)
    return body


def next_start(value: str) -> Callable[[Page], None]:
    return setter("serpapi_pagination", {"next": f"https://serpapi.com/search.json?start={value}"})


# Each: what is wrong, the doctor, words of the one line.
SERPAPI_CASES: list[tuple[str, Callable[[dict[str, str], Page], Any], str]] = [
    # pagination values str.isdigit() accepts but int() refuses, or too long, or not forward
    ("start is '²'", on_first(next_start("²")), "does not move forward"),
    ("start is '٣'", on_first(next_start("٣")), "does not move forward"),
    ("start is 5000 digits", on_first(next_start("9" * 5000)), "does not move forward"),
    ("start is -100", on_first(next_start("-100")), "does not move forward"),
    ("start is 1e3", on_first(next_start("1e3")), "does not move forward"),
    ("next is an unclosed IPv6 link", on_first(setter(
        "serpapi_pagination", {"next": "http://[::1/search.json?start=100"})), "not a link"),
    ("next is an object", on_first(setter("serpapi_pagination", {"next": {"start": 100}})),
     "not a link"),
    # numbers as floats, bools, strings, huge or negative ints, lists, objects
    *[(f"citations all is {value!r}"[:60], on_first(setter(
        "cited_by.table.0.citations.all", value)), "citations (citedby)")
      for value in (1.5, True, "27463", 10**30, -1, None, [1], {"v": 1})],
    ("h-index since is nested", on_first(setter("cited_by.table.1.h_index.since_2017",
                                                nested(3, 1))), "h-index since"),
    *[(f"a graph year is {value!r}", on_first(setter("cited_by.graph.0.year", value)), "year")
      for value in ([2020], {"y": 2020}, "2020", True, 10**30, 1899)],
    ("a graph year is 2020.0", on_first(setter("cited_by.graph.0.year", 2020.0)), "(2020.0)"),
    *[(f"a graph count is {value!r}", on_first(setter("cited_by.graph.0.citations", value)),
       "cites_per_year") for value in (-5, "x", 1.5, 10**12)],
    *[(f"an article's count is {value!r}", on_first(setter("articles.0.cited_by.value", value)),
       "num_citations") for value in ("12", 1.5, True, [1], {"v": 1}, 10**12, -3)],
    # text fields as lists, objects, numbers, or nested
    *[(f"{path} is {kind}", on_first(setter(path, value)), words)
      for path, words in (("author.name", "author.name"), ("author.affiliations", "affiliation"),
                          ("author.thumbnail", "url_picture"), ("author.website", "homepage"),
                          ("articles.0.title", "no title"), ("articles.0.publication", "venue"),
                          ("articles.0.year", "pub_year"), ("articles.0.cited_by.link",
                                                            "citedby_url"))
      for kind, value in (("a list", ["x"]), ("an object", {"t": "x"}), ("a number", 7))],
    *[(f"{path} is nested 12 deep", on_first(setter(path, nested(12))), "nested more than 8")
      for path in ("author.affiliations", "author.website", "articles.0.year",
                   "articles.0.publication", "articles.0.cited_by.link")],
    ("interests are objects of objects", on_first(setter(
        "author.interests", [{"title": {"t": "x"}}])), "interests"),
    ("interests are 200", on_first(setter("author.interests", ["x"] * 200)), "interests"),
    ("citation_id is a list", on_first(setter("articles.0.citation_id", ["x"])),
     "no citation_id"),
    ("citation_id is another user's", on_first(setter("articles.0.citation_id",
                                                      "amIMrIEAAAAJ:abc")), "another"),
    ("citation_id holds NUL", on_first(setter("articles.0.citation_id", f"{MEYER}:a\x00b")),
     "key that is not plain text"),  # refused, not cleaned: two ids would merge
    # nested deeper than MAX_DEPTH in a field that is kept, deeper than json can read anywhere
    ("a title nested 40 deep", on_first(setter("articles.0.year", nested(40))),
     f"nested more than {MAX_DEPTH} levels"),
    ("an ignored field nested 100,000 deep", raw(replaced(
        '"search_metadata": {', '"x": ' + deep_text(100_000) + ', "search_metadata": {')),
     "elements"),
    ("the page is 5000 nested lists", raw(lambda _page: deep_text(5000)),
     "nested too deeply to read"),
    ("the name is 5000 nested lists", raw(replaced('"name": "Cliff Meyer"',
                                                   '"name": ' + deep_text(5000))),
     "nested too deeply to read"),
    ("the name is 500 nested lists", raw(replaced('"name": "Cliff Meyer"',
                                                  '"name": ' + deep_text(500))),
     "author.name is missing"),
    # the page's parts of the wrong kind
    ("the page is a list", raw(lambda page: json.dumps([page])), "not an object"),
    ("articles is an object", on_first(setter("articles", {"a": 1})), "'articles' is not"),
    ("author is text", on_first(setter("author", "Cliff")), "'author'"),
    ("cited_by is a list", on_first(setter("cited_by", [])), "'cited_by'"),
    ("the table is an object", on_first(setter("cited_by.table", {})), "cited_by.table"),
    ("the graph holds a list", on_first(setter("cited_by.graph", [[2020, 1]])), "graph"),
    # errors that are not text, or text with what no line can carry
    *[(f"the error is {kind}", raw(lambda _page, body=body: body), "error")
      for kind, body in (("an object", '{"error": {"e": 1}}'), ("a number", '{"error": 5}'),
                         ("nested", '{"error": ' + deep_text(500) + "}"))],
    ("the error holds NUL and ESC", raw(lambda _page: '{"error": "bad\\u0000\\u001b[2Jkey"}'),
     "bad[2Jkey"),
]


@pytest.mark.parametrize(("doctor", "words"), [case[1:] for case in SERPAPI_CASES],
                         ids=[case[0] for case in SERPAPI_CASES])
def test_a_hostile_serpapi_answer_is_exit_5_with_its_search_counted(
    fake_serpapi: FakeSerpApi, fake_scholar: FakeScholar, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], doctor: Callable[..., Any], words: str,
) -> None:
    out = tmp_path / "out"
    assert fetch(MEYER, "--source", "serpapi", "--out", str(out)) == 0
    before = folder_hashes(out)
    capsys.readouterr()
    fake_serpapi.doctor = doctor
    assert fetch(MEYER, "--source", "serpapi", "--out", str(out)) == 5
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and words in err, err
    assert "internal error" not in err and "\x00" not in err and "\x1b" not in err
    searches = len(fake_serpapi.requests) - 1
    assert status(out)["exit_code"] == 5
    assert status(out)["serpapi_searches"] == {"month": month(), "count": 1 + searches}
    after = folder_hashes(out)
    assert {k: v for k, v in after.items() if k != "status.json"} == {
        k: v for k, v in before.items() if k != "status.json"}


# -- text no file or database can carry is removed, in every text field -----------------------


SERPAPI_TEXT = ("author.name", "author.affiliations", "author.email", "author.website",
                "author.thumbnail", "author.interests.0.title", "articles.0.title",
                "articles.0.publication", "articles.0.cited_by.link",
                "articles.0.cited_by.cites_id")


def dirty(text: str) -> str:
    """``text`` with every removed kind of character and every kept one, in the middle."""
    middle = len(text) // 2
    return text[:middle] + REMOVED + KEPT + text[middle:]


def test_serpapi_text_no_file_can_carry_is_removed_from_every_field(
    fake_serpapi: FakeSerpApi, fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    clean_out, dirty_out = tmp_path / "clean", tmp_path / "dirty"
    assert fetch(MEYER, "--source", "serpapi", "--out", str(clean_out)) == 0

    def change(page: Page) -> None:
        for path in SERPAPI_TEXT:
            *parents, last = path.split(".")
            node: Any = page
            for key in parents:
                node = node[int(key)] if isinstance(node, list) else node[key]
            node[last] = dirty(node.get(last, "https://example.org/"))
        page["author"]["email"] = "Verified email at " + dirty("harvard.edu")
        page["articles"][1]["year"] = dirty(page["articles"][1]["year"])

    fake_serpapi.doctor = on_first(change)
    assert fetch(MEYER, "--source", "serpapi", "--out", str(dirty_out)) == 0
    clean = json.loads((clean_out / "gs_data.json").read_text("utf-8"))
    got = json.loads((dirty_out / "gs_data.json").read_text("utf-8"))
    text = (dirty_out / "gs_data.json").read_text("utf-8")
    assert not any(c in text for c in REMOVED if c not in "\x00\x07\x1b")
    assert "\\u0000" not in text and "\\u0007" not in text and "\\u001b" not in text
    assert got["name"] == dirty(clean["name"]).replace(REMOVED, "")
    assert got["email_domain"] == "@harva" + KEPT + "rd.edu"
    first = next(iter(got["publications"].values()))
    assert KEPT in first["bib"]["title"] and KEPT in got["affiliation"]
    assert got["publications"].keys() == clean["publications"].keys()
    for name in ("changes.xml", "card.svg", "status.json"):
        body = (dirty_out / name).read_bytes().decode("utf-8")  # valid UTF-8 throughout
        assert not any(c in body for c in "\x00\x1b\x85\ufffe")


SCHOLAR_TEXT = {  # where a raw byte goes in the real page, and the field it lands in
    "name": ('id="gsc_prf_in">', "name"),
    "title": ('class="gsc_a_at">', "title"),
    "affiliation": ('<div class="gsc_prf_il">', "affiliation"),
}


@pytest.mark.parametrize("where", sorted(SCHOLAR_TEXT))
@pytest.mark.parametrize(("raw_bytes", "kept"), [
    (b"A\x00B", "AB"),  # a raw NUL byte
    (b"A\xff\xfe\xc0B", "A\ufffd\ufffd\ufffdB"),  # invalid UTF-8: U+FFFD, as a browser shows
    (b"A\xc2\x85\xc2\x9b\x1b[2JB", "A[2JB"),  # C1 controls and ESC, raw
    (b"A&#0;&#xD800;&#x1b;B", "A\ufffd\ufffdB"),  # as references: html.parser's replacements
    (b"A\xef\xbf\xbe\xf0\x9f\xbf\xbeB", "AB"),  # U+FFFE and U+1FFFE
], ids=["nul", "invalid-utf8", "c1-esc", "references", "noncharacters"])
def test_scholar_text_no_file_can_carry_is_removed(
    fake_scholar: FakeScholar, tmp_path: Path, where: str, raw_bytes: bytes, kept: str
) -> None:
    marker, _field = SCHOLAR_TEXT[where]

    def doctor(_user: str, page: str) -> bytes:
        assert marker in page
        return page.encode("utf-8").replace(marker.encode(), marker.encode() + raw_bytes, 1)

    fake_scholar.doctor = doctor
    assert fetch(REAL, "--out", str(tmp_path)) == 0
    gs = json.loads((tmp_path / "gs_data.json").read_text("utf-8"))
    texts = [gs["name"], gs.get("affiliation", "")] + [
        pub["bib"]["title"] for pub in gs["publications"].values()]
    assert any(text.startswith(kept) for text in texts), texts
    assert not any(re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\U0001fffe]", text)
                   for text in texts)


@pytest.mark.parametrize(("doctor", "code", "words"), [
    (lambda _u, page: page.replace('id="gsc_prf_in">', 'id="gsc_prf_in">' + "<div>" * 60
                                   + "Deep" + "</div>" * 60, 1), 0, ""),  # text of tags: fine
    (lambda _u, page: page.replace('id="gsc_prf_in">', 'id="gsc_prf_in">' + "<div>" * 100_000
                                   + "</div>" * 100_000, 1), 5, "elements"),
    (lambda _u, page: re.sub(r'(<td class="gsc_rsb_std">)\d+', r"\g<1>²", page, count=1), 5,
     "could not read"),
    (lambda _u, page: re.sub(r'(<td class="gsc_rsb_std">)\d+', "\\g<1>" + "9" * 5000, page,
                             count=1), 5, "could not read"),
], ids=["nested-60", "nested-100000", "superscript-count", "5000-digit-count"])
def test_hostile_scholar_pages_are_exit_5_never_1(
    fake_scholar: FakeScholar, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    doctor: Callable[[str, str], str], code: int, words: str,
) -> None:
    fake_scholar.doctor = doctor
    assert fetch(REAL, "--out", str(tmp_path)) == code
    err = capsys.readouterr().err
    assert "internal error" not in err
    if code:
        assert len(err.splitlines()) == 1 and words in err, err
        assert not (tmp_path / "gs_data.json").exists()


# -- the rules themselves (pure) ----------------------------------------------------------------


def test_clean_text_removes_exactly_what_no_file_can_carry() -> None:
    assert clean_text("a" + REMOVED + KEPT + "b") == "a" + KEPT + "b"
    every_plane = "".join(chr(p * 0x10000 + 0xFFFE) + chr(p * 0x10000 + 0xFFFF)
                          for p in range(17))
    assert clean_text(every_plane + "\U0010fffd\U00020000") == "\U0010fffd\U00020000"
    assert clean_text("".join(map(chr, range(0x20)))) == "\t\n\r"
    assert clean_text("\u00a0\u00ad\u202e") == "\u00a0\u00ad\u202e"  # printable or format: kept


def test_clean_json_bounds_nesting_and_refuses_what_json_cannot_hold() -> None:
    assert clean_json({"a": [{"b": "x\x00y"}], 1: None}) == {"a": [{"b": "xy"}], 1: None}
    assert clean_json(nested(MAX_DEPTH)) == nested(MAX_DEPTH)
    for bad in (nested(MAX_DEPTH + 1), {"k\x00": 1}, {(1, 2): 1}, {1, 2}, float("nan"),
                float("inf"), object()):
        with pytest.raises(ValueError):
            clean_json(bad)
    with pytest.raises(ValueError, match="too deeply"):
        load_json(deep_text(100_000))
    with pytest.raises(ValueError, match="not JSON"):
        load_json(b"\xff")
    assert load_json('"\\ud800x\\u0000"') == "x"


def test_a_page_in_an_odd_charset_cannot_smuggle_a_surrogate() -> None:
    decoded = decode_body(b"A+2AA-B", "text/html; charset=utf-7")
    assert "\ud800" in decoded and clean_text(decoded) == "AB"
