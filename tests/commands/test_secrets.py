"""Issue 17, class 3: no secret of a run (a URL's userinfo, a proxy password, the SerpApi key, the
GitHub token, a webhook URL) is printed by any logger at any level, in any error, or written to
any file. Each test runs scholar-stats with every log level on (``-v`` and
``SCHOLAR_STATS_DEBUG``) against loopback servers that redirect with the secret in ``Location``
and echo it back (into a name, a title, a link, a pagination link, an error message, a header),
then greps every output and every file written for each secret.

The service, the store and publishing: ``test_secrets_service.py``."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli_helpers import cli_env, run_cli, run_main
from support.fake_scholar import running_fake_scholar
from support.fake_serpapi import KEY, FakeSerpApi
from support.planted_secrets import (
    DB_PW,
    HOOK_PATH,
    LOUD,
    PROXY_PW,
    PROXY_USER,
    SCHOLAR_HOST,
    SCHOLAR_PW,
    SCHOLAR_USER,
    SERPAPI_PW,
    SERPAPI_USER,
    SID,
    assert_no_secret,
    echo_key,
    echo_secrets,
    files_under,
    with_userinfo,
)
from support.webhook_receiver import running_receiver

from scholar_stats import redact
from scholar_stats.parsers import parse_proxy_pool

# -- the Scholar side: base URL and proxy with passwords, a redirect and a page echoing them ----

def test_fetch_through_a_proxy_prints_and_writes_no_secret(tmp_path: Path) -> None:
    with running_fake_scholar() as fake, running_receiver() as hooks:
        fake.add_profile(SID, pubs=30, name=f"Ada {SCHOLAR_PW} {PROXY_PW} {KEY}")
        fake.doctor = echo_secrets
        fake.extra_headers = {"X-Echo": f"{SCHOLAR_PW} {PROXY_PW} {KEY}"}
        base = with_userinfo(f"http://{SCHOLAR_HOST}", SCHOLAR_USER, SCHOLAR_PW)
        fake.queue = ["redirect"]  # a redirect within the site, with the secrets in Location
        fake.redirect_to = (f"{base}/citations?hl=en&user={SID}&pagesize=100&api_key={KEY}"
                            f"&p={PROXY_PW}")
        hooks.queue = ["500"]  # the webhook fails once, then takes the notice
        env = {**LOUD, "SCHOLAR_STATS_SCHOLAR_URL": base, "SERPAPI_API_KEY": KEY,
               "SCHOLAR_STATS_NOTIFY": hooks.url(HOOK_PATH)}
        proxy = with_userinfo(fake.url, PROXY_USER, PROXY_PW)
        argv = ["-v", "fetch", SID, "--out", str(tmp_path / "out"), "--proxy", proxy,
                "--source", "auto"]
        first = run_cli(argv, env=env)
        assert first.returncode == 0, first.stderr
        fake.add_profile(SID, pubs=31, citations=1200, name=f"Ada {SCHOLAR_PW} {PROXY_PW} {KEY}")
        then = run_cli(argv, env=env)  # changes: the webhook is told
        assert then.returncode == 0, then.stderr
        assert any(request.startswith(f"http://{SCHOLAR_HOST}/") for request in fake.requests)
        assert [post.path for post in hooks.posts] == [HOOK_PATH, HOOK_PATH]
    assert_no_secret({"stdout": first.stdout + then.stdout, "stderr": first.stderr + then.stderr,
                      **files_under(tmp_path / "out")})
    for done in (first, then):
        assert "DEBUG httpcore" in done.stderr and "X-Echo" in done.stderr  # every level was on
        assert "secret of this run" in done.stderr  # the warning says where, not what
    gs_data = json.loads((tmp_path / "out" / "gs_data.json").read_text())
    assert gs_data["name"] == "Ada *** *** ***"


def test_a_scholar_url_with_userinfo_is_never_shown(tmp_path: Path) -> None:
    with running_fake_scholar() as fake:
        base = with_userinfo(fake.url, SCHOLAR_USER, SCHOLAR_PW)
        fake.mode = "403"
        done = run_cli(["-v", "fetch", SID, "--out", str(tmp_path)],
                       env={**LOUD, "SCHOLAR_STATS_SCHOLAR_URL": base})
        assert done.returncode == 3
        assert fake.headers[0]["Authorization"]  # the userinfo was used, as Basic auth
        bad = run_cli(["fetch", SID], env={"SCHOLAR_STATS_SCHOLAR_URL": base.replace(
            "http://", "gopher://")})
    assert_no_secret([done.stdout, done.stderr, bad.stderr, *files_under(tmp_path).values()])
    assert "GET http://***@127.0.0.1" in done.stderr
    assert bad.returncode == 2 and "gopher://***@127.0.0.1" in bad.stderr


# -- the SerpApi side: the key and the base URL's userinfo, redirected and echoed back ----------

def serpapi_run(fake: FakeSerpApi, out: Path) -> subprocess.CompletedProcess[str]:
    base = with_userinfo(fake.url, SERPAPI_USER, SERPAPI_PW)
    return run_cli(["-v", "fetch", SID, "--out", str(out), "--source", "serpapi"],
                   env={**LOUD, "SCHOLAR_STATS_SERPAPI_URL": base, "SERPAPI_API_KEY": KEY})


def test_serpapi_echoing_the_key_everywhere_leaves_it_in_no_output(
    fake_serpapi: FakeSerpApi, tmp_path: Path,
) -> None:
    fake_serpapi.add_profile(SID, pubs=150)
    fake_serpapi.doctor = echo_key
    fake_serpapi.headers = {"X-Echo": f"{KEY} {SERPAPI_PW}"}
    done = serpapi_run(fake_serpapi, tmp_path)
    assert done.returncode == 0, done.stderr
    assert [search["api_key"] for search in fake_serpapi.searches()] == [KEY, KEY]  # 2 pages
    assert_no_secret({"stdout": done.stdout, "stderr": done.stderr, **files_under(tmp_path)})
    gs_data = json.loads((tmp_path / "gs_data.json").read_text())
    assert gs_data["name"] == "Grace ***" and gs_data["affiliation"] == "*** University, ***"
    titles = [pub["bib"]["title"] for pub in gs_data["publications"].values()]
    assert "On *** and ***" in titles
    assert "X-Echo" in done.stderr and "api_key=***" in done.stderr


@pytest.mark.parametrize("mode", ["redirect", "error"])
def test_serpapi_redirecting_or_quoting_the_key_leaves_it_in_no_output(
    fake_serpapi: FakeSerpApi, tmp_path: Path, mode: str,
) -> None:
    fake_serpapi.mode = mode
    fake_serpapi.redirect_to = (f"{with_userinfo(fake_serpapi.url, SERPAPI_USER, SERPAPI_PW)}"
                                f"/search.json?engine=x&api_key={KEY}")
    fake_serpapi.error_text = (f"Invalid API key {KEY} (password {SERPAPI_PW}) for "
                               f"http://{SERPAPI_USER}:{SERPAPI_PW}@serpapi.com")
    done = serpapi_run(fake_serpapi, tmp_path)
    assert done.returncode in (5, 6), done.stderr
    assert_no_secret({"stdout": done.stdout, "stderr": done.stderr, **files_under(tmp_path)})
    status = json.loads((tmp_path / "status.json").read_text())
    if mode == "error":
        assert status["message"].endswith(
            "Invalid API key *** (password ***) for http://***@serpapi.com")
    else:
        assert "Location" in done.stderr  # httpcore's debug line with the answer's headers


# -- proxy lists --------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["flag", "variable"])
def test_a_raw_comma_in_a_proxy_password_never_echoes_a_piece(tmp_path: Path,
                                                              where: str) -> None:
    # the password "8080,proxy-pw-f6" splits into a URL that parses (port 8080) and a tail
    proxies = f"direct,socks5://{PROXY_USER}:8080,{PROXY_PW}@127.0.0.1:1080"
    args, env = ["fetch", SID, "--out", str(tmp_path)], {"SCHOLAR_STATS_PROXY": proxies}
    if where == "flag":
        args, env = [*args, "--proxy", proxies], {}
    done = run_cli(args, env=env)
    assert_no_secret([done.stderr, done.stdout])
    error = done.stderr.split("error:")[-1]
    assert done.returncode == 2 and done.stderr.count("error:") == 1, done.stderr
    assert "proxy #3 of 3" in error and "%2C" in error and "8080" not in error
    assert "user:password@ before the host" in error


def test_a_percent_encoded_comma_in_a_proxy_password_reaches_the_proxy_decoded(
    tmp_path: Path,
) -> None:
    password = f"{PROXY_PW},more"
    with running_fake_scholar() as fake:
        fake.add_profile(SID, pubs=10)
        proxy = fake.url.replace("http://", f"http://{PROXY_USER}:{PROXY_PW}%2Cmore@")
        env = {**LOUD, "SCHOLAR_STATS_SCHOLAR_URL": f"http://{SCHOLAR_HOST}",
               "SCHOLAR_STATS_PROXY": f"{proxy},direct"}
        done = run_cli(["-v", "fetch", SID, "--out", str(tmp_path)], env=env)
        assert done.returncode == 0, done.stderr
        sent = fake.headers[0]["Proxy-Authorization"].split()[1]
    assert base64.b64decode(sent).decode() == f"{PROXY_USER}:{password}"
    assert_no_secret([done.stdout, done.stderr, *files_under(tmp_path).values()],
                     [PROXY_USER, PROXY_PW])


def test_the_proxy_pool_parser_names_the_piece_only_by_number() -> None:
    with pytest.raises(ValueError, match=r"proxy #1 of 2 .*%2C") as refused:
        parse_proxy_pool("http://user:secret,tail@host:8080")
    assert "secret" not in str(refused.value) and "tail" not in str(refused.value)
    assert parse_proxy_pool("http://user:a%2Cb@host:8080, direct") == (
        "http://user:a%2Cb@host:8080", "direct")


# -- the command line's own errors and tracebacks -----------------------------------------------

def test_argparse_errors_do_not_echo_a_secret_argument(tmp_path: Path) -> None:
    hook = f"https://hooks.example.com{HOOK_PATH}"
    for argv in (["publish", str(tmp_path), "--notify", hook],
                 ["publish", str(tmp_path), f"--noti={hook}"],
                 [f"--db=postgresql://u:{DB_PW}@h/x", "fetch", SID],
                 ["fetch", SID, "--proxy", f"ftp://{PROXY_USER}:{PROXY_PW}@h:21"]):
        code, out, err = run_main(argv)
        assert code == 2 and "error:" in err, (argv, err)
        assert_no_secret([out, err])


BROKEN = """
import sys
import scholar_stats.commands.tracked as tracked

