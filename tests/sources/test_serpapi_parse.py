"""SerpApi's ``google_scholar_author`` JSON → ``AuthorData``, on the real saved responses, and
what each of SerpApi's answers (the real error bodies) means: pure functions, no server."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from support.fake_serpapi import FIXTURES, error_body

from scholar_stats.errors import (
    AuthorNotFound,
    Blocked,
    NetworkFailure,
    PageNotUnderstood,
    UsageError,
)
from scholar_stats.sources.serpapi.parse import (
    next_start,
    parse_author,
    read_answer,
    request_params,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
MEYER = "LSsXyncAAAAJ"
KATABI = "nst5fHgAAAAJ"


def saved(scholar_id: str) -> dict[str, Any]:
    (path,) = FIXTURES.glob(f"serpapi_google_scholar_author_{scholar_id}*.json")
    return json.loads(path.read_text("utf-8"))


def test_a_real_response_becomes_the_acadhomepage_record() -> None:
    page = saved(MEYER)
    data = parse_author(MEYER, [page], NOW)
    gs = data.gs_data
    assert (gs["citedby"], gs["citedby5y"], gs["hindex"], gs["hindex5y"], gs["i10index"],
            gs["i10index5y"]) == (27463, 15859, 49, 40, 66, 56)
    assert data.since_year == 2017
    assert gs["name"] == "Cliff Meyer" and gs["email_domain"] == "@jimmy.harvard.edu"
    assert gs["interests"][0] == "Computational Biology" and "homepage" not in gs
    assert gs["cites_per_year"][2006] == 158 and len(gs["cites_per_year"]) == 17
    assert len(gs["publications"]) == 20
    macs = gs["publications"]["LSsXyncAAAAJ:2osOgNQ5qMEC"]
    assert macs["num_citations"] == 12288 and macs["author_pub_id"] == "LSsXyncAAAAJ:2osOgNQ5qMEC"
    assert macs["bib"] == {"title": "Model-based analysis of ChIP-Seq (MACS)", "pub_year": "2008",
                           "citation": "Genome biology 9 (9), 1-9, 2008"}
    assert macs["cites_id"] == ["14252090027271643524"] and macs["citedby_url"].startswith(
        "https://scholar.google.com/scholar?")
    assert gs["updated"] == "2026-11-30T12:00:00+00:00"
    # the same top-level keys scholarly writes, less organization (SerpApi does not show it)
    assert set(gs) == {"container_type", "filled", "scholar_id", "source", "name", "url_picture",
                       "affiliation", "interests", "email_domain", "citedby", "citedby5y",
                       "hindex", "hindex5y", "i10index", "i10index5y", "cites_per_year",
                       "publications", "updated"}


def test_uncited_articles_have_zero_and_no_citation_links() -> None:
    """The Katabi response has ``"cited_by": {"value": null}`` articles and a website."""
    gs = parse_author(KATABI, [saved(KATABI)], NOW).gs_data
    uncited = gs["publications"]["nst5fHgAAAAJ:ghEM2AJqZyQC"]
    assert uncited["num_citations"] == 0
    assert "citedby_url" not in uncited and "cites_id" not in uncited
    assert sum(p["num_citations"] == 0 for p in gs["publications"].values()) == 5
    assert gs["homepage"] == "https://people.csail.mit.edu/dina/"
    assert gs["hindex5y"] == 68 and gs["cites_per_year"][2024] == 1987


def test_pages_are_joined_and_the_next_offset_read_from_the_link() -> None:
    page = saved(MEYER)
    assert next_start(page, 0) == 20  # the saved link: ...&start=20
    second = {"articles": copy.deepcopy(page["articles"][:3])}
    for i, article in enumerate(second["articles"]):
        article["citation_id"] = f"{MEYER}:extra{i:07d}"
    data = parse_author(MEYER, [page, second], NOW)
    assert data.metrics.publications == 23
    assert next_start(second, 20) is None
    backwards = {"serpapi_pagination": {"next": "https://serpapi.com/search.json?start=20"}}
    with pytest.raises(PageNotUnderstood, match="does not move forward"):
        next_start(backwards, 20)


def test_request_params_carry_no_key_and_ask_for_100() -> None:
    params = request_params(MEYER, 200)
    assert params == {"engine": "google_scholar_author", "author_id": MEYER, "hl": "en",
                      "start": "200", "num": "100"}


def doctored(change: Any) -> dict[str, Any]:
    page = saved(MEYER)
    change(page)
    return page


@pytest.mark.parametrize("change, part", [
    (lambda p: p["cited_by"]["table"][0]["citations"].update(all=-1), "citedby"),
    (lambda p: p["cited_by"]["table"][0]["citations"].update(all=10**12), "citedby"),
    (lambda p: p["cited_by"]["table"][1]["h_index"].update(all="49"), "h-index"),
    (lambda p: p["cited_by"]["graph"].append({"year": 1800, "citations": 3}), "year"),
    (lambda p: p["cited_by"]["graph"].append({"year": 2025, "citations": 2**40}), "cites_per"),
    (lambda p: p["articles"][0]["cited_by"].update(value=-5), "num_citations"),
    (lambda p: p["articles"][0].update(citation_id="AAAAAAAAAAAA:2osOgNQ5qMEC"), "another"),
    (lambda p: p["articles"][0].update(title="x" * 5000), "title"),
    (lambda p: p["articles"][0].pop("citation_id"), "citation_id"),
    (lambda p: p.pop("cited_by"), "cited_by"),
    (lambda p: p["cited_by"]["table"].pop(2), "i10_index"),
    (lambda p: p.pop("author"), "author"),
    (lambda p: p.update(articles="many"), "articles"),
])
def test_numbers_out_of_range_or_missing_parts_are_not_understood(change: Any, part: str) -> None:
    with pytest.raises(PageNotUnderstood, match=part) as caught:
        parse_author(MEYER, [doctored(change)], NOW)
    assert caught.value.exit_code == 5


def test_the_real_error_bodies_mean_their_exit_codes() -> None:
    with pytest.raises(UsageError, match="SERPAPI_API_KEY") as key:
        read_answer(401, error_body("invalid_key"))
    assert key.value.exit_code == 2 and "Invalid API key" in str(key.value)
    with pytest.raises(Blocked, match="run out of searches") as spent:
        read_answer(429, error_body("out_of_searches"))
    assert spent.value.exit_code == 3
    with pytest.raises(Blocked, match="rate-limiting"):
        read_answer(429, b"{}")
    with pytest.raises(AuthorNotFound) as missing:
        read_answer(200, error_body("no_results"))
    assert missing.value.exit_code == 4
    # a spent plan reported with 200, as some engines do
    with pytest.raises(Blocked):
        read_answer(200, b'{"error": "Your searches for the month are exhausted."}')
    with pytest.raises(PageNotUnderstood, match="not JSON"):
        read_answer(200, error_body("no_results")[:20])
    with pytest.raises(PageNotUnderstood, match="not an object"):
        read_answer(200, b"[1, 2]")
    with pytest.raises(PageNotUnderstood, match="We couldn't get valid results"):
        read_answer(200, b'{"error": "We couldn\'t get valid results for this search."}')
    with pytest.raises(NetworkFailure, match="HTTP 418"):
        read_answer(418, b"")
    assert read_answer(200, json.dumps(saved(MEYER)).encode())["author"]["name"] == "Cliff Meyer"


def test_an_error_message_is_one_bounded_line() -> None:
    body = json.dumps({"error": "line one\nline two " + "x" * 1000}).encode()
    with pytest.raises(PageNotUnderstood) as caught:
        read_answer(200, body)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 320
