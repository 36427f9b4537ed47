"""Every command that prints scraped text prints it inert (issue 17, class 8).

A stored author whose name, affiliation and titles carry terminal escapes (clear the screen, set
the window title), a carriage return, NUL, a bidi override and a line separator (or a fetched one,
for ``refresh``, ``schedule`` and ``fetch``); each command is run as a real process and the
bytes it prints are checked: no control, format or separator
character reaches the terminal, and the text is still there, shown as escapes. CSV and JSON stay
valid and give the exact text back (JSON escapes the hidden characters; CSV carries them, except
on a terminal). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import pty
import signal
import subprocess
import sys
import threading
import tty
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.cli_helpers import cli_env
from support.fake_scholar import FakeScholar
from support.store_helpers import T0, database_url, success

from scholar_stats.cli import main
from scholar_stats.core.text import clean_text, json_safe, log_safe, without_bidi
from scholar_stats.refresh.attempt import FetchOutcome
from scholar_stats.refresh.record import record_outcome
from scholar_stats.store.database import Store

A = "DhtAFkwAAAAJ"  # the hostile author
B = "amIMrIEAAAAJ"  # a co-author, plain text
ESCAPES = "\x1b[2J\x1b]0;title\x07"  # clear the screen; set the window title
HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")


@dataclass(frozen=True)
class Hostile:
    """The texts of the hostile author as fed in, as kept (the store and the sources remove what
    no file, database or terminal can carry: NUL, ESC, BEL) and as a table shows them."""

    name: str
    affiliation: str
    title: str

    @property
    def name_kept(self) -> str:
        return clean_text(self.name)

    @property
    def title_kept(self) -> str:
        return clean_text(self.title)

    @property
    def name_shown(self) -> str:
        return log_safe(self.name_kept)

    @property
    def title_shown(self) -> str:
        return log_safe(self.title_kept)


def hostile_texts(nul: str = "\x00") -> Hostile:
    """``nul`` is "" on PostgreSQL, whose text columns cannot hold NUL at all."""
    return Hostile(
        name=f"Ada{ESCAPES} Lovelace\r{nul}\u202eevil\u2028next",
        affiliation=f"Lab{ESCAPES}\r{nul}\u202e\u2028",
        title=f"Graphs{ESCAPES}\rover{nul}\u202egnp.exe\u2028line",
    )


TEXTS = hostile_texts()


def inert(data: bytes) -> str:
    """``data`` as text, after checking it is UTF-8 with no hidden character but line ends."""
    for raw in (b"\x1b", b"\r", b"\x00", b"\x07", "\u202e".encode(), "\u2028".encode()):
        assert raw not in data, (raw, data)
    text = data.decode("utf-8")
    hidden = sorted({char for char in text
                     if char != "\n" and unicodedata.category(char) in HIDDEN})
    assert not hidden, (hidden, text)
    return text


def hostile(scholar_id: str, pubs: dict[str, int], at: datetime, texts: Hostile) -> FetchOutcome:
    """A successful fetch of ``scholar_id`` whose name, affiliation and titles are hostile."""
    outcome = success(scholar_id, pubs, at)
    assert outcome.data is not None
    outcome.data.gs_data["name"] = texts.name
    outcome.data.gs_data["affiliation"] = texts.affiliation
    for pub in outcome.data.gs_data["publications"].values():
        pub["bib"]["title"] = texts.title + " " + pub["author_pub_id"][-2:]
    return outcome


@dataclass(frozen=True)
class Stored:
    url: str
    texts: Hostile


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stored]:
    """A and B tracked and in the group "lab"; A fetched twice, a paper's count changed."""
    texts = hostile_texts("\x00" if request.param == "sqlite" else "")
    with database_url(request.param, tmp_path) as url:
        with Store(url) as store:
            store.add_authors([A, B], 86400, T0)
            record_outcome(store, hostile(A, {"p1": 10, "p2": 3}, T0, texts), T0)
            later = T0 + timedelta(days=1)
            record_outcome(store, hostile(A, {"p1": 14, "p2": 3}, later, texts), later)
            record_outcome(store, success(B, {"p9": 1}), T0)
            store.add_to_group("lab", [A, B])
        yield Stored(url, texts)


