"""A real small (or read-only) disk for write-failure tests: a tmpfs mounted in a mount namespace
of its own, so nothing is left mounted on the machine whatever happens to the test.

The test side calls :func:`run_on_small_disk`; it runs this file as a script inside the
namespace (as root: ``unshare --mount``; otherwise an unprivileged user namespace, or
``sudo -n`` as on GitHub's runners, where Ubuntu restricts user namespaces). The script copies
a previous run's folder onto the tmpfs, fills the disk until ``free_bytes`` are left (or
remounts it read-only), runs the command, and reports its exit code, output and every file's
bytes before and after, as JSON.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PRIVATE_MOUNTS = ["--mount", "--propagation", "private"]


@dataclass(frozen=True)
class DiskRun:
    returncode: int
    stdout: str
    stderr: str
    before: dict[str, str]  # relative path -> "sha256 mode" of every file in the folder
    after: dict[str, str]


@functools.cache
def namespace_prefix() -> tuple[str, ...]:
    """The command prefix that gives a child a mount namespace in which it may mount a tmpfs."""
    candidates = [["unshare", *PRIVATE_MOUNTS]] if os.geteuid() == 0 else [
        ["unshare", "--user", "--map-root-user", *PRIVATE_MOUNTS],
        ["sudo", "-n", "unshare", *PRIVATE_MOUNTS],
    ]
    tried = []
    for prefix in candidates:
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            return tuple(prefix)
        tried.append(f"{' '.join(prefix)}: {probe.stderr.strip()}")
    raise AssertionError("cannot mount a tmpfs for the full-disk tests; run them as root, with "
                         "unprivileged user namespaces, or with passwordless sudo. Tried: "
                         + "; ".join(tried))


def run_on_small_disk(
    where: Path, command: Sequence[str], *, seed: Path | None, env: Mapping[str, str],
    size: int = 1 << 20, free_bytes: int | None = None, read_only: bool = False,
) -> DiskRun:
    """Mount a tmpfs of ``size`` bytes at ``where/disk`` (seen only by the child), copy ``seed``
    to ``disk/results``, leave ``free_bytes`` free or make it read-only, then run ``command``
    (``{results}`` in it is replaced by the folder's path)."""
    mount = where / "disk"
    mount.mkdir()
    report = where / "disk-report.json"
    spec = {
        "mount": str(mount), "seed": str(seed) if seed else None, "free_bytes": free_bytes,
        "read_only": read_only, "env": dict(env), "report": str(report),
        "command": [part.replace("{results}", str(mount / "results")) for part in command],
    }
    script = 'mount -t tmpfs -o "size=$1" tmpfs "$2" && exec "$3" "$4" "$5"'
    done = subprocess.run([*namespace_prefix(), "sh", "-c", script, "sh", str(size), str(mount),
                           sys.executable, __file__, json.dumps(spec)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the small-disk run failed: {done.stderr}"
    result = json.loads(report.read_text())
    return DiskRun(**result)


def files_of(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> its sha256 and mode."""
    return {
        str(path.relative_to(folder)):
            f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mode & 0o777:o}"
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def _fill(mount: Path, free_bytes: int) -> None:
    """Write a filler file until about ``free_bytes`` are left on the tmpfs."""
    stats = os.statvfs(mount)
    left = stats.f_bavail * stats.f_frsize - free_bytes
    chunk = b"\0" * (1 << 16)
    with open(mount / "filler", "wb") as handle:
        while left > 0:
            handle.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def _inside(spec: dict) -> None:
    mount = Path(spec["mount"])
    results = mount / "results"
    if spec["seed"]:
        shutil.copytree(spec["seed"], results)
    else:
        results.mkdir()
    if spec["free_bytes"] is not None:
        _fill(mount, spec["free_bytes"])
    if spec["read_only"]:
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    before = files_of(results)
    done = subprocess.run(spec["command"], env=spec["env"], capture_output=True, text=True,
                          timeout=90)
    Path(spec["report"]).write_text(json.dumps({
        "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
        "before": before, "after": files_of(results),
    }))


if __name__ == "__main__":
    _inside(json.loads(sys.argv[1]))
