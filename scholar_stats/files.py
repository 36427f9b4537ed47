"""The results folder on disk: atomic writes, and reading back what a previous run wrote."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .model import FetchStatus, Metrics
from .render import GS_DATA, STATUS


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A reader (a web server, a git add) sees the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write each relative path of ``files`` under ``folder``, atomically one by one.

    ``gs_data.json`` goes last: it is the file that says "this data is complete".
    """
    for relpath in sorted(files, key=lambda name: name == GS_DATA):
        write_atomic(folder / relpath, files[relpath])


def read_metrics(folder: Path) -> Metrics | None:
    """The metrics of the ``gs_data.json`` already in ``folder``; ``None`` when there is none.

    A file that exists but is not a complete record yields metrics-less old data, which the gate
    treats as "nothing to compare with" only when the file is missing entirely.
    """
    try:
        data = json.loads((folder / GS_DATA).read_bytes())
        return Metrics.from_gs_data(data)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None


def read_status(folder: Path) -> FetchStatus | None:
    try:
        return FetchStatus.from_dict(json.loads((folder / STATUS).read_bytes()))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
