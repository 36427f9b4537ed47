"""The layout docs/architecture.md, "The layers" draws, held by the suite: no module over 400
lines; the pure layers (``core/``, ``outputs/``) import no I/O (no database, HTTP, sockets,
processes or files); no import circles; every import points down the layer order below.

The import graph is read from the source (``ast``) of every module of the package: imports at
module level and inside functions alike (a function-level import is an arrow all the same, only
later), and a command handler named as ``"module:function"`` (how cli.py imports a command's
module when it runs). Imports under ``if TYPE_CHECKING:`` are left out: they never run, and they
are how a module names the type of what it is handed (``outputs/export.py`` reads through the
store it is given) without depending on that code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from support.paths import ROOT as REPOSITORY

PACKAGE = REPOSITORY / "scholar_stats"
ROOT = "scholar_stats"
MAX_LINES = 400
PURE = ("core", "outputs")
# what a pure module may not import at run time (typing-only imports are fine)
IO_MODULES = {"sqlalchemy", "httpx", "httpcore", "fastapi", "starlette", "uvicorn", "apscheduler",
              "psycopg", "socket", "subprocess", "urllib.request", "http.client", "shutil",
              "tempfile", "sqlite3", "scholar_stats.store", "scholar_stats.service",
              "scholar_stats.net", "scholar_stats.sources", "scholar_stats.refresh",
              "scholar_stats.publish", "scholar_stats.commands", "scholar_stats.files"}

# The layer order, lowest first: each part is a subpackage or a top-level module of the package
# (``scholar_stats`` itself: its __init__, the version). A module may import its own part and
# any part of an earlier layer; the parts of one layer stand side by side and import none of
# each other. docs/architecture.md, "The layers" describes each, in a table checked below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("scholar_stats", "errors", "extras"),  # the version, the exception tree, extras' names
    ("core",),                 # the pure model and every decision
    ("parsers",),              # the settings' value parsers, pure
    ("outputs", "store"),      # the bytes of every file; the only SQL: both from core's values
    ("net", "files"),          # the bounded transport and deadline; the results folder on disk
    ("notify",),               # webhooks, over net, with outputs' change messages
    ("config",),               # every setting declared (notify's URL parser is one parser)
    ("redact", "settings"),    # secrets masked; the fetch settings built from config
    ("sources",),              # Scholar and SerpApi
    ("refresh",),              # the one refresh engine and fetch path
    ("service", "publish"),    # the web service; git and the published branch
    ("commands",),             # the command handlers and the GitHub Action
    ("cli",),                  # the command line: argparse, and a command's module when it runs
    ("__main__",),             # python -m scholar_stats
)
PURE_IMPORTS = {"core": {"core", "errors"}, "outputs": {"core", "outputs", "errors"}}
COMMANDS_IMPORTED_BY = {"commands", "cli"}  # the command line is the one way into a command
# Circles known and owned elsewhere: each line goes when the branch named removes its circle.
KNOWN_CIRCLES: frozenset[frozenset[str]] = frozenset()
HANDLER = re.compile(r"(scholar_stats(?:\.\w+)+):\w+")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines: split it"


def runtime_imports(tree: ast.Module) -> set[str]:
    """Modules imported outside ``if TYPE_CHECKING:`` blocks, at any depth."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@pytest.mark.parametrize("path", [p for layer in PURE for p in sorted((PACKAGE / layer).rglob(
    "*.py"))], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_pure_layers_import_no_io(path: Path) -> None:
    imported = runtime_imports(ast.parse(path.read_text("utf-8")))
    bad = {name for name in imported
           if any(name == io or name.startswith(io + ".") for io in IO_MODULES)}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_the_check_sees_an_io_import() -> None:
    tree = ast.parse("import httpx\nfrom typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    import sqlalchemy\n"
                     "def f():\n    from scholar_stats.store.database import Store\n")
    assert runtime_imports(tree) >= {"httpx", "scholar_stats.store.database"}
    assert "sqlalchemy" not in runtime_imports(tree)


# ---- the import graph and its rules --------------------------------------------------------

def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = [ROOT, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.Module, name: str, is_package: bool) -> Iterable[str]:
    """Every name ``tree`` imports at run time (module ``name``): ``import a.b``, ``from a import
    b`` (as ``a.b``: b may be a module), relative imports resolved, handler strings."""
    here = name.split(".") if is_package else name.split(".")[:-1]

    def visit(node: ast.AST) -> Iterable[str]:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield from visit(child)
            return
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            package = here[:len(here) - node.level + 1] if node.level else []
            base = ".".join([*package, *([node.module] if node.module else [])])
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = HANDLER.fullmatch(node.value)
            if match:
                yield match.group(1)
        for child in ast.iter_child_nodes(node):
            yield from visit(child)

    yield from visit(tree)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the modules of the package it imports (the longest module each name is in)."""
    paths = {module_name(path, package): path for path in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text("utf-8"))
        targets = set()
        for imported in imported_names(tree, name, path.name == "__init__.py"):
            while imported and imported not in paths:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def part(module: str) -> str:
    """The part of the layer order a module belongs to: its subpackage or top-level module."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def layer_of(part_name: str) -> int | None:
    return next((i for i, parts in enumerate(LAYERS) if part_name in parts), None)


