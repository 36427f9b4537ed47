"""Parsing every real page in the fixtures, offline, through the same seam the fetcher uses."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from support.fake_scholar import fixture_path, last_page_of

from scholar_stats.core.model import AuthorData
from scholar_stats.errors import AuthorNotFound, Blocked, PageNotUnderstood
from scholar_stats.net.bounded import decode_body
from scholar_stats.sources.scholar.parse import (
    check_not_blocked,
    parse_profile,
    profile_path,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def parse_file(name: str, scholar_id: str) -> tuple[AuthorData, list[str]]:
    """Parse a saved first page; further pages are "no more rows" (the fixtures have none)."""
    raw = fixture_path(name).read_bytes()
    html = decode_body(raw, None)
    asked: list[str] = []

    def get_page(path: str) -> str:
        asked.append(path)
        return html if len(asked) == 1 else last_page_of(html)

    return parse_profile(scholar_id, get_page, NOW), asked


# file, id, name, (citedby, citedby5y, hindex, hindex5y, i10, i10_5y), rows, since, email
PROFILES = [
    ("profile_amIMrIEAAAAJ_p0.html", "amIMrIEAAAAJ", "Bangar Raju Cherukuri",
     (425, 417, 11, 11, 11, 11), 20, 2021, "@dc.gov"),
    ("profile_LZ5D_p4AAAAJ_p0.html", "LZ5D_p4AAAAJ", "Doaa Elmatary",
     (56, 30, 4, 2, 2, 1), 12, 2021, None),
    ("profile_yggQMJMAAAAJ_p0.html", "yggQMJMAAAAJ", "Zhengru Fang (方政儒)",
     (1079, 1078, 17, 17, 24, 24), 20, 2020, "@mails.tsinghua.edu.cn"),
    ("profile_SbUmSEAAAAAJ_pagesize80_prettyprinted.html", "SbUmSEAAAAAJ", "Jason Ernst",
     (1083, 806, 14, 8, 17, 7), 58, 2019, "@uoguelph.ca"),
    ("profile__0aMq28AAAAJ_p0_pagesize100_2015.html", "_0aMq28AAAAJ", "R. Manmatha",
     (7780, 3947, 37, 26, 77, 50), 100, 2010, "@cs.umass.edu"),
]


@pytest.mark.parametrize(
    ("name", "scholar_id", "author", "metrics", "rows", "since", "email"), PROFILES,
    ids=[p[1] for p in PROFILES],
)
def test_real_profile_pages_parse(name, scholar_id, author, metrics, rows, since, email) -> None:
    data, asked = parse_file(name, scholar_id)
    gs = data.gs_data
    assert gs["name"] == author
    got = tuple(gs[k] for k in ("citedby", "citedby5y", "hindex", "hindex5y", "i10index",
                                "i10index5y"))
    assert got == metrics
    assert len(gs["publications"]) == rows
    assert data.since_year == since
    if email:
        assert gs["email_domain"] == email
    assert asked[0] == profile_path(scholar_id)
    assert all(key.startswith(f"{scholar_id}:") for key in gs["publications"])


def test_iso_8859_1_page_is_decoded_by_its_declared_charset() -> None:
    raw = fixture_path("profile__0aMq28AAAAJ_p0_pagesize100_2015.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    data, _ = parse_file("profile__0aMq28AAAAJ_p0_pagesize100_2015.html", "_0aMq28AAAAJ")
    bibs = [pub["bib"] for pub in data.gs_data["publications"].values()]
    titles = {bib["title"] for bib in bibs}
    assert "Team sri-sarnoff\u2019s aurora system@ trecvid 2011" in titles  # byte 0x92
    assert "Computer Vision\u2013ACCV 2007, 586-595, 2007" in {b["citation"] for b in bibs}
    assert "\ufffd" not in repr(data.gs_data)


def test_first_publication_is_read_exactly() -> None:
    data, _ = parse_file("profile_amIMrIEAAAAJ_p0.html", "amIMrIEAAAAJ")
    pub = data.gs_data["publications"]["amIMrIEAAAAJ:u5HHmVD_uO8C"]
    assert pub["bib"]["title"].startswith("Optimization of Data Structures and Trade-Offs")
    assert pub["num_citations"] == 131
    assert pub["bib"]["pub_year"] == "2024"
    assert pub["cites_id"] == ["1527366344147329058"]


def test_2019_markup_is_reported_as_not_understood_naming_the_part() -> None:
    # Publication links were `javascript:void(0)` in 2019; scholarly cannot read them.
    with pytest.raises(PageNotUnderstood, match="publications"):
        parse_file("profile_8daWuo4AAAAJ_pagesize2_hl-fr_2019.html", "8daWuo4AAAAJ")


@pytest.mark.parametrize(
    "name", ["captcha_citations_K7_cclwAAAAJ_2025-09.html", "captcha_scholar_search_2025-12.html"]
)
def test_real_captcha_pages_are_blocked(name: str) -> None:
    with pytest.raises(Blocked, match="CAPTCHA"):
        check_not_blocked(fixture_path(name).read_text("utf-8"))


def test_real_sign_in_page_means_not_found() -> None:
    html = fixture_path("redirect_accounts_signin_invalid_user_AAAAAAAAAAAA.html").read_text(
        "utf-8")
    with pytest.raises(AuthorNotFound, match="sign-in"):
        parse_profile("AAAAAAAAAAAA", lambda path: html, NOW)


def test_profile_page_is_not_mistaken_for_a_block() -> None:
    check_not_blocked(fixture_path("profile_yggQMJMAAAAJ_p0.html").read_text("utf-8"))


@pytest.mark.parametrize(
    ("damage", "part"),
    [
        (lambda h: h.replace('id="gsc_rsb_st"', 'id="x"'), "metrics table"),
        (lambda h: re.sub(r'<td class="gsc_rsb_std">\d+</td>', "", h, count=1), "metrics table"),
        (lambda h: h[: h.index('id="gsc_bpf_more"')], "publication list"),
        (lambda h: h.replace('id="gsc_prf_in"', 'id="x"'), "profile header"),
        (lambda h: h.replace('class="gsc_a_at"', 'class="x"'), "publications part"),
    ],
    ids=["no-table", "short-table", "truncated", "no-header", "rows-changed"],
)
def test_damaged_pages_name_the_missing_part(damage, part: str) -> None:
    html = damage(fixture_path("profile_LZ5D_p4AAAAJ_p0.html").read_text("utf-8"))
    with pytest.raises(PageNotUnderstood, match=part):
        parse_profile("LZ5D_p4AAAAJ", lambda path: html, NOW)


def test_gs_data_has_the_acadhomepage_shape_key_by_key() -> None:
    """docs/architecture.md, "The gs_data.json record", including the fields the homepage
    script reads without guards."""
    data, _ = parse_file("profile_SbUmSEAAAAAJ_pagesize80_prettyprinted.html", "SbUmSEAAAAAJ")
    gs = data.gs_data
    assert gs["container_type"] == "Author"
    assert gs["source"] == "AUTHOR_PROFILE_PAGE"
    assert gs["scholar_id"] == "SbUmSEAAAAAJ"
    assert sorted(gs["filled"]) == ["basics", "counts", "indices", "publications"]
    for key in ("citedby", "citedby5y", "hindex", "hindex5y", "i10index", "i10index5y"):
        assert type(gs[key]) is int
    assert isinstance(gs["organization"], int)
    assert all(isinstance(i, str) for i in gs["interests"]) and gs["interests"]
    assert gs["organization"] > 2**53  # larger than JavaScript's safe integers, kept exact
    assert gs["homepage"] == "http://www.jasonernst.com/"
    assert gs["url_picture"].startswith("https://")
    assert isinstance(gs["affiliation"], str)
    assert set(gs["cites_per_year"]) == set(range(2009, 2025))
    assert all(type(v) is int for v in gs["cites_per_year"].values())
    assert datetime.fromisoformat(gs["updated"]).utcoffset() is not None
    expected_top = {
        "container_type", "filled", "scholar_id", "source", "name", "url_picture",
        "affiliation", "organization", "interests", "email_domain", "citedby", "citedby5y",
        "hindex", "hindex5y", "i10index", "i10index5y", "cites_per_year", "publications",
        "updated",
    }
    assert set(gs) == expected_top | {"homepage"}
    for pub_id, pub in gs["publications"].items():
        assert pub["author_pub_id"] == pub_id
        assert pub["container_type"] == "Publication"
        assert pub["source"] == "AUTHOR_PUBLICATION_ENTRY"
        assert pub["filled"] is False
        assert type(pub["num_citations"]) is int
        assert set(pub["bib"]) <= {"title", "pub_year", "citation"} and pub["bib"]["title"]
        cited = pub["num_citations"] > 0
        assert ("citedby_url" in pub) == cited and ("cites_id" in pub) == cited
        assert set(pub) <= {"container_type", "source", "bib", "filled", "author_pub_id",
                            "num_citations", "citedby_url", "cites_id"}


def test_absent_fields_stay_absent() -> None:
    """LZ5D_p4AAAAJ shows no homepage: the key is left out, not invented."""
    data, _ = parse_file("profile_LZ5D_p4AAAAJ_p0.html", "LZ5D_p4AAAAJ")
    assert "homepage" not in data.gs_data


def test_decode_prefers_the_http_header_charset() -> None:
    assert decode_body("é".encode("latin-1"), "text/html; charset=ISO-8859-1") == "é"
    assert decode_body("é".encode(), "text/html") == "é"
    assert decode_body(b'<meta charset="ISO-8859-1">\xe9', None).endswith("é")
