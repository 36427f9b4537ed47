"""Shared fixtures: the fake Scholar and the fake SerpApi on loopback, and an environment
pointing the CLI at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.fake_scholar import FakeScholar, running_fake_scholar
from support.fake_serpapi import FakeSerpApi, running_fake_serpapi


@pytest.fixture
def fake_scholar(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeScholar]:
    """A fake Scholar on 127.0.0.1, with the CLI pointed at it and retries made quick.

    Retries stay on (3 attempts) but back off for 50 ms instead of seconds, and a request times
    out after 2 s; tests that measure those limits set their own values.
    """
    with running_fake_scholar() as fake:
        monkeypatch.setenv("SCHOLAR_STATS_SCHOLAR_URL", fake.url)
        monkeypatch.setenv("SCHOLAR_STATS_BACKOFF", "0.05")
        monkeypatch.setenv("SCHOLAR_STATS_TIMEOUT", "2")
        monkeypatch.setenv("SCHOLAR_STATS_DELAY", "0")
        for name in ("SCHOLAR_STATS_PROXY", "SCHOLAR_STATS_OUT", "SCHOLAR_STATS_DEADLINE",
                     "SCHOLAR_STATS_FORCE", "SCHOLAR_STATS_ATTEMPTS"):
            monkeypatch.delenv(name, raising=False)
        yield fake


@pytest.fixture
def fake_serpapi(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSerpApi]:
    """A fake SerpApi on 127.0.0.1, with the CLI pointed at it and its key set; no monthly
    limit or source carried in from the environment."""
    with running_fake_serpapi() as fake:
        monkeypatch.setenv("SCHOLAR_STATS_SERPAPI_URL", fake.url)
        monkeypatch.setenv("SERPAPI_API_KEY", fake.key)
        for name in ("SCHOLAR_STATS_SOURCE", "SCHOLAR_STATS_SERPAPI_MONTHLY_LIMIT"):
            monkeypatch.delenv(name, raising=False)
        yield fake
