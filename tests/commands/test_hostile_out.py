"""Files in ``--out`` that fetch did not write (issue 17, class 6): whatever a ``changes.json``,
``gs_data.json`` or ``status.json`` holds (100,000 nested arrays, the wrong types, text no file
can carry), ``fetch`` reads it under the same rules as a source's answer: a foreign
``changes.json`` is started afresh and a foreign ``gs_data.json`` is not compared with, each with
one warning line; a foreign ``status.json`` reads as none. Never exit 1.

Before: a deeply nested one of any of the three made ``fetch`` exit 1 (``RecursionError``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.fake_scholar import FakeScholar
from support.fake_serpapi import FakeSerpApi

from scholar_stats.cli import main

REAL = "LZ5D_p4AAAAJ"  # a real Scholar page
MEYER = "LSsXyncAAAAJ"  # a real SerpApi answer
DEEP = "[" * 100_000 + "]" * 100_000


def fetch(*args: str) -> int:
    return main(["fetch", *args])


def status_with(**fields: Any) -> str:
    base = {"scholar_id": REAL, "outcome": "ok", "exit_code": 0, "message": "ok",
            "last_attempt": "2026-01-01T00:00:00+00:00",
            "last_success": "2026-01-01T00:00:00+00:00", "requests": 1}
    return json.dumps({**base, **fields})


CHANGES = {
    "100,000 nested arrays": DEEP,
    "events nested 100,000 deep": json.dumps({"scholar_id": REAL, "since": "x", "events": []})
    .replace("[]", DEEP),
    "an event nested 40 deep": json.dumps({"scholar_id": REAL, "since": "x", "events": []})
    .replace("[]", "[" * 40 + "]" * 40),
    "the author id is an object 500 deep": '{"scholar_id": ' + '{"a":' * 500 + "1" + "}" * 500
    + ', "events": []}',
    "a lone surrogate in the author id": '{"scholar_id": "\\ud800", "events": []}',
}


@pytest.mark.parametrize("content", [*(c.encode() for c in CHANGES.values()),
                                     b'{"scholar_id": "\xff\xfe", "events": []}'],
                         ids=[*CHANGES, "invalid UTF-8"])
def test_a_foreign_changes_json_is_started_afresh_with_one_warning(
    fake_scholar: FakeScholar, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    content: bytes,
) -> None:
    assert fetch(REAL, "--out", str(tmp_path)) == 0  # a gs_data.json to compare with
    (tmp_path / "changes.json").write_bytes(content)
    capsys.readouterr()
    fake_scholar.doctor = lambda _u, page: page.replace(">56<", ">60<", 1)  # a change
    assert fetch(REAL, "--out", str(tmp_path)) == 0
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "changes.json is not a file scholar-stats wrote" in err
    assert "it is started afresh" in err
    changes = json.loads((tmp_path / "changes.json").read_text("utf-8"))
    assert changes["scholar_id"] == REAL
    assert {e["kind"] for e in changes["events"]} == {"metric"}


GS_DATA = {
    "100,000 nested arrays": DEEP,
    "publications nested 100,000 deep": '{"scholar_id": "' + REAL + '", "publications": '
    + DEEP + "}",
    "a title nested 40 deep": json.dumps({"scholar_id": REAL, "citedby": 1, "citedby5y": 1,
                                          "hindex": 1, "hindex5y": 1, "i10index": 1,
                                          "i10index5y": 1, "publications": {"t": []}})
    .replace("[]", "[" * 40 + "]" * 40),
    "citations are text": json.dumps({"scholar_id": REAL, "citedby": "9999", "citedby5y": 1,
                                      "hindex": 1, "hindex5y": 1, "i10index": 1,
                                      "i10index5y": 1, "publications": {}}),
    "citations are 10**30": json.dumps({"scholar_id": REAL, "citedby": 10**30, "citedby5y": 1,
                                        "hindex": 1, "hindex5y": 1, "i10index": 1,
                                        "i10index5y": 1, "publications": {}}),
}


@pytest.mark.parametrize("content", list(GS_DATA.values()), ids=list(GS_DATA))
@pytest.mark.parametrize("scholar", ["ok", "403"])
def test_a_foreign_gs_data_json_is_not_compared_with_and_said_once(
    fake_scholar: FakeScholar, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    content: str, scholar: str,
) -> None:
    (tmp_path / "gs_data.json").write_text(content)
    (tmp_path / "status.json").write_text(status_with(last_success="2000-01-01T00:00:00+00:00"))
    fake_scholar.mode = scholar
    assert fetch(REAL, "--out", str(tmp_path)) == (0 if scholar == "ok" else 3)
    err = capsys.readouterr().err.splitlines()
    assert "gs_data.json is not a file scholar-stats wrote" in err[0], err
    assert "nothing is compared with it" in err[0]
    assert len(err) == (1 if scholar == "ok" else 2), err  # and the block's own line
    if scholar == "ok":
        assert json.loads((tmp_path / "gs_data.json").read_text())["scholar_id"] == REAL
    else:  # kept as it was: a failed fetch never touches the data files
        assert (tmp_path / "gs_data.json").read_text() == content
        assert not (tmp_path / "badges").exists()  # nothing drawn from it


STATUS = {
    "100,000 nested arrays": DEEP,
    "exit_code is a list": status_with(exit_code=[0]),
    "exit_code is 5000 digits": status_with().replace('"exit_code": 0', '"exit_code": '
                                                       + "9" * 5000),
    "requests is an object": status_with(requests={"a": 1}),
    "last_success is a number": status_with(last_success=5),
    "since_year is a list": status_with(since_year=[2021]),
    "duration is 1e999": status_with().replace('"requests": 1', '"duration_seconds": 1e999'),
    "stale is text": status_with(stale="yes"),
    "the message holds NUL and ESC": status_with(message="a\u0000\u001b[2J"),
    "searches are nested": status_with(serpapi_searches={"month": [[["2026-01"]]], "count": 1}),
}


@pytest.mark.parametrize("content", list(STATUS.values()), ids=list(STATUS))
def test_a_foreign_status_json_reads_as_none(
    fake_serpapi: FakeSerpApi, fake_scholar: FakeScholar, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], content: str,
) -> None:
    (tmp_path / "status.json").write_text(content)
    fake_serpapi.mode = "out_of_searches"  # a failed fetch carries last_success over, if any
    assert fetch(MEYER, "--source", "serpapi", "--out", str(tmp_path)) == 3
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "internal error" not in err
    written = json.loads((tmp_path / "status.json").read_text())
    assert written["exit_code"] == 3 and written["last_success"] in (
        None, "2026-01-01T00:00:00+00:00")
    assert isinstance(written["requests"], int) and "\x00" not in written["message"]
