"""An author's state as the service keeps it between requests, and the record codecs that never
hold the interpreter long. Pure; no I/O.

The service draws the kit, the pages and a group's numbers when they are asked for, from the
author's state. A parsed profile takes some twenty times the memory of its JSON gzipped (37 KB
against 1.7 KB for 30 papers), so an entry keeps the state packed, in the replies that serve
it: the profile in ``gs_data.json``'s, the history in ``history.csv``'s, the last attempt in
``status.json``'s (one copy of each, not two). :func:`unpack` gives the state back.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from typing import Any

from scholar_stats.core.changes import ChangeEvent
from scholar_stats.core.model import AuthorData, FetchStatus
from scholar_stats.outputs.catalogue import GS_DATA, HISTORY, STATUS, AuthorState
from scholar_stats.outputs.changes import ChangeLog
from scholar_stats.outputs.history import parse_history_csv
from scholar_stats.service.replies import Reply


def unpack_data(scholar_id: str, since_year: int | None,
                files: Mapping[str, Reply]) -> AuthorData | None:
    """The profile kept in ``files`` (decoded a publication at a time: :func:`load_record`);
    ``None`` before the first success."""
    record = files.get(GS_DATA.name)
    if record is None:
        return None
    return AuthorData(scholar_id, load_record(record.body), since_year)


def unpack(scholar_id: str, since_year: int | None, files: Mapping[str, Reply],
           stale: bool) -> AuthorState:
    """The state ``files`` were drawn from (but the change log: only its files are kept)."""
    history, status = files.get(HISTORY.name), files.get(STATUS.name)
    return AuthorState(
        scholar_id, unpack_data(scholar_id, since_year, files),
        FetchStatus.from_dict(json.loads(status.body)) if status is not None else None,
        parse_history_csv(history.body) if history is not None else None, stale=stale)


def pack_changes(log: ChangeLog) -> bytes:
    """A change log as compact bytes (its fields in order, deflated): ``changes.json`` and
    ``changes.xml`` are asked for rarely and are drawn from it when they are."""
    fields = [log.since, [[e.at, e.kind, e.key, e.title, e.old, e.new] for e in log.events]]
    return zlib.compress(json.dumps(fields, ensure_ascii=False).encode("utf-8"), 6)


def unpack_changes(scholar_id: str, packed: bytes) -> ChangeLog:
    """The change log :func:`pack_changes` packed, exactly."""
    since, events = json.loads(zlib.decompress(packed))
    return ChangeLog(scholar_id, since, tuple(
        ChangeEvent(at, scholar_id, kind, key, title, old, new)
        for at, kind, key, title, old, new in events))


_DECODER = json.JSONDecoder()
_BETWEEN = re.compile(r"[\s,:]*")


def load_record(body: bytes) -> dict[str, Any]:
    """``json.loads`` of a profile record, decoding its publications one at a time.

    ``json.loads`` is one call into C that holds the interpreter until it returns: 0.1-0.2 s for
    a record of 50,000 papers, during which the event loop's thread cannot run. Decoded here,
    the interpreter may switch threads between two publications.
    """
    text = body.decode("utf-8")
    return _load_object(text, text.index("{"), stepwise=("publications",))[0]


def dump_record(record: Mapping[str, Any]) -> bytes:
    """``dump_json(record)``, the same bytes, encoded a member and an item at a time: one
    ``json.dumps`` of a group of 50,000 papers holds the interpreter for a third of a second."""
    return _dump(record, depth=2).encode("utf-8")


def _dump(value: Any, depth: int) -> str:
    if depth and isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return "{" + ", ".join(f"{_dumps(key)}: {_dump(item, depth - 1)}"
                               for key, item in value.items()) + "}"
    if depth and isinstance(value, list):
        return "[" + ", ".join(_dump(item, depth - 1) for item in value) + "]"
    return _dumps(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _load_object(text: str, pos: int, stepwise: tuple[str, ...] = ()) -> tuple[Any, int]:
    """The JSON object starting at ``text[pos]`` and where it ends; the members named in
    ``stepwise`` are objects decoded member by member too."""
    record: dict[str, Any] = {}
    pos = _BETWEEN.match(text, pos + 1).end()  # type: ignore[union-attr]
    while not text.startswith("}", pos):
        name, pos = _DECODER.raw_decode(text, pos)
        pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]
        if name in stepwise and text.startswith("{", pos):
            record[name], pos = _load_object(text, pos)
        else:
            record[name], pos = _DECODER.raw_decode(text, pos)
        pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]
    return record, pos + 1
