"""The cache key of the Action's installed venv (action.yml), written to ``$GITHUB_OUTPUT``.

The venv holds a copy of the package and absolute paths to its Python, so the key covers the
package's version and every file of its source and install, the interpreter (path and exact
version) and where the venv lives: a venv restored under it is the one this checkout would
install. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ("pyproject.toml", "install/excludes.txt", "install/uv.txt", "install/install.sh")


def install_key(root: Path, venv: str) -> str:
    """``scholar-stats-<version>-<os>-<arch>-py<x.y.z>-<digest>``."""
    init = (root / "scholar_stats" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", init, re.M)
    version = found.group(1) if found else "unknown"
    digest = hashlib.sha256()
    sources = sorted(path for path in (root / "scholar_stats").rglob("*")
                     if path.is_file() and "__pycache__" not in path.parts)
    for path in [*(root / name for name in INSTALL), *sources]:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(f"{os.path.realpath(sys.executable)}\0{sys.version}\0{venv}".encode())
    python = ".".join(map(str, sys.version_info[:3]))
    return (f"scholar-stats-{version}-{platform.system()}-{platform.machine()}-py{python}-"
            f"{digest.hexdigest()[:20]}")


def main() -> None:
    venv = os.path.join(os.environ["RUNNER_TEMP"], "scholar-stats-venv")
    line = f"key={install_key(ROOT, venv)}\n"
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
        handle.write(line)
    print(line, end="")


if __name__ == "__main__":
    main()
