"""What a person types where an id goes: an id, or the profile URL from the browser in any of
Scholar's forms, read by one pure function (``core.model.parse_scholar_id``); anything else is
one line naming both forms, which never shows a URL's user name, password, path or query."""

from __future__ import annotations

import time

import pytest

from scholar_stats.core.model import EXPECTED_ID_INPUT, MAX_ID_INPUT, parse_scholar_id
from scholar_stats.errors import UsageError

ID = "DhtAFkwAAAAJ"
OTHER = "LZ5D_p4AAAAJ"
DASH = "-SYNTHdashAJ"  # ids may start with '-' and hold '_'


@pytest.mark.parametrize("typed", [
    ID,
    f"https://scholar.google.com/citations?user={ID}",
    f"https://scholar.google.com/citations?user={ID}&hl=en",
    f"https://scholar.google.com/citations?hl=en&user={ID}",
    f"https://scholar.google.com/citations?user={ID}&hl=en&oi=ao",
    f"https://scholar.google.com/citations?hl=en&view_op=list_works&sortby=pubdate&user={ID}",
    f"https://scholar.google.com/citations?user={ID}&cstart=20&pagesize=80",
    f"https://scholar.google.com/citations?view_op=view_citation&hl=en&user={ID}"
    f"&citation_for_view={ID}:u5HHmVD_uO8C",
    f"https://scholar.google.com/citations?hl=en&user={ID}&oe=ASCII&authuser=1",
    f"http://scholar.google.com/citations?user={ID}",
    f"https://www.scholar.google.com/citations?user={ID}",
    f"https://scholar.google.de/citations?user={ID}&hl=de",
    f"https://scholar.google.co.uk/citations?user={ID}",
    f"https://scholar.google.com.hk/citations?user={ID}&hl=zh-TW",
    f"https://scholar.google.co.jp/citations?hl=ja&user={ID}",
    f"https://scholar.google.com.au/citations?user={ID}",
    f"https://scholar.google.cat/citations?user={ID}",
    f"HTTPS://Scholar.Google.COM/citations?user={ID}",
    f"https://scholar.google.com/citations?user={ID}&hl=en#d=gs_md_cita-d",
    f"https://scholar.google.com/citations?user={ID}#",
    f"scholar.google.com/citations?user={ID}&hl=en",  # the address bar without its scheme
    f"www.scholar.google.fr/citations?user={ID}",
    "https://scholar.google.com/citations?user=%44htAFkwAAAAJ",  # percent-encoded D
    f"https://scholar.google.com/citations?user={ID}&hl=en&&",
    f"  {ID}\n",
    f"'{ID}'",
    f'"https://scholar.google.com/citations?user={ID}&hl=en"',
    f"\u201chttps://scholar.google.com/citations?user={ID}\u201d",  # a word processor's quotes
    f"\u2018{ID}\u2019",
    f"<https://scholar.google.com/citations?user={ID}>",
    f"`{ID}`",
    f" \t'https://scholar.google.com/citations?user={ID}&hl=en ' \r\n",
])
def test_every_form_people_paste_gives_the_id(typed: str) -> None:
    assert parse_scholar_id(typed) == ID


@pytest.mark.parametrize("scholar_id", [ID, OTHER, DASH, "A_-0123456zZ"])
def test_the_id_is_taken_as_it_is_written(scholar_id: str) -> None:
    assert parse_scholar_id(scholar_id) == scholar_id
    assert parse_scholar_id(f"https://scholar.google.com/citations?user={scholar_id}&hl=en") \
        == scholar_id


def refused(typed: str) -> str:
    """The one line ``typed`` is refused with (exit 2)."""
    with pytest.raises(UsageError) as info:
        parse_scholar_id(typed)
    line = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in line and "\r" not in line and len(line) < 400, line
    assert line.endswith(EXPECTED_ID_INPUT)
    assert "DhtAFkwAAAAJ" in EXPECTED_ID_INPUT
    assert "https://scholar.google.com/citations?user=DhtAFkwAAAAJ" in EXPECTED_ID_INPUT
    return line