def printed(*args: str) -> tuple[int, bytes, bytes]:
    proc = subprocess.run([sys.executable, "-m", "scholar_stats", *args], env=cli_env(),
                          capture_output=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_authors_list(db: Stored) -> None:
    code, out, err = printed("authors", "list", "--db", db.url)
    assert code == 0 and A in inert(out) and inert(err) == ""  # no scraped column, none raw


def test_history_in_every_format(db: Stored) -> None:
    for fmt in ("table", "csv", "json"):  # the metrics: numbers only, and stay so
        code, out, err = printed("history", A, "--format", fmt, "--db", db.url)
        assert code == 0 and "17" in inert(out) and inert(err) == ""  # 14 + 3 citations


def test_history_papers_in_every_format(db: Stored) -> None:
    texts = db.texts
    code, out, err = printed("history", A, "--papers", "--db", db.url)
    table = inert(out)
    assert code == 0 and f"{texts.title_shown} p1" in table and inert(err) == ""
    assert len(table.splitlines()) == 4  # the header and three changes: no line was broken

    titles = [texts.title_kept + " p1", texts.title_kept + " p1", texts.title_kept + " p2"]
    code, out, err = printed("history", A, "--papers", "--format", "csv", "--db", db.url)
    rows = list(csv.DictReader(io.StringIO(out.decode("utf-8"), newline="")))
    assert code == 0 and inert(err) == ""
    assert [row["title"] for row in rows] == titles  # exact: CR, NUL, U+202E, U+2028 and all

    code, out, err = printed("history", A, "--papers", "--format", "json", "--db", db.url)
    assert code == 0 and inert(err) == ""
    assert [row["title"] for row in json.loads(inert(out))] == titles


def test_groups_list_and_show(db: Stored) -> None:
    code, out, err = printed("groups", "list", "--db", db.url)
    assert code == 0 and "lab" in inert(out) and inert(err) == ""
    code, out, err = printed("groups", "show", "lab", "--db", db.url)
    assert code == 0 and f"{A} {db.texts.name_shown}" in inert(out) and inert(err) == ""
    code, out, err = printed("groups", "show", "lab", "--format", "json", "--db", db.url)
    members = json.loads(inert(out))["members"]
    assert code == 0 and members[0]["name"] == db.texts.name_kept and inert(err) == ""


def test_export_messages(db: Stored, tmp_path: Path) -> None:
    for args in ([A], ["--group", "lab"]):
        code, out, err = printed("export", *args, "--db", db.url, "--out", str(tmp_path / "x"))
        assert code == 0 and "files ->" in inert(out) and inert(err) == ""


def test_changes_xml_drops_bidi_overrides_and_changes_json_keeps_the_text(
    db: Stored, tmp_path: Path
) -> None:
    assert main(["export", A, "--db", db.url, "--out", str(tmp_path / "out")]) == 0
    feed = (tmp_path / "out" / "changes.xml").read_text("utf-8")
    for bidi in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert bidi not in feed
    root = ET.fromstring(feed)  # still a well-formed feed
    atom = "{http://www.w3.org/2005/Atom}"
    assert root.findtext(f"{atom}author/{atom}name", "").startswith("Ada[2J]0;title Lovelace")
    assert "gnp.exe" in root.findtext(f"{atom}entry/{atom}content", "")
    events = json.loads((tmp_path / "out" / "changes.json").read_bytes())["events"]
    papers = [event["title"] for event in events if event["kind"] == "paper_citations"]
    assert papers == [db.texts.title_kept + " p1"]  # data: as kept


def test_csv_on_a_terminal_is_inert(db: Stored) -> None:
    """``history --papers --format csv`` to a terminal (a pty): the titles as the table shows
    them; the same command into a pipe carries them exactly (above)."""
    leader, follower = pty.openpty()
    tty.setraw(follower)  # bytes as written: no CR added before each LF
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholar_stats", "history", A, "--papers", "--format", "csv",
         "--db", db.url], env=cli_env(), stdin=subprocess.DEVNULL, stdout=follower,
        stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    printed = b"".join(chunks)
    assert proc.wait(timeout=60) == 0, printed
    assert printed.count(b"\r\n") == 4  # CSV's line ends: the header and three rows
    text = inert(printed.replace(b"\r\n", b"\n"))
    assert f"{db.texts.title_shown} p1" in text


