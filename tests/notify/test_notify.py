"""Webhook notifications (issue 13): `fetch --notify URL` POSTs one message per fetch that changed
something to a real receiver on loopback; retries, a receiver that hangs, Slack's and Discord's
formats, and the URL (a secret) never printed."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli_helpers import cli_env, run_cli, run_main
from support.fake_scholar import FakeScholar
from support.webhook_receiver import Receiver, running_receiver

from scholar_stats.core.changes import PAPER_ADDED, ChangeEvent
from scholar_stats.notify.urls import parse_webhook_urls, target_name, webhook_style
from scholar_stats.notify.webhook import DISCORD_LIMIT, Notice, webhook_payload

SID = "NotifyAuth01"
OTHER = "NotifyAuth02"
SECRET = "secret-token-path"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.delenv("SCHOLAR_STATS_NOTIFY", raising=False)
    with running_receiver() as running:
        yield running


def fetch(out: Path, *args: str) -> tuple[int, str, str]:
    return run_main(["fetch", *args, "--out", str(out)])


def changed_profiles(fake: FakeScholar, *ids: str, citations: int) -> None:
    for scholar_id in ids:
        fake.add_profile(scholar_id, pubs=4, citations=citations)


def test_one_post_per_fetch_that_changed_something(
    fake_scholar: FakeScholar, receiver: Receiver, tmp_path: Path
) -> None:
    changed_profiles(fake_scholar, SID, OTHER, citations=1000)
    assert fetch(tmp_path, SID, OTHER, "--notify", receiver.url())[0] == 0
    assert receiver.posts == []  # a first fetch has nothing to compare with

    changed_profiles(fake_scholar, SID, citations=1010)  # only the first author changes
    code, out, err = fetch(tmp_path, SID, OTHER, "--notify", receiver.url())
    assert (code, err) == (0, "")
    assert [post.body["scholar_id"] for post in receiver.posts] == [SID]
    post = receiver.posts[0]
    assert post.path == "/hook/secret-token-path"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Idempotency-Key"]
    body = post.body
    assert body["name"] == f"Synthetic Author {SID}"
    assert body["events_total"] == 2 and [e["metric"] for e in body["events"]] == [
        "citations", "citations-5y"]
    assert body["events"][0]["old"] == 1000 and body["events"][0]["new"] == 1010
    gs = json.loads((tmp_path / SID / "gs_data.json").read_text())
    assert body["date"] == gs["updated"]
    assert body["summary"].splitlines()[1] == "citations: 1000 -> 1010"
    assert f"{SID}: notified webhook #1 (127.0.0.1)" in out and SECRET not in out

    assert fetch(tmp_path, SID, OTHER, "--notify", receiver.url())[0] == 0
    assert len(receiver.posts) == 1  # nothing changed: no POST


def test_every_url_gets_the_message_and_the_flag_wins_over_the_environment(
    fake_scholar: FakeScholar, receiver: Receiver, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed_profiles(fake_scholar, SID, citations=1000)
    assert fetch(tmp_path, SID)[0] == 0
    changed_profiles(fake_scholar, SID, citations=1001)
    urls = f"{receiver.url('/env-a')}, {receiver.url('/env-b')}"
    monkeypatch.setenv("SCHOLAR_STATS_NOTIFY", urls)
    assert fetch(tmp_path, SID)[0] == 0
    assert sorted(post.path for post in receiver.posts) == ["/env-a", "/env-b"]
    changed_profiles(fake_scholar, SID, citations=1002)
    assert fetch(tmp_path, SID, "--notify", receiver.url("/flag"))[0] == 0
    assert [post.path for post in receiver.posts[2:]] == ["/flag"]


def test_5xx_is_retried_with_the_same_idempotency_key(
    fake_scholar: FakeScholar, receiver: Receiver, tmp_path: Path
) -> None:
    changed_profiles(fake_scholar, SID, citations=1000)
    assert fetch(tmp_path, SID)[0] == 0
    changed_profiles(fake_scholar, SID, citations=1010)
    receiver.queue = ["500", "503", "ok"]
    code, out, err = fetch(tmp_path, SID, "--notify", receiver.url())
    assert (code, err) == (0, "")
    assert len(receiver.posts) == 3
    assert len({post.headers["Idempotency-Key"] for post in receiver.posts}) == 1
    assert "notified webhook #1" in out

    changed_profiles(fake_scholar, SID, citations=1020)
    receiver.mode = "500"
    code, out, err = fetch(tmp_path, SID, "--notify", receiver.url())
    assert code == 0  # a failed delivery never fails the data path
    assert len(receiver.posts) == 6  # 3 attempts, bounded
    assert err == (f"scholar-stats: warning: {SID}: notifying webhook #1 (127.0.0.1) failed: "
                   "HTTP 500 after 3 attempts (the data was written)\n")
    assert json.loads((tmp_path / "gs_data.json").read_text())["citedby"] == 1020


@pytest.mark.parametrize("status", ["404", "302"])
def test_a_4xx_or_a_redirect_is_final(
    fake_scholar: FakeScholar, receiver: Receiver, tmp_path: Path, status: str
) -> None:
    changed_profiles(fake_scholar, SID, citations=1000)
    assert fetch(tmp_path, SID)[0] == 0
    changed_profiles(fake_scholar, SID, citations=1010)
    receiver.mode = status
    code, _out, err = fetch(tmp_path, SID, "--notify", receiver.url())
    assert code == 0 and len(receiver.posts) == 1 and f"refused: HTTP {status}" in err


def test_a_receiver_that_hangs_cannot_stretch_the_run_past_its_deadline(
    fake_scholar: FakeScholar, receiver: Receiver, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed_profiles(fake_scholar, SID, citations=1000)
    assert fetch(tmp_path, SID)[0] == 0
    changed_profiles(fake_scholar, SID, citations=1010)
    receiver.mode = "hang"
    monkeypatch.setenv("SCHOLAR_STATS_TIMEOUT", "60")  # only the deadline bounds the wait
    started = time.monotonic()  # in this process: the modules are imported already
    code, _out, err = fetch(tmp_path, SID, "--deadline", "3", "--notify", receiver.url())
    elapsed = time.monotonic() - started
    assert code == 0, err
    # it waited for the receiver, but not past 3 s (docs, --notify: delivery "is bounded by
    # --deadline")
    assert 2.9 < elapsed < 3 + 0.5, elapsed
    assert len(receiver.posts) == 1  # no time was left for a retry
    assert "failed: no answer in time" in err and SECRET not in err
    assert json.loads((tmp_path / "gs_data.json").read_text())["citedby"] == 1010


def test_the_url_is_never_printed_even_verbose(
    fake_scholar: FakeScholar, receiver: Receiver, tmp_path: Path
) -> None:
    changed_profiles(fake_scholar, SID, citations=1000)
    assert fetch(tmp_path, SID)[0] == 0
    changed_profiles(fake_scholar, SID, citations=1010)
    receiver.queue = ["500"]
    done = run_cli(["-v", "fetch", SID, "--out", str(tmp_path), "--notify", receiver.url()],
                   env=cli_env(), timeout=30)
    assert done.returncode == 0, done.stderr
    assert "webhook #1 (127.0.0.1)" in done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert len(receiver.posts) == 2
    for folder_file in tmp_path.rglob("*"):
        if folder_file.is_file():
            assert SECRET.encode() not in folder_file.read_bytes(), folder_file

    bad = run_cli(["fetch", SID, "--out", str(tmp_path), "--notify", "ftp://h/" + SECRET],
                  env=cli_env(), timeout=30)
    assert bad.returncode == 2 and SECRET not in bad.stderr
    assert bad.stderr.splitlines()[-1].startswith("scholar-stats fetch: error: argument --notify")


@pytest.fixture
def chat_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """hooks.slack.com and discord.com resolve to 127.0.0.1 (the receiver), for this process."""
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("hooks.slack.com", "discord.com"):
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_slack_and_discord_get_their_own_formats(
    fake_scholar: FakeScholar, receiver: Receiver, tmp_path: Path, chat_hosts: None
) -> None:
    name = "<!channel> @everyone & Co"
    fake_scholar.add_profile(SID, pubs=4, citations=1000, name=name)
    assert fetch(tmp_path, SID)[0] == 0
    fake_scholar.add_profile(SID, pubs=4, citations=1010, name=name)
    slack = receiver.url("/services/T000/B000/" + SECRET, host="hooks.slack.com")
    discord = receiver.url("/api/webhooks/123/" + SECRET, host="discord.com")
    code, out, err = fetch(tmp_path, SID, "--notify", slack, "--notify", discord)
    assert (code, err) == (0, "")
    assert "webhook #1 (hooks.slack.com)" in out and "webhook #2 (discord.com)" in out
    slack_post, discord_post = receiver.posts
    assert set(slack_post.body) == {"text"}
    assert slack_post.body["text"].startswith(
        f"&lt;!channel&gt; @everyone &amp; Co ({SID}) on Google Scholar: 2 changes")
    assert "citations: 1000 -&gt; 1010" in slack_post.body["text"]
    assert discord_post.body["allowed_mentions"] == {"parse": []}  # no ping from a title
    assert discord_post.body["content"].startswith(f"{name} ({SID}) on Google Scholar: 2 changes")


def many_events(count: int) -> Notice:
    events = tuple(ChangeEvent("2026-03-02T06:17:00+00:00", SID, PAPER_ADDED, f"{SID}:p{i}",
                               "A long title " * 20, None, i) for i in range(count))
    return Notice(SID, "Ada", "2026-03-02T06:17:00+00:00", events)


def test_payloads_stay_within_what_receivers_take() -> None:
    notice = many_events(500)
    discord = webhook_payload("discord", notice)["content"]
    assert len(discord) <= DISCORD_LIMIT
    slack = webhook_payload("slack", notice)["text"]
    assert slack.count("\n") == 11 and slack.endswith("and 490 more")
    generic = webhook_payload("json", notice)
    assert generic["events_total"] == 500 and len(generic["events"]) == 200


def test_urls_are_told_apart_and_named_by_host_only() -> None:
    assert webhook_style("https://hooks.slack.com/services/T/B/x") == "slack"
    assert webhook_style("https://discord.com/api/webhooks/1/x") == "discord"
    assert webhook_style("https://discordapp.com/api/webhooks/1/x") == "discord"
    assert webhook_style("https://discord.com/channels/1") == "json"
    assert webhook_style("https://example.org/hooks.slack.com") == "json"
    assert target_name(2, "https://user:pw@Hooks.Slack.com/services/T/B/x") == \
        "webhook #2 (hooks.slack.com)"
    assert parse_webhook_urls("https://a.example/1, https://b.example/2\nhttps://c.example/3") \
        == ["https://a.example/1", "https://b.example/2", "https://c.example/3"]
    with pytest.raises(ValueError, match="URL #2") as caught:
        parse_webhook_urls("https://a.example/1 ftp://b.example/" + SECRET)
    assert SECRET not in str(caught.value)
