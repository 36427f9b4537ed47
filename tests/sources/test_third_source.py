"""The sources' seam (issue 19): a third source, defined only here in a few lines (a lab's
"mirror" that answers a fixed profile), registered for one test and removed after, with no file
of the package edited. It runs through ``fetch``, the refresh engine (``refresh``), ``authors
list``, the service's ``status.json`` and ``/metrics``, each naming it as where the data came
from; ``--source`` takes it; and as a fallback under ``--source auto`` it follows the rules
SerpApi follows: asked only when Scholar blocks, and the run's next authors go straight to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.cli_helpers import run_main
from support.fake_scholar import FakeScholar
from support.service_helpers import running_server
from support.store_helpers import database_url, gs_data
from support.waiting import wait_until

from scholar_stats.core.model import AuthorData, FetchStatus
from scholar_stats.outputs.summary import AuthorReport, render_summary
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.settings import DIRECT
from scholar_stats.sources import registry
from scholar_stats.sources.choice import SourceSettings
from scholar_stats.sources.source import Opening, Source
from scholar_stats.store.database import Store

ONE, TWO = "MIRRORONE12J", "MIRRORTWO12J"
TOKEN = "mirror-admin-token"


class Mirror(Source):
    """The whole source: its name and title, and a fetcher that answers a fixed profile."""

    name, title = "mirror", "Mirror"

    def __init__(self, fallback: bool = False) -> None:
        self.fallback = fallback
        self.asked: list[str] = []

    def open(self, opening: Opening) -> Any:
        return MirrorFetcher(self)


class MirrorFetcher:
    egress, label = None, DIRECT

    def __init__(self, source: Mirror) -> None:
        self.source, self.requests_made = source, 0

    def fetch(self, scholar_id: str, now: datetime, previous: Any, intake: Any) -> AuthorData:
        self.requests_made += 1
        self.source.asked.append(scholar_id)
        return AuthorData(scholar_id, gs_data(scholar_id, {"PAPERAAAAAAA": 40, "PAPERBBBBBBB": 2},
                                              citations=4321), since_year=2021)

    def close(self) -> None:
        pass


@pytest.fixture
def no_source_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCHOLAR_STATS_SOURCE", "SERPAPI_API_KEY", "SCHOLAR_STATS_DB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mirror(no_source_settings: None) -> Iterator[Mirror]:
    source = Mirror()
    with registry.registered(source):
        yield source
    assert "mirror" not in registry.choices()


@pytest.fixture
def mirror_fallback(no_source_settings: None) -> Iterator[Mirror]:
    source = Mirror(fallback=True)
    with registry.registered(source):
        yield source


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def status_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "status.json").read_text())


def test_fetch_asks_the_source_defined_here(
    mirror: Mirror, fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    code, out, err = run_main(["fetch", ONE, "--source", "mirror", "--out", str(tmp_path)])
    assert code == 0, err
    status = status_of(tmp_path)
    assert (status["source"], status["outcome"], status["requests"]) == ("mirror", "ok", 1)
    assert "serpapi_searches" not in status  # SerpApi's count is SerpApi's own
    assert json.loads((tmp_path / "gs_data.json").read_text())["citedby"] == 4321
    assert out.startswith(f"{ONE}: Zoë Ångström: 4321 citations") and "from Mirror) ->" in out
    assert fake_scholar.requests == [] and mirror.asked == [ONE]


def test_the_choices_of_source_come_from_the_registry(
    no_source_settings: None, tmp_path: Path
) -> None:
    args = ["fetch", ONE, "--source", "nowhere", "--out", str(tmp_path)]
    with registry.registered(Mirror()):
        code, _, err = run_main(args)
        assert code == 2 and "expected one of auto, scholar, serpapi, mirror, got 'nowhere'" in err
    code, _, err = run_main(["fetch", ONE, "--source", "mirror", "--out", str(tmp_path)])
    assert code == 2 and "expected one of auto, scholar, serpapi, got 'mirror'" in err
    assert not (tmp_path / "status.json").exists()


def test_refresh_records_the_source_defined_here(
    mirror: Mirror, fake_scholar: FakeScholar, db_url: str
) -> None:
    assert run_main(["authors", "add", ONE, TWO, "--db", db_url])[0] == 0
    code, out, err = run_main(["refresh", "--db", db_url, "--source", "mirror"])  # a due pass
    assert code == 0, err
    assert sorted(mirror.asked) == [ONE, TWO] and fake_scholar.requests == []
    assert out.count("4321 citations") == 2
    with Store(db_url) as store:
        assert [attempt.source for attempt in store.attempts(ONE)] == ["mirror"]
        assert [source for _, source in store.metric_sources(ONE)] == ["mirror"]
        assert {author.source for author in store.list_authors()} == {"mirror"}
        status = store.last_status(TWO)
        assert status is not None and status.source == "mirror"
    code, listing, _ = run_main(["authors", "list", "--db", db_url])
    lines = listing.splitlines()
    assert code == 0 and "SOURCE" in lines[0]
    assert all(" mirror " in line for line in lines[1:3]), lines


def test_the_service_names_the_source_defined_here(
    mirror: Mirror, fake_scholar: FakeScholar, db_url: str
) -> None:
    with Store(db_url) as store:
        store.add_authors([ONE], 86400, datetime.now(timezone.utc))
    app = create_app(ServiceSettings(db_url=db_url, admin_token=TOKEN, scheduler=False,
                                     poll_seconds=0.1, sources=SourceSettings.of("mirror")))
    with running_server(app) as base, httpx.Client(base_url=base) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post(f"/authors/{ONE}/refresh", headers=auth).status_code == 202
        wait_until(lambda: client.get(f"/authors/{ONE}/status.json").status_code == 200,
                   "the refresh landed")
        status = client.get(f"/authors/{ONE}/status.json").json()
        assert (status["source"], status["outcome"]) == ("mirror", "ok")
        metrics = client.get("/metrics").text
    assert 'scholar_stats_fetches_by_source_total{outcome="ok",source="mirror"} 1.0' in metrics
    assert 'scholar_stats_store_successes_by_source_24h{source="mirror"} 1.0' in metrics
    assert "by the source that gave the answer (scholar, serpapi, mirror)" in metrics
    assert mirror.asked == [ONE] and fake_scholar.requests == []


def test_auto_asks_a_fallback_only_when_scholar_blocks(
    mirror_fallback: Mirror, fake_scholar: FakeScholar, tmp_path: Path
) -> None:
    fake_scholar.add_profile(ONE, pubs=20, citations=500)
    fake_scholar.add_profile(TWO, pubs=20, citations=600)
    code, _, err = run_main(["fetch", ONE, "--out", str(tmp_path / "fine")])
    assert code == 0, err
    assert status_of(tmp_path / "fine")["source"] == "scholar" and mirror_fallback.asked == []

    fake_scholar.requests.clear()
    fake_scholar.mode = "403"
    out_dir = tmp_path / "blocked"
    code, out, err = run_main(["fetch", ONE, TWO, "--out", str(out_dir)])
    assert code == 0, err
    assert [status_of(out_dir / sid)["source"] for sid in (ONE, TWO)] == ["mirror", "mirror"]
    assert f"{ONE}: Zoë Ångström: 4321 citations" in out and "(via Mirror: Scholar blocked" in out
    # a block is about the address: the second author went straight to the fallback
    assert len(fake_scholar.requests) == 1 and mirror_fallback.asked == [ONE, TWO]


def test_the_engine_falls_back_to_it_and_pauses_scholar(
    mirror_fallback: Mirror, fake_scholar: FakeScholar, db_url: str
) -> None:
    fake_scholar.mode = "403"
    assert run_main(["authors", "add", ONE, TWO, "--db", db_url])[0] == 0
    code, _, err = run_main(["refresh", ONE, "--db", db_url])
    assert code == 0, err
    with Store(db_url) as store:
        assert [attempt.source for attempt in store.attempts(ONE)] == ["mirror"]
        assert store.paused_until(datetime.now(timezone.utc)) is not None  # Scholar's address
    code, _, err = run_main(["refresh", TWO, "--db", db_url])  # Scholar paused: the fallback
    assert code == 0, err
    assert len(fake_scholar.requests) == 1 and mirror_fallback.asked == [ONE, TWO]


def test_the_summary_notes_where_the_data_came_from(mirror: Mirror) -> None:
    def row(source: str | None) -> str:
        status = FetchStatus(ONE, "ok", 0, "ok", "t", "t", source=source)
        text = render_summary([AuthorReport(ONE, "Ada", None, None, status)], "x",
                              registry.noted_titles())
        return next(line for line in text.splitlines() if line.startswith("| Ada"))

    assert row("mirror").endswith("| ok (from Mirror) |")
    assert row("serpapi").endswith("| ok (from SerpApi) |")
    assert row("scholar").endswith("| ok |") and row(None).endswith("| ok |")


def test_the_registry_keeps_one_name_per_source(mirror: Mirror) -> None:
    with pytest.raises(ValueError, match="registered already"):
        registry.register(Mirror())
    for bad in ("auto", "Mirror2", "", "a-name-longer-than-the-store-keeps"):
        odd = Mirror()
        odd.name = bad
        with pytest.raises(ValueError, match="name"):
            registry.register(odd)
    with pytest.raises(ValueError, match="that can be removed"):
        registry.unregister("scholar")
    assert registry.get(None) is registry.get("scholar")
    assert registry.choices() == ("auto", "scholar", "serpapi", "mirror")
