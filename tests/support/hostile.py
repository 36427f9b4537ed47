"""Adversaries for the Scholar client that the fake Scholar does not play itself, and a way to
run the CLI as a real process and measure it (wall time, peak memory).

* ``silent_listener()``: a TCP port that completes the handshake (the kernel does) and never
  answers: a Scholar that hangs, or a SOCKS5/HTTP proxy that never answers its handshake.
* ``unconnectable_listener()``: a TCP port whose accept queue is full, so a connect waits for
  the SYN-ACK that never comes (as behind a firewall that drops packets); ``connecting_to(port)``
  says whether some socket on this machine is waiting so (SYN_SENT in /proc/net/tcp).
* ``gzip_bomb(n)``: about n/1000 bytes of gzip that expand to n bytes.
* ``run_cli(args)``: ``scholar-stats ...`` as a subprocess; exit code, output, wall seconds
  and peak RSS (its VmHWM).
"""

from __future__ import annotations

import functools
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.paths import ROOT


@contextmanager
def silent_listener() -> Iterator[str]:
    """``host:port`` of a socket that listens and never accepts: connecting succeeds, nothing
    is ever read or answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        host, port = sock.getsockname()
        yield f"{host}:{port}"


@contextmanager
def unconnectable_listener() -> Iterator[int]:
    """The port of a listener with a backlog of 0 that one connection already fills: Linux
    drops every further SYN, so connecting to it hangs until the connect's own timeout."""
    with socket.socket() as sock, socket.socket() as filler:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        port = sock.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        yield port


def connecting_to(port: int) -> bool:
    """Whether a socket on this machine is in SYN_SENT towards ``port`` on loopback."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "02" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                return True
    return False


@functools.lru_cache(maxsize=2)
def gzip_bomb(expanded: int) -> bytes:
    """gzip bytes that expand to ``expanded`` zero bytes, built in 1 MiB steps (never held)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(2**20)
    parts = [compressor.compress(chunk) for _ in range(expanded // len(chunk))]
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float
    peak_rss_mb: float  # VmHWM of the process (inf if it could not report it)


# Runs the CLI as ``python -m scholar_stats`` does, and at exit writes the process's own VmHWM
# (peak RSS since its exec). The kernel's ru_maxrss from wait4 would not do: Linux carries the
# forking parent's RSS (here the whole pytest process) into the child's figure.
_LAUNCHER = """
import atexit, os, runpy, sys
def report_peak():
    with open("/proc/self/status") as status, open(os.environ["HOSTILE_PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")))
atexit.register(report_peak)
sys.argv[0] = "scholar-stats"
runpy.run_module("scholar_stats", run_name="__main__", alter_sys=True)
"""


def run_cli(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60,
    memory_limit_mb: int | None = None,
) -> Run:
    """Run ``scholar-stats ARGS`` to its end (killed after ``timeout`` seconds, which fails the
    calling test) and measure it. ``memory_limit_mb`` caps the child's address space, so a
    regression fails with a MemoryError instead of eating the machine's memory."""

    def limit_memory() -> None:
        if memory_limit_mb is not None:
            size = memory_limit_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak"
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {}),
                    "HOSTILE_PEAK_FILE": str(peak_file)}
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, *args], env=full_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=limit_memory)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"scholar-stats {' '.join(args)} still ran after {timeout} s "
                                 f"(killed); stderr: {err.decode()[-2000:]}") from None
        seconds = time.monotonic() - started
        peak = float("inf")
        if peak_file.exists():
            peak = int(peak_file.read_text().split()[1]) / 1024  # "VmHWM:  123456 kB"
    return Run(proc.returncode, out.decode(), err.decode(), seconds, peak)
