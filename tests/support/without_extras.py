"""Run a module as a base install would: ``python without_extras.py MODULE ARGS...``.

Every installed package that ``pip install scholar-stats`` (no extras) would not bring is made
unimportable (``ModuleNotFoundError``, as when it is absent), then ``MODULE`` runs as
``__main__``. The base is read from scholar-stats' own metadata (pyproject.toml as installed), so
a new import in fetch, publish or the Action that the base does not provide fails here.
``--block NAME,...`` hides only those top-level modules instead; ``--excludes FILE`` hides
also what the Action's install leaves out (install/excludes.txt: a requirement named there is
dropped wherever it appears, as ``uv pip install --excludes`` drops it, with everything only it
brought); ``-c CODE`` runs code.
"""

from __future__ import annotations

import importlib.abc
import runpy
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def read_excludes(path: str) -> frozenset[str]:
    """The package names of a uv ``--excludes`` file (one a line, ``#`` comments)."""
    with open(path, encoding="utf-8") as handle:
        lines = (line.split("#", 1)[0].strip() for line in handle)
        return frozenset(canonicalize_name(Requirement(line).name) for line in lines if line)


def requirement_closure(project: str, extras: frozenset[str] = frozenset(),
                        excluded: frozenset[str] = frozenset()) -> set[str]:
    """The distributions ``pip install project[extras]`` installs (as installed here), less
    ``excluded`` and what only they require."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(project, extras)]
    names: set[str] = set()
    while todo:
        name, wanted = todo.pop()
        if (canonicalize_name(name), wanted) in seen or canonicalize_name(name) in excluded:
            continue
        seen.add((canonicalize_name(name), wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a marker keeps it off this platform
        names.add(canonicalize_name(name))
        for text in dist.requires or []:
            req = Requirement(text)
            envs = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, frozenset(req.extras)))
    return names


def not_in_base(excluded: frozenset[str] = frozenset()) -> set[str]:
    base = requirement_closure("scholar-stats", excluded=excluded)
    return {
        module for module, dists in metadata.packages_distributions().items()
        if not any(canonicalize_name(dist) in base for dist in dists)
    }


def hides(hidden: set[str], name: str) -> bool:
    """``name`` is hidden, or inside a hidden package."""
    return any(name == h or name.startswith(h + ".") for h in hidden)


class Hide(importlib.abc.MetaPathFinder):
    def __init__(self, hidden: set[str]) -> None:
        self.hidden = hidden

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if hides(self.hidden, name):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden)", name=name)


def main() -> None:
    args = sys.argv[1:]
    if args[0] == "--block":
        hidden = set(args[1].split(","))
        args = args[2:]
    elif args[0] == "--excludes":
        hidden = not_in_base(read_excludes(args[1]))
        args = args[2:]
    else:
        hidden = not_in_base()
    hidden -= {"scholar_stats"}
    for name in list(sys.modules):  # what this script imported itself is hidden too
        if hides(hidden, name):
            del sys.modules[name]
    sys.meta_path.insert(0, Hide(hidden))
    if args[0] == "-c":
        exec(compile(args[1], "<-c>", "exec"), {"__name__": "__main__"})  # noqa: S102  test code
        return
    sys.argv = [args[0], *args[1:]]
    runpy.run_module(args[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
