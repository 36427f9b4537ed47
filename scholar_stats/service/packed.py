"""An author's state as the service keeps it between requests, and the record codecs that never
hold the interpreter long. Pure; no I/O.

The service draws the kit, the pages and a group's numbers when they are asked for, from the
author's state. A parsed profile takes some twenty times the memory of its JSON gzipped (37 KB
against 1.7 KB for 30 papers), so an entry keeps the state packed: the profile in the reply
that serves ``gs_data.json`` (one copy, not two), the last attempt and the history as the
bodies of ``status.json`` and ``history.csv`` deflated together (:func:`pack_files`: they are
asked for far less than the badges, and a reply of each took 0.8 KB per author where the
deflated pair takes 0.08 KB, against a preset dictionary). :func:`unpack` gives the state back.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any

from scholar_stats.core.changes import ChangeEvent
from scholar_stats.core.model import METRIC_NAMES, AuthorData, FetchStatus, HistoryRow
from scholar_stats.outputs import catalogue
from scholar_stats.outputs.catalogue import HISTORY, STATUS, AuthorState
from scholar_stats.outputs.changes import ChangeLog
from scholar_stats.outputs.history import parse_history_csv
from scholar_stats.service.replies import Reply

# The files kept deflated together (:func:`pack_files`), in the order they are packed.
PACKED = (STATUS, HISTORY)


def unpack_data(scholar_id: str, since_year: int | None, record: Reply | None
                ) -> AuthorData | None:
    """The profile kept in ``gs_data.json``'s ``record`` (decoded a publication at a time:
    :func:`load_record`); ``None`` before the first success."""
    if record is None:
        return None
    return AuthorData(scholar_id, load_record(record.body), since_year)


def unpack(scholar_id: str, since_year: int | None, record: Reply | None, packed: bytes | None,
           stale: bool) -> AuthorState:
    """The state an entry was drawn from (but the change log: only its files are kept)."""
    files = unpack_files(packed)
    status, history = files.get(STATUS.name), files.get(HISTORY.name)
    return AuthorState(
        scholar_id, unpack_data(scholar_id, since_year, record),
        FetchStatus.from_dict(json.loads(status)) if status is not None else None,
        parse_history_csv(history) if history is not None else None, stale=stale)


def pack_files(files: Mapping[str, bytes]) -> bytes | None:
    """The bodies of :data:`PACKED` among ``files`` as one deflated blob (a JSON list, ``null``
    for a file not drawn); ``None`` when there is none of them."""
    bodies = [files.get(file.name) for file in PACKED]
    if all(body is None for body in bodies):
        return None
    deflate = zlib.compressobj(6, zdict=_preset())
    return deflate.compress(_texts(bodies)) + deflate.flush()


def unpack_files(packed: bytes | None) -> dict[str, bytes]:
    """Name -> body of the files :func:`pack_files` packed, exactly."""
    if packed is None:
        return {}
    inflate = zlib.decompressobj(zdict=_preset())
    texts = json.loads(inflate.decompress(packed) + inflate.flush())
    return {file.name: text.encode("utf-8", "surrogateescape")
            for file, text in zip(PACKED, texts, strict=True) if text is not None}


def _texts(bodies: list[bytes | None]) -> bytes:
    # surrogateescape: any bytes come back as they were, valid UTF-8 or not
    texts = [None if body is None else body.decode("utf-8", "surrogateescape") for body in bodies]
    return json.dumps(texts).encode("ascii")


@functools.cache
def _preset() -> bytes:
    """zlib's preset dictionary for :func:`pack_files`: what every author's files share
    (``status.json``'s members, ``history.csv``'s header), drawn by the same renderers for a
    made-up author. Only the ids, times and numbers are left to deflate: 80 bytes an author
    where there were 250."""
    when = "2026-01-01T00:00:00+00:00"
    status = FetchStatus(scholar_id="", outcome="ok", exit_code=0, message=": ok",
                         last_attempt=when, last_success=when, requests=1,
                         duration_seconds=1.0, since_year=2021, stale=False)
    history = [HistoryRow(when[:10], dict.fromkeys(METRIC_NAMES, 0))]
    files = catalogue.draw(AuthorState("", status=status, history=history), PACKED)
    return _texts([files.get(file.name) for file in PACKED])


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
