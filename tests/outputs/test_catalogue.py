"""The catalogue of an author's files (``outputs/catalogue.py``) is the one place a file is named
and drawn: no other module spells a name, docs/files.md's tables are its, every file it declares is
written, served and routed by its name, the kit's drawings are the service's, and one rule says
which papers have files."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
from pathlib import Path

import pytest
from support.paths import ROOT
from support.store_helpers import gs_data

from scholar_stats.core.model import METRIC_NAMES, AuthorData, FetchStatus
from scholar_stats.outputs import catalogue
from scholar_stats.outputs.catalogue import (
    BRANCH_FILES,
    CATALOGUE,
    GS_DATA,
    KIT,
    PAPER_SHIELDS,
    PAPERS,
    STATUS,
    AuthorState,
    draw,
    paper_key,
)
from scholar_stats.outputs.changes import ChangeLog
from scholar_stats.outputs.history import HistoryRow
from scholar_stats.publish.results import only_volatile_changes
from scholar_stats.service.entry import KEPT_SLOTS
from scholar_stats.service.snapshot import ON_DEMAND, Reply, Snapshot, build_entry, resolve

PACKAGE = ROOT / "scholar_stats"
SID = "CATALOGUE001"
HELP = ("help", "description")  # argparse's and the API's help texts may name files


def spelled() -> list[str]:
    """What spells a catalogue file: its name, or for a family its folder (``shields/``)."""
    return sorted({f.prefix for f in CATALOGUE})  # a family's is its folder


def code_strings(tree: ast.Module) -> list[tuple[int, str]]:
    """The string constants of a module that are code: not docstrings, not help texts (a
    ``help=``/``description=`` argument, the help of ``config.declare``)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.Call):
            helps = [k.value for k in node.keywords if k.arg in HELP]
            if isinstance(node.func, ast.Name) and node.func.id == "declare" and len(
                    node.args) > 2:
                helps.append(node.args[2])
            skipped.update(id(part) for text in helps for part in ast.walk(text))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skipped]


def spellings_in(text: str) -> list[str]:
    return [name for name in spelled() if name in text]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_but_the_catalogue_spells_a_file_name(path: Path) -> None:
    if path == PACKAGE / "outputs" / "catalogue.py":
        return
    found = [(line, name) for line, text in code_strings(ast.parse(path.read_text("utf-8")))
             for name in spellings_in(text)]
    assert not found, f"{path.relative_to(PACKAGE)} spells {found}: take it from the catalogue"


@pytest.mark.parametrize("path", sorted((PACKAGE / "service" / "templates").glob("*.html")),
                         ids=lambda p: p.name)
def test_the_pages_link_files_by_the_catalogues_names(path: Path) -> None:
    assert not spellings_in(path.read_text("utf-8")), path.name


def test_the_check_sees_a_name_in_code_and_not_in_docs_or_help() -> None:
    tree = ast.parse('"""gs_data.json"""\nNAME = "status.json"\nPATH = f"badges/{x}.svg"\n'
                     'def f():\n    """card.svg"""\n    p.add_argument("-x", help="chart.svg")\n'
                     '    declare("a", 1, "history.csv", FETCH, flag="--a")\n')
    found = {name for _, text in code_strings(tree) for name in spellings_in(text)}
    assert found == {"status.json", "badges/"}


def test_the_documented_file_tables_are_the_catalogues() -> None:
    """docs/files.md shows the catalogue: the files fetch writes, then every file with where
    it is made (on a mismatch, run python docs/gen_reference.py)."""
    files = (ROOT / "docs" / "files.md").read_text("utf-8")
    table = catalogue.file_table()
    assert table in files, "docs/files.md's table of fetch's files should read:\n" + table
    for entry in catalogue.CATALOGUE:
        assert f"| `{entry.name}` |" in files.split("## Every file of an author", 1)[1]


