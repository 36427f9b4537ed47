"""What an entry keeps packed comes back exactly, and small: ``status.json`` and ``history.csv``
deflated against a preset dictionary of what every author's files share."""

from __future__ import annotations

import json
import zlib

import pytest

from scholar_stats.core.model import FetchStatus, HistoryRow
from scholar_stats.outputs import catalogue
from scholar_stats.outputs.catalogue import HISTORY, STATUS, AuthorState
from scholar_stats.service.packed import PACKED, pack_files, unpack_files

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
