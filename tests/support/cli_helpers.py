"""Helpers for tests that run ``scholar-stats`` in this process or as a real subprocess (exit
codes, signals, the lines a user sees, the files a run leaves)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.paths import ROOT
from support.waiting import wait_until


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with the package importable and ``extra`` on top."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **(extra or {})}


def run_cli(args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 60,
            **popen: object) -> subprocess.CompletedProcess[str]:
    """``python -m scholar_stats ARGS``; a command still running after ``timeout`` is killed and
    the test fails (a command that should have refused to start must not hang the suite)."""
    proc = subprocess.Popen([sys.executable, "-m", "scholar_stats", *args], env=cli_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)  # type: ignore[call-overload]
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"scholar-stats {' '.join(args)} still running after {timeout} s; "
                             f"stderr: {err}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_main(argv: Sequence[str]) -> tuple[int, str, str]:
    """``main(argv)`` in this process: (exit code, stdout, stderr); argparse's exits included."""
    from scholar_stats.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


SERVING = re.compile(r"serving on http://(\S+):(\d+) ")


@contextmanager
def serving(args: Sequence[str], env: Mapping[str, str] | None = None,
            timeout: float = 30) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``scholar-stats serve ARGS`` as a subprocess, until its /healthz answers; yields the base
    URL it says it serves on (read from its log line) and the process. Terminated at the end."""
    proc = subprocess.Popen([sys.executable, "-m", "scholar_stats", "serve", *args],
                            env=cli_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the first line says where it serves
        found = SERVING.search(line)
        assert found, f"no 'serving on' line: {line!r} {proc.stderr.read() if not line else ''}"
        base = f"http://{found.group(1)}:{found.group(2)}"
        def answers() -> bool:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            assert proc.poll() is None, f"serve exited {proc.returncode}"
            return False

        wait_until(answers, "serve answered /healthz", timeout=timeout)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def folder_hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` → sha256, to prove files were (not) touched."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }
