"""The layout the README's Development section draws: no module over 400 lines, and the pure
layers (``core/``, ``outputs/``) import no I/O: no database, HTTP, sockets, processes or files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support.paths import ROOT

PACKAGE = ROOT / "scholar_stats"
MAX_LINES = 400
PURE = ("core", "outputs")
# what a pure module may not import at run time (typing-only imports are fine)
IO_MODULES = {"sqlalchemy", "httpx", "httpcore", "fastapi", "starlette", "uvicorn", "apscheduler",
              "psycopg", "socket", "subprocess", "urllib.request", "http.client", "shutil",
              "tempfile", "sqlite3", "scholar_stats.store", "scholar_stats.service",
              "scholar_stats.net", "scholar_stats.sources", "scholar_stats.refresh",
              "scholar_stats.publish", "scholar_stats.commands", "scholar_stats.files"}


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