def full_state(stale: bool = False) -> AuthorState:
    record = gs_data(SID, {"P00000000001": 4, "P00000000002": 9})
    record["publications"][f"{SID}:bad.id"] = {"num_citations": 3, "bib": {"title": "dot"}}
    record["publications"]["OTHERAUTHOR1:P00000000003"] = {"num_citations": 2, "bib": {}}
    record["publications"][f"{SID}:{'x' * 65}"] = {"num_citations": 1, "bib": {}}
    data = AuthorData(SID, record, since_year=2021)
    status = FetchStatus(SID, "ok", 0, "ok", "2026-01-01T12:00:00+00:00",
                         "2026-01-01T12:00:00+00:00")
    history = [HistoryRow.from_metrics("2026-01-01", data.metrics)]
    return AuthorState(SID, data, status, history, ChangeLog(SID, data.updated, ()), stale)


def test_every_file_drawn_is_one_of_the_catalogue_and_every_one_is_drawn() -> None:
    files = draw(full_state(), CATALOGUE)
    owners = {path: [f for f in CATALOGUE if (key := f.key_of(path)) is not None
                     and "/" not in key] for path in files}  # a key is one path segment
    assert all(len(found) == 1 for found in owners.values()), owners
    assert {found[0] for found in owners.values()} == set(CATALOGUE)
    assert {m for m in METRIC_NAMES if f"shields/{m}.json" in files} == set(METRIC_NAMES)
    assert not draw(AuthorState(SID), CATALOGUE).keys() - {catalogue.SCRIPT.name}  # no state


def test_one_rule_says_which_papers_have_files() -> None:
    assert paper_key(SID, f"{SID}:ALROH1vI_8AC") == "ALROH1vI_8AC" == paper_key(SID,
                                                                                "ALROH1vI_8AC")
    for foreign in (f"{SID}:bad.id", "OTHERAUTHOR1:P00000000003", f"{SID}:{'x' * 65}", f"{SID}:"):
        assert paper_key(SID, foreign) is None, foreign
    files = draw(full_state(), [PAPERS, PAPER_SHIELDS])
    assert set(files) == {"papers/P00000000001.json", "papers/P00000000002.json",
                          f"papers/{SID}:P00000000001/shields.json",
                          f"papers/{SID}:P00000000002/shields.json"}


def served(snapshot: Snapshot, rest: str, query: dict[str, str] | None = None) -> Reply:
    """The service's answer for ``/authors/SID/rest``, made here when it is to be drawn."""
    found = resolve(snapshot, SID, rest, query or {})
    return found if isinstance(found, Reply) else found.make()


@pytest.mark.parametrize("stale", [False, True])
def test_the_service_serves_the_kit_the_catalogue_draws(stale: bool) -> None:
    """The badge, the chart, the card and the paper endpoints are drawn once: the service's
    answers are the kit's files byte for byte (its endpoints announcing its max-age as
    ``cacheSeconds``), and the papers the kit has no file for are unknown to the service too
    (a 200 with ``isError``: shields reads no other answer)."""
    state = full_state(stale)
    snapshot = Snapshot(max_age=60)
    snapshot.update({SID: build_entry(state, max_age=60, rebuild_at=math.inf)})
    for path, body in draw(dataclasses.replace(state, cache_seconds=60), KIT).items():
        reply = served(snapshot, path)
        assert (reply.status, reply.body) == (200, body), path
    endpoint = served(snapshot, "papers/P00000000002.json").body
    assert json.loads(endpoint)["cacheSeconds"] == 60
    for rest in (f"papers/{SID}:P00000000002/shields.json", "papers/P00000000002/shields.json"):
        assert served(snapshot, rest).body == endpoint
    for pub_id in (f"{SID}:bad.id", "bad.id", "OTHERAUTHOR1:P00000000003", "x" * 65):
        reply = served(snapshot, f"papers/{pub_id}/shields.json")
        assert reply.status == 200 and reply.error == "unknown paper", pub_id
        assert json.loads(reply.body)["isError"] is True
    styled = served(snapshot, "badges/h-index.svg", {"style": "plastic", "label": "h"})
    assert styled.status == 200 and b">h<" in styled.body


