"""What an entry keeps, small: ``status.json`` and ``history.csv`` deflated against a preset
dictionary of what every author's files share (and back exactly), and one reply for the
authors whose endpoint JSON is the same bytes, in a table of bounded size."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone

import pytest
from support.store_helpers import gs_data

from scholar_stats.core.model import AuthorData, FetchStatus, HistoryRow
from scholar_stats.outputs import catalogue
from scholar_stats.outputs.catalogue import HISTORY, STATUS, AuthorState
from scholar_stats.service.entry import build_entry, epoch
from scholar_stats.service.packed import PACKED, pack_files, unpack_files
from scholar_stats.service.replies import SHARED_BODIES, shared

WHEN = "2026-12-05T04:51:21+00:00"


def drawn(scholar_id: str, days: int) -> dict[str, bytes]:
    """The two files as the catalogue draws them for an author fetched ``days`` times."""
    status = FetchStatus(scholar_id, "ok", 0, f"{scholar_id}: ok", WHEN, WHEN, 1, 0.8, 2021,
                         stale=False)
    history = [HistoryRow(f"2026-11-{day + 1:02d}", {
        "citations": 150 + day, "citations-5y": 78, "h-index": 12, "h-index-5y": 9,
        "i10-index": 20, "i10-index-5y": 11, "publications": 35}) for day in range(days)]
    return catalogue.draw(AuthorState(scholar_id, status=status, history=history), PACKED)


@pytest.mark.parametrize("files", [
    drawn("SYN000000017", 1),
    drawn("SYN000000017", 30),
    {STATUS.name: b'{"message": "caf\xc3\xa9 \xff\xfe not UTF-8"}'},  # any bytes at all
    {HISTORY.name: b""},
    {STATUS.name: b"\x00" * 5000, HISTORY.name: bytes(range(256)) * 3},
])
def test_packed_files_come_back_exactly(files: dict[str, bytes]) -> None:
    assert unpack_files(pack_files(files)) == files


def test_no_file_packs_to_nothing() -> None:
    assert pack_files({}) is None and unpack_files(None) == {}


def test_what_every_author_shares_is_not_kept_per_author() -> None:
    """Deflated alone, a status.json and a one-row history.csv took 250 bytes an author (2.5 MB
    with ten thousand); only their ids, times and numbers take room now."""
    files = drawn("SYN000000017", 1)
    alone = zlib.compress(json.dumps([files[f.name].decode() for f in PACKED]).encode(), 6)
    packed = pack_files(files)
    assert packed is not None and len(alone) > 220
    assert len(packed) < len(alone) / 2


def test_authors_with_the_same_answer_share_one_reply() -> None:
    json_type, cache = b"application/json", b"public, max-age=3600"
    body = b'{"schemaVersion": 1, "label": "h-index", "message": "12"}'
    one = shared(body, json_type, cache)
    assert shared(bytes(body), json_type, cache) is one
    assert one.body == body and one.cache == cache and one.ctype == json_type
    other = shared(body, json_type, b"public, max-age=60")
    assert other is not one and other.cache == b"public, max-age=60"


def test_the_shared_replies_are_bounded() -> None:
    """Ten thousand authors' citation counts are mostly distinct: the table is emptied when
    full, never grows past its bound, and shares again from then on."""
    json_type, cache = b"application/json", b"public, max-age=123"
    made = [shared(b"%d" % n, json_type, cache) for n in range(SHARED_BODIES * 2 + 10)]
    assert len({id(reply) for reply in made}) == len(made)
    assert shared(b"%d" % (SHARED_BODIES * 2 + 9), json_type, cache) is made[-1]
    from scholar_stats.service import replies
    assert 0 < len(replies._SHARED[json_type, cache]) <= SHARED_BODIES


def test_entries_keep_their_times_as_floats_and_share_their_year() -> None:
    """Per author, the store's times as two floats (a datetime takes twice a float, and the
    pair of the last attempt and the build's time took a tuple more), and one int object for a
    year every author counts the 5-year numbers from (an int past 256 is made anew each time)."""
    when = datetime(2026, 12, 5, 4, 51, 21, 123000, tzinfo=timezone.utc)  # whole milliseconds
    entries = [build_entry(AuthorState(sid, AuthorData(sid, gs_data(sid, {}), int("2021"))),
                           max_age=60, rebuild_at=0.0, attempted=epoch(when),
                           succeeded=epoch(when))
               for sid in ("SYN000000017", "SYN000000018")]
    assert entries[0].since_year == 2021 and entries[0].since_year is entries[1].since_year
    assert isinstance(entries[0].attempted, float) and isinstance(entries[0].succeeded, float)
    assert datetime.fromtimestamp(entries[0].succeeded, timezone.utc) == when  # back exactly
