"""The bytes of ``changes.json`` and ``changes.xml`` (an Atom 1.0 feed). Pure functions.

``changes.json`` holds the newest ``MAX_EVENTS`` events, newest first; ``changes.xml`` the same
events as one Atom entry per fetch that changed something. Both are rebuilt from the events
alone, so a fetch that changed nothing leaves them byte for byte as they were (and ``publish``
commits nothing for them): the feed's ``<updated>`` is its newest event's time, or ``since``
(when the file started) while there is none.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET  # builds XML; nothing here parses any
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from scholar_stats.core.changes import KINDS, METRIC, ChangeEvent, compute_events, describe
from scholar_stats.core.model import AuthorData
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.core.text import load_json, without_bidi
from scholar_stats.outputs.render import dump_json

MAX_EVENTS = 200
ATOM_NS = "http://www.w3.org/2005/Atom"
PROFILE_URL = "https://scholar.google.com/citations?hl=en&user="


@dataclass(frozen=True)
class ChangeLog:
    """What ``changes.json`` holds: the author, when the file started, the events (newest
    first)."""

    scholar_id: str
    since: str
    events: tuple[ChangeEvent, ...]


def event_as_dict(event: ChangeEvent) -> dict[str, Any]:
    """One event as ``changes.json`` lists it: ``pub_id`` for papers, ``metric`` for metrics."""
    id_key = "metric" if event.kind == METRIC else "pub_id"
    return {"date": event.at, "kind": event.kind, "scholar_id": event.scholar_id,
            id_key: event.key, "title": event.title, "old": event.old, "new": event.new}


def render_changes_json(log: ChangeLog) -> bytes:
    return dump_json({"scholar_id": log.scholar_id, "since": log.since,
                      "events": [event_as_dict(event) for event in log.events]})


def parse_changes_json(data: bytes, scholar_id: str) -> ChangeLog:
    """``changes.json`` as ``render_changes_json`` wrote it; ``ValueError`` saying what is wrong
    for anything else (another author's file, a hand-edited one)."""
    record = load_json(data)  # texts cleaned, nesting bounded: as from any source
    if not isinstance(record, dict) or not isinstance(record.get("events"), list):
        raise ValueError("no list of events")
    if record.get("scholar_id") != scholar_id:
        other = str(record.get("scholar_id"))[:20]
        raise ValueError(f"the file is about another author ({other!r})")
    since = _time_text(record.get("since"), "since")
    events = tuple(_event_from_dict(item) for item in record["events"][:MAX_EVENTS])
    if any(event.scholar_id != scholar_id for event in events):
        raise ValueError("an event is about another author")
    return ChangeLog(scholar_id, since, events)


def _event_from_dict(item: Any) -> ChangeEvent:
    if not isinstance(item, dict) or item.get("kind") not in KINDS:
        raise ValueError("an event of no known kind")
    kind = item["kind"]
    key = item.get("metric" if kind == METRIC else "pub_id")
    values = (item.get("old"), item.get("new"))
    if any(value is not None and type(value) is not int for value in values):
        raise ValueError("an event's old or new value is not a whole number")
    return ChangeEvent(
        at=_time_text(item.get("date"), "date"), scholar_id=_text(item.get("scholar_id")),
        kind=kind, key=_text(key), title=_text(item.get("title")), old=values[0], new=values[1],
    )


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise ValueError("a text field is missing or too long")
    return value


def _time_text(value: Any, what: str) -> str:
    """An ISO 8601 time with an offset, as fetch writes ``updated``."""
    text = _text(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} has no UTC offset")
    return text


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def merge_events(
    new: Sequence[ChangeEvent], existing: Iterable[ChangeEvent], limit: int = MAX_EVENTS
) -> tuple[ChangeEvent, ...]:
    """The newest ``limit`` of ``new`` and ``existing``, newest first; events of one fetch keep
    their order, and an event already listed (the same fetch merged twice) is kept once."""
    seen = set(new)
    merged = list(new) + [event for event in existing if event not in seen]
    merged.sort(key=lambda event: _moment(event.at), reverse=True)  # stable: ties keep order
    return tuple(merged[:limit])


def updated_change_log(
    previous: ChangeLog | None, scholar_id: str, events: Sequence[ChangeEvent], fetched_at: str,
    compared_with: str | None = None,
) -> ChangeLog:
    """The change log after a fetch at ``fetched_at`` that found ``events``. A new log starts
    ``since`` the data compared with (or this fetch, on a first run)."""
    if previous is None:
        return ChangeLog(scholar_id, compared_with or fetched_at, tuple(events[:MAX_EVENTS]))
    return ChangeLog(scholar_id, previous.since, merge_events(events, previous.events))


# --- Atom ---------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all, even escaped: most C0 controls, U+FFFE/U+FFFF and lone
# surrogates. A title from Scholar that holds one gets U+FFFD in its place.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` as the feed carries it: what XML cannot carry replaced, bidi controls dropped
    (as in the kit's pictures), so a title cannot reorder the text a feed reader shows after
    it. ``changes.json`` keeps the text as it came: it is data, like ``gs_data.json``."""
    return _NOT_XML.sub("\ufffd", without_bidi(text))


def _utc(text: str) -> str:
    return _moment(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid_urn(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def feed_id(scholar_id: str) -> str:
    return _uuid_urn(f"{PROFILE_URL}{scholar_id}#changes")


def entry_id(scholar_id: str, fetched_at: str) -> str:
    """Stable across rebuilds: from the author and the fetch's time, nothing else."""
    return _uuid_urn(f"{PROFILE_URL}{scholar_id}#changes/{_utc(fetched_at)}")


def group_by_fetch(events: Sequence[ChangeEvent]) -> list[list[ChangeEvent]]:
    """The events of each fetch together, in the order of ``events`` (newest first)."""
    groups: dict[str, list[ChangeEvent]] = {}
    for event in events:
        groups.setdefault(_utc(event.at), []).append(event)
    return list(groups.values())


def entry_title(events: Sequence[ChangeEvent]) -> str:
    more = f" and {len(events) - 1} more change{'s' if len(events) > 2 else ''}"
    return describe(events[0]) + (more if len(events) > 1 else "")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def render_changes_xml(log: ChangeLog, name: str) -> bytes:
    """The Atom 1.0 feed of ``log``: one entry per fetch, newest first."""
    shown = name or log.scholar_id
    profile = PROFILE_URL + log.scholar_id
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _add(feed, "id", feed_id(log.scholar_id))
    _add(feed, "title", f"{shown}: changes on Google Scholar")
    _add(feed, "updated", _utc(log.events[0].at if log.events else log.since))
    _add(_add(feed, "author"), "name", shown)
    _add(feed, "link", rel="alternate", type="text/html", href=profile)
    _add(feed, "generator", "scholar-stats")
    for events in group_by_fetch(log.events):
        entry = _add(feed, "entry")
        _add(entry, "id", entry_id(log.scholar_id, events[0].at))
        _add(entry, "title", entry_title(events))
        _add(entry, "updated", _utc(events[0].at))
        _add(entry, "link", rel="alternate", type="text/html", href=profile)
        _add(entry, "content", "\n".join(describe(event) for event in events), type="text")
    ET.indent(feed)
    text: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


# --- after a fetch ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeUpdate:
    """What a successful fetch adds: its events, the change log they end up in, and what was
    wrong with a ``changes.json`` that could not be read (``warning``; it is then started
    afresh)."""

    events: tuple[ChangeEvent, ...]
    log: ChangeLog
    warning: str | None = None


def change_log_after(
    previous_record: Any, previous_log: bytes | None, data: AuthorData
) -> ChangeUpdate:
    """The change log after the fetch that gave ``data`` (what ``changes.json`` and
    ``changes.xml`` show).

    ``previous_record`` is the ``gs_data.json`` record already in the folder (``None``, another
    author's, or not a record at all: nothing to compare with, so no events); ``previous_log``
    the bytes of the ``changes.json`` there.
    """
    new = ProfileSnapshot.from_gs_data(data.gs_data)
    previous = None
    if isinstance(previous_record, dict) and previous_record.get("scholar_id") == data.scholar_id:
        try:
            previous = ProfileSnapshot.from_gs_data(previous_record)
            _moment(previous.at)
        except (KeyError, TypeError, ValueError, AttributeError):
            previous = None
    events = compute_events(previous, new)
    log, warning = None, None
    if previous_log is not None:
        try:
            log = parse_changes_json(previous_log, data.scholar_id)
        except ValueError as exc:
            warning = str(exc)
    log = updated_change_log(log, data.scholar_id, events, new.at,
                             previous.at if previous else None)
    return ChangeUpdate(events, log, warning)