def broken(args):
    try:
        raise OSError("connect to postgresql://postgres:{db_pw}@127.0.0.1/x failed")
    except OSError as exc:
        raise RuntimeError("sent {key} to {hook}") from exc

tracked.cli_authors_list = broken
from scholar_stats.cli import main
sys.exit(main(["-v", "authors", "list"]))
"""


def test_a_traceback_under_debug_holds_no_secret(tmp_path: Path) -> None:
    hook = f"https://hooks.example.com{HOOK_PATH}"
    script = BROKEN.format(db_pw=DB_PW, key=KEY, hook=hook)
    env = cli_env({**LOUD, "SERPAPI_API_KEY": KEY, "SCHOLAR_STATS_NOTIFY": hook,
                   "SCHOLAR_STATS_DB": f"sqlite:///{tmp_path / 'store.db'}"})
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert_no_secret([done.stdout, done.stderr])
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: sent *** to ***" in done.stderr
    assert "postgresql://***@127.0.0.1" in done.stderr  # the cause, chained


def test_internal_error_line_holds_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    import scholar_stats.commands.tracked

    def broken(args: object) -> int:
        raise RuntimeError(f"the key {KEY} and http://u:{DB_PW}@h")

    monkeypatch.setattr(scholar_stats.commands.tracked, "cli_authors_list", broken)
    monkeypatch.setenv("SERPAPI_API_KEY", KEY)
    monkeypatch.delenv("SCHOLAR_STATS_DEBUG", raising=False)
    code, out, err = run_main(["authors", "list"])
    assert_no_secret([out, err])
    assert code == 1 and "internal error: RuntimeError: the key *** and http://***@h" in err


# -- the mechanism ------------------------------------------------------------------------------

def test_every_log_record_is_redacted_whatever_prints_it() -> None:
    """Records of a logger with a handler of its own that does not propagate (uvicorn's, with
    uvicorn's formatter) are redacted like ours: message, arguments, traceback, stack."""
    from uvicorn.logging import DefaultFormatter

    redact.install([KEY])
    stream = __import__("io").StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False))
    logger = logging.getLogger("test_secrets.own_handler")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("key %s in %r", KEY, {"url": f"http://{SCHOLAR_USER}:{SCHOLAR_PW}@h/"})
        try:
            raise ValueError(f"quoted {KEY}")
        except ValueError:
            logger.exception("failed with %s", KEY, stack_info=True)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "key *** in {'url': 'http://***@h/'}" in text
    assert "ValueError: quoted ***" in text and "Stack (most recent call last)" in text
    assert_no_secret([text], [KEY, SCHOLAR_USER, SCHOLAR_PW])