def circles(graph: Mapping[str, set[str]]) -> list[tuple[frozenset[str], list[str]]]:
    """Each strongly connected group of modules (Tarjan's algorithm: every module of it reaches
    every other), with a shortest way round it from its least module (first repeated last)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [(frozenset(group), way_round(min(group), group, graph)) for group in groups]


def way_round(start: str, group: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    """A shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph.get(node, set()) & group):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"{start} is in no circle")  # pragma: no cover: Tarjan said it was


def circle_problems(graph: Mapping[str, set[str]],
                    known: frozenset[frozenset[str]] = KNOWN_CIRCLES) -> list[str]:
    """A line per circle not known: its way round, and the other modules caught in it."""
    return [" -> ".join(way) + (f" (also in it: {', '.join(sorted(group - set(way)))})"
                                if group - set(way) else "")
            for group, way in circles(graph) if group not in known]


def arrow_problems(graph: Mapping[str, set[str]]) -> list[str]:
    """Every import between two parts that does not point to an earlier layer."""
    problems = []
    for module, targets in sorted(graph.items()):
        mine = layer_of(part(module))
        if mine is None:
            problems.append(f"{module} is in no layer: give {part(module)!r} its place in LAYERS")
            continue
        for target in sorted(targets):
            theirs = layer_of(part(target))
            if part(target) == part(module) or (theirs is not None and theirs < mine):
                continue
            where = "beside" if theirs == mine else "above"
            problems.append(f"{module} -> {target}: {part(module)} imports {part(target)}, "
                            f"{where} it")
    return problems


def pure_problems(graph: Mapping[str, set[str]]) -> list[str]:
    """``core/`` and ``outputs/`` import only the pure layer and ``errors``."""
    return [f"{module} -> {target}: {part(module)} may import only "
            f"{', '.join(sorted(PURE_IMPORTS[part(module)]))}"
            for module, targets in sorted(graph.items()) if part(module) in PURE_IMPORTS
            for target in sorted(targets) if part(target) not in PURE_IMPORTS[part(module)]]


def command_problems(graph: Mapping[str, set[str]]) -> list[str]:
    """Only the command line (cli.py) imports ``commands/``."""
    return [f"{module} -> {target}: only cli imports commands"
            for module, targets in sorted(graph.items())
            if part(module) not in COMMANDS_IMPORTED_BY
            for target in sorted(targets) if part(target) == "commands"]


def layout_report(graph: Mapping[str, set[str]]) -> list[str]:
    """Every problem of the layout, one line each (what this file prints when run:
    ``PYTHONPATH=tests python tests/project/test_layout.py``)."""
    return [*(f"circle: {line}" for line in circle_problems(graph)),
            *(f"arrow: {line}" for line in arrow_problems(graph)),
            *(f"pure: {line}" for line in pure_problems(graph)),
            *(f"commands: {line}" for line in command_problems(graph))]


GRAPH = import_graph()


def test_there_is_no_import_circle() -> None:
    assert circle_problems(GRAPH) == []


def test_the_known_circles_are_still_there() -> None:
    """A known circle that is gone must leave KNOWN_CIRCLES too, or it would hide a new one."""
    found = {group for group, _ in circles(GRAPH)}
    assert found >= KNOWN_CIRCLES, sorted(map(sorted, KNOWN_CIRCLES - found))


def test_every_import_points_down_the_layers() -> None:
    assert arrow_problems(GRAPH) == []


def test_core_and_outputs_import_only_the_pure_layer_and_errors() -> None:
    assert pure_problems(GRAPH) == []


def test_only_the_command_line_imports_commands() -> None:
    assert command_problems(GRAPH) == []


def test_every_part_of_the_package_has_one_layer() -> None:
    parts = [name for layer in LAYERS for name in layer]
    assert len(parts) == len(set(parts))
    assert {part(module) for module in GRAPH} == set(parts)


def documented_layers(text: str) -> list[tuple[str, ...]]:
    """The layers of the table under "## The layers": rows ``| N | `part`, ... | ...``, the parts
    of one N side by side (``__init__.py`` is the package itself)."""
    section = text.split("\n## The layers\n", 1)[1].split("\n## ", 1)[0]
    layers: dict[int, list[str]] = {}
    for number, parts in re.findall(r"^\| (\d+) \| ([^|]+) \|", section, re.M):
        for name in re.findall(r"`([^`]+)`", parts):
            name = ROOT if name == "__init__.py" else name.removesuffix("/").removesuffix(".py")
            layers.setdefault(int(number), []).append(name)
    return [tuple(layers[number]) for number in sorted(layers)]


