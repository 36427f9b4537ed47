"""``serve``'s port and bind (issue 9, class 8): ports 1-65535 (0 picks one and the log names
it); a port that cannot be had is exit 11 (CannotListen) with one line, for one process and for
``--workers``. Real subprocesses, real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.cli_helpers import cli_env, run_cli, serving
from support.service_helpers import free_port


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.mark.parametrize("port", ["65536", "99999999999", "-1", "abc", "80.5", ""])
def test_impossible_ports_are_usage_errors(port: str, db: str) -> None:
    by_flag = run_cli(["serve", "--db", db, "--port", port], timeout=30)
    assert by_flag.returncode == 2, by_flag.stderr
    assert "argument --port: expected a port number 1-65535" in by_flag.stderr
    if port:  # an empty variable means "unset": the default port
        by_env = run_cli(["serve", "--db", db], env={"SCHOLAR_STATS_PORT": port}, timeout=30)
        assert by_env.returncode == 2, by_env.stderr
        assert by_env.stderr == ("scholar-stats: error: SCHOLAR_STATS_PORT: expected a port "
                                 f"number 1-65535 (0 picks a free one), got {port!r}\n")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_port_is_exit_11_in_one_line(taken_port: int, db: str, workers: str) -> None:
    done = run_cli(["serve", "--db", db, "--port", str(taken_port), "--workers", workers],
                   timeout=30)
    assert done.returncode == 11, done.stderr
    assert done.stderr == (f"scholar-stats: cannot listen on 127.0.0.1:{taken_port}: "
                           "Address already in use\n")
    # at once: the port is bound before the store (and the scheduler) start, so the store's
    # file was never made
    assert not Path(db.removeprefix("sqlite:///")).exists()


@pytest.mark.parametrize("host,cause", [
    ("no-such-host.invalid", "Name or service not known"),
    ("192.0.2.1", "Cannot assign requested address"),  # TEST-NET-1: not this machine's
])
def test_an_address_that_cannot_be_had_is_exit_11(host: str, cause: str, db: str) -> None:
    for workers in ("1", "2"):
        done = run_cli(["serve", "--db", db, "--host", host, "--port", str(free_port()),
                        "--workers", workers], timeout=30)
        assert done.returncode == 11, done.stderr
        assert done.stderr.startswith(f"scholar-stats: cannot listen on {host}:")
        assert done.stderr.count("\n") == 1 and cause in done.stderr, done.stderr


def test_a_privileged_port_is_exit_11(db: str) -> None:
    """A port below ip_unprivileged_port_start, as an unprivileged user (as root, the child
    drops to nobody with setpriv before it starts)."""
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    assert start > 1, "this machine has no privileged ports (ip_unprivileged_port_start)"
    port = min(80, start - 1)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] \
        if os.geteuid() == 0 else []
    done = subprocess.run([*drop, sys.executable, "-m", "scholar_stats", "serve", "--db", db,
                           "--port", str(port)], env=cli_env(), capture_output=True, text=True,
                          timeout=30, cwd="/")
    assert done.returncode == 11, done.stderr
    assert done.stderr == f"scholar-stats: cannot listen on 127.0.0.1:{port}: Permission denied\n"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_0_picks_a_free_port_and_says_which(db: str, workers: str) -> None:
    with serving(["--db", db, "--port", "0", "--workers", workers, "--no-scheduler"]) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        assert port != 0
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"


def test_an_app_that_fails_to_start_is_not_reported_as_blocked(tmp_path: Path) -> None:
    """uvicorn exits 3 when the app's startup fails; 3 is "blocked by Scholar" here."""
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    db = f"sqlite:///{a_file / 'store.db'}"  # cannot be created: its folder is a file
    done = run_cli(["serve", "--db", db, "--port", "0", "--no-scheduler"], timeout=30)
    assert done.returncode not in (0, 3), done.stderr
    assert done.stderr.splitlines()[-1].startswith("scholar-stats: ")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_database_that_cannot_be_used_is_exit_10_in_one_line(workers: str) -> None:
    """Before: uvicorn's startup printed a traceback and the command exited 1. The store is now
    opened once before serving: exit 10, one line, the password masked, the port let go."""
    port = free_port()
    done = run_cli(["serve", "--db", "postgresql+psycopg://scholar:sekrit@127.0.0.1:1/x",
                    "--port", str(port), "--workers", workers], timeout=60)
    assert done.returncode == 10, done.stderr
    lines = done.stderr.splitlines()
    assert lines[-1].startswith("scholar-stats: the database postgresql+psycopg://***@"
                                "127.0.0.1:1/x cannot be used: connection failed"), done.stderr
    assert "Traceback" not in done.stderr and "sekrit" not in done.stderr + done.stdout
    with socket.socket() as again:  # the port was released
        again.bind(("127.0.0.1", port))