def test_redact_masks_each_spelling_and_every_userinfo() -> None:
    redact.remember(["pa ss,wörd-42", "abc"])
    assert redact.redact("http://u:p@ss@host/x@y") == "http://***@host/x@y"
    assert redact.redact("socks5://a:b@h:1,http://c:d@h:2") == "socks5://***@h:1,http://***@h:2"
    assert redact.redact("GET /s.json?q=1&api_key=anything") == "GET /s.json?q=1&api_key=***"
    for spelling in ("pa ss,wörd-42", "pa%20ss%2Cw%C3%B6rd-42", "pa+ss%2Cw%C3%B6rd-42",
                     "pa ss,w\\u00f6rd-42", "pa ss,w\\xc3\\xb6rd-42"):
        assert redact.redact(f"<{spelling}>") == "<***>", spelling
    assert redact.redact("abc, abcd") == "abc, abcd"  # too short to look for in plain text


def test_scrub_masks_texts_and_refuses_an_id_holding_a_secret() -> None:
    redact.remember([KEY])
    record = {"name": f"A {KEY}", "publications": {"X:1": {"bib": {"title": KEY}}}, "n": 3}
    clean, found = redact.scrub(record)
    assert clean == {"name": "A ***", "publications": {"X:1": {"bib": {"title": "***"}}}, "n": 3}
    assert found == ["name", "publications.X:1.bib.title"]
    with pytest.raises(ValueError, match=r"publications\.X:\*\*\*"):
        redact.scrub({"publications": {f"X:{KEY}": {}}})
    assert redact.scrub({"a": ["b", 1]}) == ({"a": ["b", 1]}, [])



DYING_THREAD = """
import sys, threading
from scholar_stats import redact
redact.install([sys.argv[1]])

def die():
    raise RuntimeError("the key " + sys.argv[1])

thread = threading.Thread(target=die, name="notifier")
thread.start()
thread.join()
"""


def test_a_thread_dying_with_a_secret_prints_it_masked() -> None:
    done = subprocess.run([sys.executable, "-c", DYING_THREAD, KEY], env=cli_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert_no_secret([done.stdout, done.stderr])
    assert "Exception in thread notifier" in done.stderr
    assert "RuntimeError: the key ***" in done.stderr