def test_the_documented_layers_are_the_enforced_ones() -> None:
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text("utf-8")
    assert documented_layers(text) == [tuple(layer) for layer in LAYERS]


# ---- the checker, tried on planted violations -----------------------------------------------

def planted(*arrows: str) -> dict[str, set[str]]:
    """A graph from ``"a -> b"`` lines, module names under the package."""
    graph: dict[str, set[str]] = {}
    for arrow in arrows:
        source, target = (ROOT if name.strip() == ROOT else f"{ROOT}.{name.strip()}"
                          for name in arrow.split("->"))
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    return graph


def test_the_graph_sees_function_level_imports_and_handlers_but_not_typing_ones(
    tmp_path: Path,
) -> None:
    package = tmp_path / ROOT
    files = {
        "__init__.py": "", "core/__init__.py": "", "core/model.py": "",
        "store/__init__.py": "", "store/reads.py": "", "commands/__init__.py": "",
        "commands/fetch.py": "",
        "core/plan.py": "from typing import TYPE_CHECKING\nfrom . import model\n"
                        "if TYPE_CHECKING:\n    from scholar_stats.store import reads\n",
        "core/gate.py": "def later():\n    from ..store.reads import Store\n",
        "cli.py": 'HANDLER = "scholar_stats.commands.fetch:cli_fetch"\n',
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    graph = import_graph(package)
    assert graph[f"{ROOT}.core.plan"] == {f"{ROOT}.core.model"}
    assert graph[f"{ROOT}.core.gate"] == {f"{ROOT}.store.reads"}
    assert graph[f"{ROOT}.cli"] == {f"{ROOT}.commands.fetch"}


def test_a_planted_circle_is_reported_with_its_way_round() -> None:
    graph = planted("commands.groups -> commands.tracked", "commands.tracked -> commands.groups",
                    "core.a -> core.b", "core.b -> core.c", "core.c -> core.a", "core.c -> core.d")
    assert circle_problems(graph) == [
        "scholar_stats.commands.groups -> scholar_stats.commands.tracked -> "
        "scholar_stats.commands.groups",
        "scholar_stats.core.a -> scholar_stats.core.b -> scholar_stats.core.c -> "
        "scholar_stats.core.a",
    ]
    known = frozenset([frozenset({f"{ROOT}.core.a", f"{ROOT}.core.b", f"{ROOT}.core.c"})])
    assert len(circle_problems(graph, known)) == 1
    # a known circle that draws in one more module is a new one
    grown = planted("core.a -> core.b", "core.b -> core.a", "core.b -> core.x", "core.x -> core.b")
    assert circle_problems(grown, frozenset([frozenset({f"{ROOT}.core.a", f"{ROOT}.core.b"})])) == [
        "scholar_stats.core.a -> scholar_stats.core.b -> scholar_stats.core.a "
        "(also in it: scholar_stats.core.x)"]
    assert circle_problems(planted("core.a -> core.b", "core.b -> core.c")) == []


@pytest.mark.parametrize(("arrow", "problem"), [
    ("store.reads -> outputs.history", "store imports outputs, beside it"),
    ("store.reads -> refresh.engine", "store imports refresh, above it"),
    ("outputs.export -> config", "outputs imports config, above it"),
    ("publish.action -> cli", "publish imports cli, above it"),
    ("publish.action -> commands.fetch", "publish imports commands, above it"),
    ("core.model -> outputs.render", "core imports outputs, above it"),
    ("sources.choice -> service.app", "sources imports service, above it"),
    ("service.app -> publish.git", "service imports publish, beside it"),
    ("oddity -> core.model", "is in no layer"),
])
def test_a_planted_upward_arrow_is_reported(arrow: str, problem: str) -> None:
    (found,) = arrow_problems(planted(arrow))
    assert problem in found


def test_downward_arrows_pass_the_checker() -> None:
    graph = planted("cli -> commands.fetch", "commands.fetch -> refresh.attempt",
                    "refresh.attempt -> store.base", "store.base -> core.model",
                    "core.model -> errors", "outputs.render -> core.model")
    assert layout_report(graph) == []


@pytest.mark.parametrize(("arrow", "rule"), [
    ("core.model -> extras", "pure"), ("outputs.render -> scholar_stats", "pure"),
    ("core.model -> outputs.render", "pure"), ("__main__ -> commands.fetch", "commands"),
    ("publish.action -> commands.fetch", "commands"),
])
def test_the_pure_and_commands_rules_catch_what_the_order_allows_or_also_catches(
    arrow: str, rule: str,
) -> None:
    assert any(line.startswith(f"{rule}: ") for line in layout_report(planted(arrow)))


if __name__ == "__main__":  # the checker's report on the package as it is
    for group, way in circles(GRAPH):
        if group in KNOWN_CIRCLES:
            print(f"known circle: {' -> '.join(way)}")
    for line in layout_report(GRAPH) or ["no problem"]:
        print(line)
