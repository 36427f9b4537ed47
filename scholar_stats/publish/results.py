"""The files ``publish`` carries: read from a results folder (regular files only, ``gs_data.json``
checked), laid out as the branch's tree, and compared so that a run that changed only volatile
fields (times) commits nothing."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from scholar_stats.core.model import Metrics
from scholar_stats.core.text import load_json
from scholar_stats.core.validate import metrics_of
from scholar_stats.errors import UsageError
from scholar_stats.outputs.catalogue import GS_DATA, HISTORY, JSON, Volatile, named
from scholar_stats.outputs.history import (
    HistoryRow,
    parse_history_csv,
    render_history_csv,
    upsert_row,
)

log = logging.getLogger(__name__)


def file_kind(mode: int) -> str:
    """What a non-regular folder entry is, for the warning that names it."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_results(
    results_dir: Path, warn: Callable[[str], None] | None = None
) -> dict[str, bytes]:
    """Relative POSIX path → bytes of every regular file under ``results_dir``.

    Dot-entries (fetch's temporary files) are left out silently. Anything that is not a
    regular file or a folder (a symlink, wherever it points; a FIFO, a socket, a device) is
    skipped and ``warn`` is told its path: publishing a symlink's target could put a file from
    outside the folder on a public branch, and opening a FIFO would wait forever. Entries are
    opened with O_NOFOLLOW and O_NONBLOCK relative to their folder's descriptor, so an entry
    swapped for a symlink or a FIFO after the listing is caught too.
    """
    warn = warn or log.warning
    try:
        top = os.open(results_dir, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise UsageError(
            f"{results_dir} does not exist: run `scholar-stats fetch --out DIR` first") from None
    except NotADirectoryError:
        raise UsageError(f"{results_dir} is not a folder") from None
    except OSError as exc:
        raise UsageError(f"cannot read {results_dir}: {exc.strerror}") from None
    files: dict[str, bytes] = {}
    try:
        for folder, dirs, names, folder_fd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            for name in sorted([*dirs, *names]):
                rel = os.path.normpath(os.path.join(folder, name)).replace(os.sep, "/")
                if name.startswith("."):
                    _drop(dirs, name)
                    continue
                mode = os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    continue
                _drop(dirs, name)  # a symlink to a folder is listed with the folders
                try:
                    data = _read_regular(name, folder_fd) if stat.S_ISREG(mode) else None
                except OSError as exc:
                    raise UsageError(f"cannot read {results_dir / rel}: {exc.strerror}") from None
                if data is None:
                    kind = file_kind(os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_mode)
                    warn(f"skipped {rel}: {kind}; only regular files are published")
                    continue
                files[rel] = data
    except OSError as exc:
        raise UsageError(f"cannot read {results_dir}: {exc.strerror or exc}") from None
    finally:
        os.close(top)
    if not files:
        raise UsageError(f"{results_dir} has no files to publish")
    return dict(sorted(files.items()))


def _drop(names: list[str], name: str) -> None:
    if name in names:
        names.remove(name)  # fwalk then does not descend into it


def _read_regular(name: str, folder_fd: int) -> bytes | None:
    """The bytes of ``name`` if it is (still) a regular file, else None; never blocks."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # it became a symlink, or a socket
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read()


def check_gs_data(path: Path, data: bytes) -> None:
    """Refuse a results ``gs_data.json`` that fetch did not write: read under the rules every
    file from outside passes (``core.text.load_json``: JSON, nesting bounded) and its metrics
    checked (``core.validate.metrics_of``), as its numbers would go into ``history.csv``."""
    try:
        metrics_of(load_json(data))
        problem = ""
    except ValueError as exc:
        problem = str(exc)
    except KeyError as exc:
        problem = f"no {exc.args[0]!r}"
    if problem:
        raise UsageError(f"{path} is not a {GS_DATA.name} as `scholar-stats fetch` writes it "
                         f"({problem}); nothing was published")


def check_results(results_dir: Path, results: Mapping[str, bytes]) -> None:
    """``check_gs_data`` for every ``gs_data.json`` of a results folder."""
    for path, data in results.items():
        if PurePosixPath(path).name == GS_DATA.name:
            check_gs_data(results_dir / path, data)


def _folder(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent + "/"


def build_tree_files(
    old: Mapping[str, bytes], results: Mapping[str, bytes], today: str
) -> dict[str, bytes]:
    """The branch's next content: its files overlaid with ``results``, plus ``history.csv``.

    Files the branch has and the results lack are kept, so a failed fetch (which writes only
    ``status.json``) never removes the last good data. Each folder holding a ``gs_data.json``
    gets its ``history.csv`` from the branch with today's row upserted.
    """
    files = dict(old)
    files.update(results)
    for path, data in results.items():
        if PurePosixPath(path).name != GS_DATA.name:
            continue
        folder = _folder(path)
        metrics = Metrics.from_gs_data(json.loads(data))
        rows = parse_history_csv(old.get(folder + HISTORY.name, b""))
        rows = upsert_row(rows, HistoryRow.from_metrics(today, metrics))
        files[folder + HISTORY.name] = render_history_csv(rows)
    return files


def _parsed(data: bytes) -> Any:
    """A file's JSON for comparing, or ``None``: a file the branch holds may be anyone's, nested
    past what ``json`` can read."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _volatile(path: str) -> tuple[Volatile, bool]:
    """What of the file at ``path`` changes without the data changing (the catalogue says it,
    by the file's name), and whether it is JSON."""
    file = named(PurePosixPath(path).name)
    if file is None:
        return Volatile(), path.endswith(".json")
    return file.volatile, file.media == JSON


def _stable(path: str, data: bytes) -> Any:
    """What of a file counts as a change: its bytes, or a JSON file's members less the
    volatile ones (only ``kept`` ones, when the catalogue names them)."""
    volatile, is_json = _volatile(path)
    if volatile.kept is not None:
        record = _parsed(data)
        if not isinstance(record, dict):
            record = {}
        return tuple(record.get(member) for member in volatile.kept)
    if not is_json:
        return data
    record = _parsed(data)
    if record is None:
        return data
    if isinstance(record, dict):
        for member in volatile.members:
            record.pop(member, None)
    return record


def only_volatile_changes(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> bool:
    """True when ``new`` differs from ``old`` only in volatile members (the catalogue's: the
    ``updated`` time of ``gs_data.json``, all of ``status.json`` but the month's SerpApi
    searches, the budget the next run reads back from the branch) and in files rebuilt from
    others (``history.csv``: a new day's row with the same numbers is not a change on its own).
    """
    def stable(files: Mapping[str, bytes]) -> dict[str, Any]:
        return {path: _stable(path, data) for path, data in files.items()
                if _volatile(path)[0].kept != ()}

    return stable(old) == stable(new)


def default_message(results: Mapping[str, bytes], today: str) -> str:
    authors = [json.loads(data) for path, data in results.items()
               if PurePosixPath(path).name == GS_DATA.name]
    if len(authors) == 1:
        return f"Scholar stats {today}: {authors[0].get('citedby')} citations"
    if authors:
        return f"Scholar stats {today}: {len(authors)} authors"
    return f"Scholar stats {today}: status only"
