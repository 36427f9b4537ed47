"""Shared fixtures: the fake Scholar on loopback, and an environment pointing the CLI at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_scholar import FakeScholar, running_fake_scholar


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
