"""The bytes of a group's files: ``gs_data.json``, ``gs_data_shieldsio.json`` and
``shields/<metric>.json`` (citations, h-index, i10-index, publications). Pure.

``gs_data.json`` keeps the two things an AcadHomepage page reads (docs/architecture.md, "What an
AcadHomepage page reads"): ``citedby``, and ``publications`` keyed by ``author_pub_id`` with
``num_citations``. Every member's id of a shared paper is a key, with the group's count for it,
so a lab page can keep each member's ``data="..."`` spans. ``papers`` lists the merged papers
once each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scholar_stats.core.groups import GroupTotals
from scholar_stats.outputs.catalogue import GS_DATA, SHIELDS, SHIELDS_CITATIONS
from scholar_stats.outputs.render import data_endpoint, dump_json

GROUP_METRICS = ("citations", "h-index", "i10-index", "publications")


def group_record(totals: GroupTotals) -> dict[str, Any]:
    publications: dict[str, Any] = {}
    papers = []
    for paper in totals.papers:
        bib: dict[str, Any] = {"title": paper.title}
        if paper.year is not None:
            bib["pub_year"] = str(paper.year)
        papers.append({"bib": bib, "num_citations": paper.citations,
                       "author_pub_ids": list(paper.pub_ids)})
        for pub_id in paper.pub_ids:
            publications[pub_id] = {"bib": bib, "author_pub_id": pub_id,
                                    "num_citations": paper.citations}
    return {
        "container_type": "Group",
        "name": totals.name,
        "citedby": totals.citations,
        "hindex": totals.h_index,
        "i10index": totals.i10_index,
        "publication_count": totals.publications,
        "shared_papers": totals.shared_papers,
        "members": [
            {"scholar_id": m.scholar_id, "name": m.name, "citedby": m.citations,
             "hindex": m.h_index, "i10index": m.i10_index, "publications": m.publications}
            for m in totals.members
        ],
        "publications": dict(sorted(publications.items())),
        "papers": papers,
    }


def render_group_files(
    totals: GroupTotals, dump: Callable[[Any], bytes] = dump_json,
    cache_seconds: int | None = None,
) -> dict[str, bytes]:
    """Relative path -> bytes for a group's folder (``dump``: ``gs_data.json``'s encoder, one
    that gives ``dump_json``'s bytes; ``cache_seconds``: the service's max-age, which its
    endpoints announce). A group's totals are never stale: its endpoints are the badges' blue,
    like its badges."""
    values = {"citations": totals.citations, "h-index": totals.h_index,
              "i10-index": totals.i10_index, "publications": totals.publications}
    files = {
        GS_DATA.name: dump(group_record(totals)),
        SHIELDS_CITATIONS.name: dump_json(data_endpoint(
            "citations", str(totals.citations), stale=False, cache_seconds=cache_seconds)),
    }
    for metric in GROUP_METRICS:
        endpoint = data_endpoint(metric, str(values[metric]), stale=False,
                                 cache_seconds=cache_seconds)
        files[SHIELDS.path(metric)] = dump_json(endpoint)
    return files
