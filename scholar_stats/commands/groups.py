"""``scholar-stats groups add|remove|list|show``: groups of tracked authors (a lab) and their
totals, co-authored papers counted once (``core.groups``)."""

from __future__ import annotations

import sys
from typing import Any

from scholar_stats.commands.arguments import group_name, scholar_ids
from scholar_stats.core.groups import GroupTotals
from scholar_stats.core.text import json_safe
from scholar_stats.errors import UsageError
from scholar_stats.outputs.export import group_totals_from_store
from scholar_stats.outputs.table import text_table
from scholar_stats.store.database import Store


def cli_groups_add(args: Any) -> int:
    name, ids = group_name(args.name), scholar_ids(args.scholar_ids)
    with Store(args.db) as store:
        untracked = [sid for sid in ids if store.get_author(sid) is None]
        if untracked:
            raise UsageError(f"{', '.join(untracked)} not tracked; add first with: "
                             f"scholar-stats authors add {' '.join(untracked)}")
        added = store.add_to_group(name, ids)
    print(f"{name}: {len(added)} added ({len(ids) - len(added)} already members)")
    return 0


def cli_groups_remove(args: Any) -> int:
    name = group_name(args.name)
    ids = scholar_ids(args.scholar_ids) if args.scholar_ids else None
    with Store(args.db) as store:
        if not store.remove_from_group(name, ids):
            raise UsageError(f"no group {name}")
    print(f"{name}: removed" if ids is None else f"{name}: {len(ids)} removed from the group")
    return 0


def cli_groups_list(args: Any) -> int:
    with Store(args.db) as store:
        listed = store.list_groups()
    if not listed:
        print("no groups; make one with: scholar-stats groups add NAME SCHOLAR_ID ...")
        return 0
    rows = [("GROUP", "MEMBERS", "IDS")]
    rows += [(name, str(len(ids)), " ".join(ids)) for name, ids in listed.items()]
    print(text_table(rows))
    return 0


def totals_json(totals: GroupTotals, missing: list[str]) -> dict[str, Any]:
    return {
        "name": totals.name, "citations": totals.citations, "h-index": totals.h_index,
        "i10-index": totals.i10_index, "publications": totals.publications,
        "shared_papers": totals.shared_papers,
        "members": [{"scholar_id": m.scholar_id, "name": m.name, "citations": m.citations,
                     "h-index": m.h_index, "i10-index": m.i10_index,
                     "publications": m.publications} for m in totals.members],
        "without_data": missing,
    }


def cli_groups_show(args: Any) -> int:
    name = group_name(args.name)
    with Store(args.db) as store:
        found = group_totals_from_store(store, name)
    if found is None:
        raise UsageError(f"no group {name}")
    totals, missing = found
    if args.format == "json":
        sys.stdout.write(json_safe(totals_json(totals, missing)) + "\n")
        return 0
    rows = [("", "CITATIONS", "H-INDEX", "I10-INDEX", "PUBLICATIONS")]
    rows.append((f"{name} (group)", str(totals.citations), str(totals.h_index),
                 str(totals.i10_index), str(totals.publications)))
    rows += [(f"{m.scholar_id} {m.name}", str(m.citations), str(m.h_index), str(m.i10_index),
              str(m.publications)) for m in totals.members]
    print(text_table(rows))
    print(f"{totals.shared_papers} co-authored papers counted once")
    for scholar_id in missing:
        print(f"{scholar_id}: no data yet, left out")
    return 0
