"""Issue 17, class 3, continued: no secret in what ``serve`` logs (uvicorn at debug level, its
access log, ``--workers``) or answers (``/healthz``, ``/metrics``), in the store (SQLite and
PostgreSQL) and what is read back from it, in ``publish``'s errors, or in anything the Action
prints or writes (its outputs, the job summary, the published branch)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from support.cli_helpers import SERVING, cli_env, run_cli
from support.fake_scholar import FakeScholar, running_fake_scholar
from support.fake_serpapi import KEY, FakeSerpApi
from support.git_repos import BRANCH, remote, sh, work  # noqa: F401
from support.github_action import action_env, step_script
from support.planted_secrets import (
    DB_PW,
    HOOK_PATH,
    LOUD,
    PROXY_PW,
    PROXY_USER,
    SCHOLAR_HOST,
    SCHOLAR_PW,
    SCHOLAR_USER,
    SECRETS,
    SERPAPI_PW,
    SERPAPI_USER,
    SID,
    TOKEN,
    assert_no_secret,
    echo_key,
    echo_secrets,
    files_under,
    with_userinfo,
)
from support.service_helpers import free_port
from support.store_helpers import database_url
from support.waiting import wait_until
from support.webhook_receiver import running_receiver

ADMIN = "admin-token-j0-secret"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store; on PostgreSQL with a password in the URL (the server trusts loopback,
    so any password is accepted: it is there to be kept out of every output)."""
    with database_url(request.param, tmp_path) as url:
        if request.param == "postgresql":
            url = sa.make_url(url).set(password=DB_PW).render_as_string(hide_password=False)
        yield url