HOSTILE = {
    # hosts that merely contain Scholar's
    "longer host": f"https://scholar.google.com.evil.example/citations?user={ID}",
    "host in a parameter": f"https://evil.example/?x=scholar.google.com&user={ID}",
    "host in the path": f"https://evil.example/scholar.google.com/citations?user={ID}",
    "prefix host": f"https://notscholar.google.com/citations?user={ID}",
    "sub-subdomain": f"https://scholar.google.evil.com/citations?user={ID}",
    "google without scholar": f"https://google.com/citations?user={ID}",
    "other google service": f"https://books.google.com/citations?user={ID}",
    "long tld": f"https://scholar.google.example/citations?user={ID}",
    "capital i for l": f"https://scholar.googIe.com/citations?user={ID}",
    "digit zero": f"https://scholar.g00gle.com/citations?user={ID}",
    # userinfo: the host is after the @
    "userinfo is scholar": f"https://scholar.google.com@evil.example/citations?user={ID}",
    "userinfo with password": f"https://me:hunter2pass@scholar.google.com/citations?user={ID}",
    "backslash before @": f"https://evil.example\\@scholar.google.com/citations?user={ID}",
    # IDN look-alikes: Cyrillic o, Greek omicron, fullwidth letters, the Kelvin sign, punycode
    "cyrillic o": f"https://scholar.g\u043e\u043egle.com/citations?user={ID}",
    "greek omicron": f"https://scholar.g\u03bfogle.com/citations?user={ID}",
    "fullwidth": f"https://\uff53cholar.google.com/citations?user={ID}",
    "kelvin sign": f"https://scholar.google.co.\u212ar/citations?user={ID}",
    "dotless i": f"https://scholar.google.com\u3002evil/citations?user={ID}",
    "punycode": f"https://scholar.xn--ggle-55da.com/citations?user={ID}",
    # not a profile
    "percent-encoded user=": f"https://scholar.google.com/citations?user%3D{ID}",
    "user= in the fragment": f"https://scholar.google.com/citations?hl=en#user={ID}",
    "no user=": "https://scholar.google.com/citations?hl=en",
    "no query": "https://scholar.google.com/citations",
    "other parameter name": f"https://scholar.google.com/citations?author={ID}",
    "capital USER": f"https://scholar.google.com/citations?USER={ID}",
    "two user= values": f"https://scholar.google.com/citations?user={ID}&user={OTHER}",
    "the same user= twice": f"https://scholar.google.com/citations?user={ID}&hl=en&user={ID}",
    "short id": "https://scholar.google.com/citations?user=DhtAFkwAAAA",
    "long id": "https://scholar.google.com/citations?user=DhtAFkwAAAAJX",
    "empty id": "https://scholar.google.com/citations?user=&hl=en",
    "id with a slash": "https://scholar.google.com/citations?user=DhtAFkw/AAAJ",
    "id with an encoded &": "https://scholar.google.com/citations?user=DhtAFkwAAA%26J",
    "id with a NUL": "https://scholar.google.com/citations?user=DhtAFkwAAAA%00",
    "id with a plus": "https://scholar.google.com/citations?user=Dht+FkwAAAAJ",
    "search page": f"https://scholar.google.com/scholar?q=x&user={ID}",
    "no path": f"https://scholar.google.com/?user={ID}",
    "path after citations": f"https://scholar.google.com/citations/../x?user={ID}",
    "a port": f"https://scholar.google.com:8443/citations?user={ID}",
    "spaces inside": f"https://scholar.google.com/citations?user={ID}&hl=en x",
    "newline inside": f"https://scholar.google.com/citations?hl=en\n&user={ID}",
    "tab inside the id": "https://scholar.google.com/citations?user=DhtAFkw\tAAAAJ",
    # not http
    "ftp": f"ftp://scholar.google.com/citations?user={ID}",
    "file": f"file://scholar.google.com/citations?user={ID}",
    "javascript": f"javascript://scholar.google.com/citations?user={ID}",
    "data": f"data:text/html,scholar.google.com/citations?user={ID}",
    "scheme-relative": f"//scholar.google.com/citations?user={ID}",
    "broken IPv6 host": f"https://[scholar.google.com/citations?user={ID}",
    # plain text that is no id
    "empty": "",
    "spaces": "   ",
    "eleven characters": "DhtAFkwAAAA",
    "thirteen characters": "DhtAFkwAAAAJX",
    "a space in the id": "DhtAFkw AAAJ",
    "path traversal": "../../etc/pa",
    "id and junk": f"{ID}/x",
    "two ids": f"{ID},{OTHER}",
    "unbalanced quote": f"'{ID}",
    "two pairs of quotes": f"\"'{ID}'\"",
    "query without host": f"citations?user={ID}",
    "user= alone": f"user={ID}",
}