def test_the_service_builds_its_answers_from_the_data_without_reading_them_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``build_entry`` draws what it keeps from the author's state: nothing it drew is parsed
    (every JSON decoder is refused while it runs), and what it keeps is what export writes."""
    state = full_state()

    def refused(*args: object, **kwargs: object) -> object:
        raise AssertionError("an answer was read back")

    monkeypatch.setattr(json, "loads", refused)
    monkeypatch.setattr(json.JSONDecoder, "decode", refused)
    monkeypatch.setattr(json.JSONDecoder, "raw_decode", refused)
    entry = build_entry(state, max_age=60, rebuild_at=math.inf)
    monkeypatch.undo()
    drawn = draw(dataclasses.replace(state, cache_seconds=60),
                 [f for f in BRANCH_FILES if not f.kit])
    kept = {name: body for name, body in drawn.items() if name not in ON_DEMAND}
    assert {name: reply.body for name, slot in KEPT_SLOTS.items()
            if (reply := entry.replies[slot]) is not None} == kept
    snapshot = Snapshot(max_age=60, authors={SID: entry})
    for name in ON_DEMAND:  # drawn from what the entry keeps packed, when asked
        found = resolve(snapshot, SID, name, {})
        reply = found if isinstance(found, Reply) else found.make()
        assert reply.body == drawn[name], name
    assert state.data is not None
    assert dict(zip(METRIC_NAMES, entry.values or (), strict=True)) == state.data.metrics.as_dict()
    assert entry.state() == AuthorState(SID, state.data, state.status,
                                               list(state.history or ()), stale=False)


def test_every_file_the_service_serves_has_its_route() -> None:
    from scholar_stats.service.app import create_app
    from scholar_stats.service.settings import ServiceSettings

    app = create_app(ServiceSettings(db_url="sqlite://", scheduler=False, poll_seconds=0))

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}|<[^>]*>", "*", path)

    routes = {shape(getattr(route, "path", "")) for route in app.routes}
    for file in CATALOGUE:
        where = "/" if file.top else "/authors/*/"
        assert (shape(where + file.name) in routes) == file.service, file.name
        if file.service and not file.top:
            assert catalogue.route_label(file.path("x")) != "other", file.name


def test_publish_compares_what_the_catalogue_does_not_call_volatile() -> None:
    base = draw(full_state())
    record = json.loads(base[GS_DATA.name])
    for member in GS_DATA.volatile.members:
        record[member] = "another time"
    assert only_volatile_changes(base, {**base, GS_DATA.name: json.dumps(record).encode()})
    record["citedby"] += 1
    assert not only_volatile_changes(base, {**base, GS_DATA.name: json.dumps(record).encode()})
    status = json.loads(base[STATUS.name])
    status.update(last_attempt="later", message="again", duration_seconds=9.5)
    assert only_volatile_changes(base, {**base, STATUS.name: json.dumps(status).encode()})
    status["serpapi_searches"] = {"month": "2026-01", "count": 1}  # kept: the month's budget
    assert STATUS.volatile.kept == ("serpapi_searches",)
    assert not only_volatile_changes(base, {**base, STATUS.name: json.dumps(status).encode()})
    derived = [f for f in CATALOGUE if f.volatile.kept == ()]
    assert [f.name for f in derived] == ["history.csv"]
    assert only_volatile_changes(base, {**base, derived[0].name: b"anything"})


def test_the_kit_draws_with_render_and_render_knows_no_file() -> None:
    """The old circle (render imported the kit inside a function, the kit imported render) is
    gone: render.py imports neither the kit nor the catalogue, at any depth."""
    tree = ast.parse((PACKAGE / "outputs" / "render.py").read_text("utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not {name for name in imported if name and name.startswith(
        ("scholar_stats.outputs.kit", "scholar_stats.outputs.catalogue"))}