def store_text(url: str) -> str:
    """Every row of every table of the store, as text."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.MetaData()
            tables.reflect(conn)
            return "\n".join(f"{name}: {list(conn.execute(table.select()))}"
                             for name, table in tables.tables.items())
    finally:
        engine.dispose()


def proxied_scholar(fake: FakeScholar) -> dict[str, str]:
    """Scholar with userinfo, reached through ``fake`` as a proxy with a password, echoing."""
    fake.add_profile(SID, pubs=30, name=f"Ada {SCHOLAR_PW} {PROXY_PW} {KEY}")
    fake.doctor = echo_secrets
    fake.extra_headers = {"X-Echo": f"{SCHOLAR_PW} {PROXY_PW} {KEY}"}
    return {"SCHOLAR_STATS_SCHOLAR_URL": with_userinfo(f"http://{SCHOLAR_HOST}", SCHOLAR_USER,
                                                       SCHOLAR_PW),
            "SCHOLAR_STATS_PROXY": with_userinfo(fake.url, PROXY_USER, PROXY_PW)}


# -- the store: refresh from an echoing SerpApi, then everything read back ----------------------

def test_refresh_stores_and_exports_no_secret(db_url: str, tmp_path: Path,
                                              fake_serpapi: FakeSerpApi) -> None:
    fake_serpapi.add_profile(SID, pubs=120)
    fake_serpapi.doctor = echo_key
    fake_serpapi.headers = {"X-Echo": KEY}
    env = {**LOUD, "SCHOLAR_STATS_DB": db_url, "SERPAPI_API_KEY": KEY,
           "SCHOLAR_STATS_SERPAPI_URL": with_userinfo(fake_serpapi.url, SERPAPI_USER,
                                                      SERPAPI_PW)}
    outputs = [run_cli(["-v", "authors", "add", SID], env=env),
               run_cli(["-v", "refresh", SID, "--source", "serpapi"], env=env),
               run_cli(["-v", "history", SID, "--papers", "--format", "json"], env=env),
               run_cli(["-v", "export", SID, "--out", str(tmp_path / "export")], env=env),
               run_cli(["-v", "authors", "list"], env=env)]
    assert [done.returncode for done in outputs] == [0] * 5, [o.stderr for o in outputs]
    assert len(fake_serpapi.requests) == 2  # both pages, each echoing the key
    assert_no_secret({"store": store_text(db_url), **files_under(tmp_path),
                      **{f"{n} out": o.stdout for n, o in enumerate(outputs)},
                      **{f"{n} err": o.stderr for n, o in enumerate(outputs)}})
    exported = json.loads((tmp_path / "export" / "gs_data.json").read_text())
    assert exported["name"] == "Grace ***"
    assert "secret of this run" in outputs[1].stderr


# -- serve: uvicorn at debug level with its access log, two workers, the scheduler fetching -----

SERVE_LOUDLY = """
import sys
from scholar_stats.service import server
server.UVICORN_OPTIONS.update(log_level="debug", access_log=True)
from scholar_stats.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_serve_logs_and_answers_no_secret(db_url: str, tmp_path: Path) -> None:
    with running_fake_scholar() as fake, running_receiver() as hooks:
        env = cli_env({**LOUD, **proxied_scholar(fake), "SCHOLAR_STATS_DB": db_url,
                       "SERPAPI_API_KEY": KEY, "SCHOLAR_STATS_ADMIN_TOKEN": ADMIN,
                       "SCHOLAR_STATS_NOTIFY": hooks.url(HOOK_PATH)})
        assert run_cli(["authors", "add", SID], env=env).returncode == 0
        proc = subprocess.Popen([sys.executable, "-c", SERVE_LOUDLY, "-v", "serve", "--port",
                                 str(free_port()), "--workers", "2"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stderr is not None
            found = SERVING.search(proc.stderr.readline())
            assert found, "no 'serving on' line"
            base = f"http://{found.group(1)}:{found.group(2)}"
            bodies = wait_for_the_fetch(base)
            auth = {"Authorization": f"Bearer {ADMIN}"}
            added = httpx.post(f"{base}/authors", json={"ids": ["OTHERAAAAAAJ"]}, headers=auth)
            refused = httpx.post(f"{base}/authors?token={ADMIN}", json={"ids": []})
            bodies += [added.text, refused.text, httpx.get(f"{base}/metrics").text,
                       served(f"{base}/authors/{SID}/gs_data.json")]
            assert (added.status_code, refused.status_code) == (200, 401)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
    assert_no_secret([*bodies, out, err], [*SECRETS, ADMIN])
    assert "Started server process" in err and "GET /healthz" in out  # uvicorn's own lines
    assert "POST /authors?token=*** HTTP/1.1" in out
    assert "Ada *** *** ***" in bodies[-1]


def served(url: str) -> str:
    """What ``url`` answers once the worker asked has the data: a worker that started before the
    fetch learns of it at its next poll of the store (every 5 s)."""
    answers: list[httpx.Response] = []

    def answered() -> bool:
        answers.append(httpx.get(url, timeout=5))
        return answers[-1].status_code == 200

    wait_until(answered, lambda: f"{url} answered 200 (last: {answers[-1].text})")
    return answers[-1].text


def wait_for_the_fetch(base: str) -> list[str]:
    """``/healthz`` until the scheduler's first fetch is done; the bodies seen."""
    bodies: list[str] = []

    def fetched() -> bool:
        health = httpx.get(f"{base}/healthz", timeout=5)
        bodies.append(health.text)
        return health.status_code == 200 and bool(health.json().get("last_success"))

    wait_until(fetched, lambda: f"the scheduler's first fetch (/healthz: {bodies[-1]})",
               timeout=60)
    return bodies


def test_serve_with_a_database_it_cannot_reach_names_no_password() -> None:
    url = f"postgresql+psycopg://postgres:{DB_PW}@127.0.0.1:1/scholar"
    done = run_cli(["-v", "serve", "--db", url, "--port", str(free_port())], env=LOUD)
    assert_no_secret([done.stdout, done.stderr])
    assert done.returncode == 10 and "postgresql+psycopg://***@127.0.0.1:1" in done.stderr, (
        done.stderr)


# -- publish and the Action ---------------------------------------------------------------------

def test_publish_errors_show_no_token(tmp_path: Path, work: Path) -> None:
    from support.git_servers import git_http_server

    out = tmp_path / "results"
    out.mkdir()
    (out / "gs_data.json").write_text('{"citedby": 1, "hindex": 1, "i10index": 1}')
    with git_http_server(tmp_path, token="the-right-one") as base:
        for remote_url in (f"http://x-access-token:{TOKEN}@127.0.0.1:1/r.git",
                           f"{with_userinfo(base, 'x-access-token', TOKEN)}/remote.git",
                           f"{base}/remote.git"):
            done = run_cli(["-v", "publish", str(out), "--repo", str(work), "--remote",
                            remote_url], env={**LOUD, "GIT_TERMINAL_PROMPT": "0"})
            assert done.returncode in (2, 8), done.stderr
            assert "scholar-stats:" in done.stderr
            assert_no_secret([done.stdout, done.stderr, sh(work, "config", "--list")])


def test_the_action_prints_and_publishes_no_secret(
    tmp_path: Path, work: Path, remote: Path, fake_serpapi: FakeSerpApi,
) -> None:
    fake_serpapi.add_profile(SID, pubs=12, citations=70)
    fake_serpapi.doctor = echo_key
    fake_serpapi.headers = {"X-Echo": KEY}
    (tmp_path / "runner").mkdir()
    (tmp_path / "runner" / "scholar-stats-venv").symlink_to(sys.prefix, target_is_directory=True)
    with running_fake_scholar() as fake, running_receiver() as hooks:
        fake.mode = "403"  # Scholar blocks the runner, through the proxy: SerpApi fills in
        env = action_env(tmp_path, work, SCHOLAR_IDS=SID, SCHOLAR_STATS_SOURCE="auto",
                         SERPAPI_API_KEY=KEY, GITHUB_TOKEN=TOKEN, SCHOLAR_STATS_VERBOSE="1",
                         SCHOLAR_STATS_NOTIFY=hooks.url(HOOK_PATH),
                         SCHOLAR_STATS_SERPAPI_URL=with_userinfo(fake_serpapi.url, SERPAPI_USER,
                                                                 SERPAPI_PW),
                         **{name: value for name, value in LOUD.items() if name != "GITHUB_TOKEN"},
                         **proxied_scholar(fake))
        proc = subprocess.run(["bash", "-e", "-c", step_script()], env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert fake.requests and len(fake_serpapi.requests) == 1
    history = sh(remote, "log", "-p", "--all", "--format=%B")
    assert_no_secret({"stdout": proc.stdout, "stderr": proc.stderr, "branch": history,
                      **files_under(tmp_path / "runner"),
                      "summary": (tmp_path / "summary.md").read_text(),
                      "outputs": (tmp_path / "output.txt").read_text()})
    assert "Grace ***" in sh(remote, "show", f"{BRANCH}:gs_data.json")
    assert "DEBUG httpcore" in proc.stdout  # every level was on