def test_refresh_and_fetch_print_the_fetched_name_inert(
    fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    fake_scholar.add_profile(A, pubs=3, citations=50, name=TEXTS.name)
    with database_url("sqlite", tmp_path) as db:
        assert main(["authors", "add", A, "--db", db]) == 0
        code, out, err = printed("refresh", "--db", db)
        assert code == 0 and f"{A}: {TEXTS.name_shown}: 50 citations" in inert(out)
        assert inert(err) == ""
    code, out, err = printed("fetch", A, "--out", str(tmp_path / "out"))
    assert code == 0 and f"{A}: {TEXTS.name_shown}: 50 citations" in inert(out)
    assert inert(err) == ""


def test_schedule_prints_the_fetched_name_inert(fake_scholar: FakeScholar, tmp_path: Path) -> None:
    fake_scholar.add_profile(A, pubs=3, citations=50, name=TEXTS.name)
    with database_url("sqlite", tmp_path) as db:
        assert main(["authors", "add", A, "--db", db]) == 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "scholar_stats", "schedule", "--db", db, "--delay", "0"],
            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        watchdog = threading.Timer(60, proc.kill)  # a schedule that never fetches fails
        watchdog.start()
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline(), proc.stdout.readline()]  # started; the fetch
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert f"{A}: {TEXTS.name_shown}: 50 citations" in inert(b"".join(lines) + out)
    assert inert(err) == ""


def test_a_logged_warning_quoting_scraped_text_is_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The log handler ``main`` installs shows each message through ``log_safe``."""
    monkeypatch.setattr(logging.root, "handlers", [])  # pytest's own: basicConfig would keep
    monkeypatch.setattr(logging.root, "level", logging.root.level)  # them and this level
    with database_url("sqlite", tmp_path) as db:
        assert main(["authors", "list", "--db", db]) == 0
    logging.getLogger("scholar_stats.refresh.engine").warning("%s: %s", A, TEXTS.name)
    err = capsys.readouterr().err
    shown = f"WARNING scholar_stats.refresh.engine: {A}: {log_safe(TEXTS.name)}\n"
    assert inert(err.encode()) == shown


def test_log_safe_and_json_safe_cover_every_hidden_character() -> None:
    text = "a\x1b[2J\x07\r\x00\x7f\x85\u200b\u202e\u2066\u2028\u2029\ufeff\U000e0001\ud800 Zoë"
    assert log_safe(text) == ("a\\x1b[2J\\x07\\r\\x00\\x7f\\x85\\u200b\\u202e\\u2066\\u2028"
                              "\\u2029\\ufeff\\U000e0001\\ud800 Zoë")
    assert log_safe(log_safe(text)) == log_safe(text)  # escaping twice changes nothing more
    encoded = json_safe({"title": text})
    assert json.loads(encoded) == {"title": text}  # exact
    assert "Zoë" in encoded and inert(encoded.encode("utf-8", "surrogatepass")) == encoded
    assert "\\udb40\\udc01" in encoded  # beyond the BMP: a surrogate pair, as JSON has it
    assert without_bidi("a\u202ab\u202ec\u2066d\u2069e\u200f") == "abcde\u200f"