@pytest.mark.parametrize("typed", HOSTILE.values(), ids=HOSTILE.keys())
def test_what_is_no_id_nor_profile_url_is_one_line_naming_both_forms(typed: str) -> None:
    line = refused(typed)
    assert "not a Google Scholar id or profile URL" in line


def test_the_line_says_what_is_wrong_with_a_url() -> None:
    assert "not a Google Scholar host" in refused(HOSTILE["longer host"])
    assert "https://scholar.google.com.evil.example/…" in refused(HOSTILE["longer host"])
    assert "user name or password" in refused(HOSTILE["userinfo with password"])
    assert "no user=" in refused(HOSTILE["no user="])
    assert "quote the URL" in refused(HOSTILE["no user="])  # a shell cut it at &
    assert "2 times" in refused(HOSTILE["two user= values"])
    assert "11 characters long, not 12" in refused(HOSTILE["short id"])
    assert "characters other than" in refused(HOSTILE["id with a slash"])
    assert "not http or https" in refused(HOSTILE["ftp"])
    assert "not a profile page" in refused(HOSTILE["search page"])
    assert "'DhtAFkwAAAA'" in refused(HOSTILE["eleven characters"])  # plain text is quoted


def test_a_look_alike_host_is_shown_escaped() -> None:
    """The person sees why a host that looks right is refused: its letters are not ASCII."""
    assert "scholar.g\\u043e\\u043egle.com" in refused(HOSTILE["cyrillic o"])


SECRET = "s3cr3tTOKENvalue"


@pytest.mark.parametrize("typed", [
    f"https://me:{SECRET}@scholar.google.com/citations?user={ID}",
    f"https://{SECRET}@scholar.google.com/citations?user={ID}",
    f"https://scholar.google.com@evil.example/citations?user={ID}&token={SECRET}",
    f"https://scholar.google.com/citations?user=bad&api_key={SECRET}",
    f"https://scholar.google.com/citations?hl=en&access_token={SECRET}",
    f"https://scholar.google.com/citations?user={ID}&user=x&sig={SECRET}",
    f"https://hooks.slack.com/services/T000/B000/{SECRET}",
    f"https://evil.example/citations/{SECRET}?user={ID}",
    f"https://scholar.google.com/citations?user={SECRET}",
    f"ftp://user:{SECRET}@scholar.google.com/citations?user={ID}",
    f"user:{SECRET}@scholar.google.com/citations?user={ID}",
    f"me:{SECRET}",
    f"citations?user=x&key={SECRET}",
    f"https://scholar.google.com/citations?user=bad#{SECRET}&x",
    f"https://scholar.google.com/citations?user={ID} {SECRET}",
])
def test_a_secret_in_a_url_is_never_echoed(typed: str) -> None:
    line = refused(typed)
    assert SECRET not in line and SECRET[:8] not in line, line


def test_a_huge_input_is_refused_at_once_without_being_echoed() -> None:
    for typed in ("x" * 10_000_000,
                  f"https://scholar.google.com/citations?user={ID}&" + "a=b&" * 2_000_000,
                  " " * 5_000_000 + ID + "&" * 5_000_000):
        started = time.perf_counter()
        line = refused(typed)
        assert time.perf_counter() - started < 1.0  # linear, a few ms; no backtracking
        assert "characters" in line and len(line) < 300


def test_the_length_bound_is_exact() -> None:
    query = f"user={ID}&x="
    url = "https://scholar.google.com/citations?" + query
    at_bound = url + "a" * (MAX_ID_INPUT - len(url))
    assert len(at_bound) == MAX_ID_INPUT and parse_scholar_id(at_bound) == ID
    assert "longer than" in refused(at_bound + "a")
