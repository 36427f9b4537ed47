"""A real saved Scholar page doctored to lie (issue 9, classes 3 and 4): numbers out of range, or
publications that belong to another user. Each case names the part the one-line error names."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

from scholar_stats.sources.scholar.parse import parse_profile
from support.fake_scholar import REAL_ID, fixture_path

REAL = REAL_ID  # the real saved page every case doctors: 56 citations, 12 publications
OTHER = "amIMrIEAAAAJ"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
HUGE = "1234567890123456789012345"  # 25 digits: overflows SQLite and PostgreSQL integers


def _first(pattern: str, replacement: str) -> Callable[[str, str], str]:
    return lambda _user, html: re.sub(pattern, replacement, html, count=1)


# name -> (doctor the page, the part the one-line error must name)
DOCTORED: dict[str, tuple[Callable[[str, str], str], str]] = {
    "25-digit citations": (
        _first(r'<td class="gsc_rsb_std">\d+</td>', f'<td class="gsc_rsb_std">{HUGE}</td>'),
        "citedby"),
    "25-digit paper count": (_first(r'gs_ibl">25</a>', f'gs_ibl">{HUGE}</a>'), "num_citations"),
    "negative paper count": (_first(r'gs_ibl">25</a>', 'gs_ibl">-25</a>'), "num_citations"),
    "negative year count": (
        _first(r'<span class="gsc_g_al">4</span>', '<span class="gsc_g_al">-4</span>'),
        "cites_per_year"),
    "year 9999": (_first(r'(<span class="gsc_g_t"[^>]*>)2012<', r"\g<1>9999<"), "cites_per_year"),
    "300-character pub id": (
        _first(rf"citation_for_view={REAL}:u-x6o8ySG0sC",
               f"citation_for_view={REAL}:" + "x" * (300 - len(REAL) - 1)),
        "publication id"),
    "another user's pub ids": (
        lambda _user, html: html.replace(f"citation_for_view={REAL}:",
                                         f"citation_for_view={OTHER}:"),
        OTHER),
    "5000-character title": (_first(r'class="gsc_a_at">[^<]*<', 'class="gsc_a_at">' + "T" * 5000
                                    + "<"), "title"),
}


def parse_doctored(doctor: Callable[[str, str], str]) -> None:
    html = doctor(REAL, fixture_path(f"profile_{REAL}_p0.html").read_text("utf-8"))
    parse_profile(REAL, lambda path: html, NOW)
