"""The results folder on disk: all-or-nothing writes, and reading back what a previous run wrote.

What is read back passes the same rules as what a source sends (``core.text.load_json``: texts
cleaned, nesting bounded), and a file that breaks them reads as one fetch did not write.

Every local failure (no space, a read-only folder, a file where a folder should be) is an
``OutputNotWritable`` naming the path and the cause, never a traceback; when it happens while
the new files are being written, the files already there are left exactly as they were.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from scholar_stats.core.model import FetchStatus, Metrics
from scholar_stats.core.text import load_json
from scholar_stats.core.validate import metrics_of
from scholar_stats.errors import OutputNotWritable
from scholar_stats.outputs.catalogue import GS_DATA, STATUS


def write_atomic(path: Path, data: bytes) -> None:
    """Write one file atomically: a reader sees the old file or the new one, never half."""
    write_files(path.parent, {path.name: data})


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write each relative path of ``files`` under ``folder``: all of them, or none.

    Every file is first written in full to a temporary file beside its target and fsynced; only
    when all were written are they renamed over the targets (a rename needs no space), with
    ``gs_data.json`` last: it is the file that says "this data is complete". So a disk that
    fills up, or any other failure while writing, leaves every old file as it was.

    New files get the mode any tool gives them (0666 less the umask, applied by the kernel when
    the file is created: no process-wide state is read or changed); a replaced file keeps its
    mode. Raises ``OutputNotWritable`` naming the path and the cause.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for relpath in sorted(files, key=lambda name: name == GS_DATA.name):
            target = folder / relpath
            staged.append((_stage(target, files[relpath]), target))
        for renamed, (temporary, target) in enumerate(staged):
            try:
                os.replace(temporary, target)
            except OSError as exc:
                kept = "; the files before it were replaced" if renamed else ""
                raise OutputNotWritable(f"cannot write {target}: {_cause(exc)}{kept}") from None
    finally:
        for temporary, _target in staged:
            _remove_quietly(temporary)


def _stage(target: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``target``, fsynced; its path."""
    ensure_folder(target.parent)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _not_writable(target, exc) from None
    if existing is not None and stat.S_ISDIR(existing.st_mode):  # found now, not at the rename
        raise OutputNotWritable(f"cannot write {target}: {os.strerror(errno.EISDIR)}")
    mode = None if existing is None else stat.S_IMODE(existing.st_mode)
    for _attempt in range(100):
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _not_writable(target, exc) from None
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise OutputNotWritable(f"cannot write {target}: no free temporary name")
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        _remove_quietly(temporary)
        raise _not_writable(target, exc) from None
    except BaseException:
        _remove_quietly(temporary)
        raise
    return temporary


def ensure_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) unless it is there; a file in its place is
    ``OutputNotWritable`` ("Not a directory"), not a "File exists"."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputNotWritable(f"cannot write to {folder}: {os.strerror(errno.ENOTDIR)}") from None
    except OSError as exc:
        where = exc.filename or folder
        raise OutputNotWritable(f"cannot write to {where}: {_cause(exc)}") from None


def check_writable(folder: Path) -> None:
    """Fail now, before any request is spent, when ``folder`` cannot take new files: create it,
    then create and remove an empty file in it."""
    ensure_folder(folder)
    probe = folder / f".write-check.{secrets.token_hex(4)}.tmp"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
    except OSError as exc:
        raise OutputNotWritable(f"cannot write to {folder}: {_cause(exc)}") from None
    _remove_quietly(probe)


def _not_writable(target: Path, exc: OSError) -> OutputNotWritable:
    return OutputNotWritable(
        f"cannot write {target}: {_cause(exc)} (the files there are unchanged)")


def _cause(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def read_metrics(folder: Path) -> Metrics | None:
    """The metrics of the ``gs_data.json`` already in ``folder``; ``None`` when there is none, or
    when it is not a record with whole-number metrics (nothing to compare with)."""
    try:
        return metrics_of(load_json(_read(folder / GS_DATA.name)))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def gs_data_problem(folder: Path) -> str | None:
    """Why the ``gs_data.json`` in ``folder`` is not one fetch wrote (so nothing is compared
    with it), or ``None``: it is one, or there is none."""
    try:
        metrics_of(load_json(_read(folder / GS_DATA.name)))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        return str(exc)
    except KeyError as exc:
        return f"no {exc.args[0]!r}"
    return None


def read_record(folder: Path) -> object:
    """The parsed ``gs_data.json`` already in ``folder`` (what the new fetch is compared with
    for ``changes.json``); ``None`` when there is none or it is not JSON within the rules."""
    try:
        return load_json(_read(folder / GS_DATA.name))
    except (FileNotFoundError, ValueError):
        return None


def read_if_there(path: Path) -> bytes | None:
    """The bytes of a file of a previous run, ``None`` when there is none."""
    try:
        return _read(path)
    except FileNotFoundError:
        return None


def read_status(folder: Path) -> FetchStatus | None:
    """The ``status.json`` of the last attempt; ``None`` when there is none or it is not one
    fetch wrote (a field of the wrong type)."""
    try:
        return FetchStatus.from_dict(load_json(_read(folder / STATUS.name)))
    except (FileNotFoundError, ValueError):
        return None


def _read(path: Path) -> bytes:
    """The bytes of a file of a previous run; a file that is there but cannot be read (a
    folder in its place, no permission) is ``OutputNotWritable``: the gate must not be skipped
    by mistaking it for a first run."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise OutputNotWritable(f"cannot read {path}: {_cause(exc)}") from None
