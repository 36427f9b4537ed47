"""The documentation: its pages, and the generator of their reference tables
(docs/gen_reference.py, a script, loaded here as a module)."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

from support.paths import ROOT

DOCS = ROOT / "docs"


@cache
def generator() -> ModuleType:
    """docs/gen_reference.py as a module."""
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page(name: str) -> str:
    """The text of docs/NAME."""
    return (DOCS / name).read_text("utf-8")


def every_page() -> dict[Path, str]:
    """README.md and every page under docs/."""
    paths = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return {path: path.read_text("utf-8") for path in paths}
