"""The service's group routes under a real uvicorn, on SQLite and PostgreSQL: the same bytes
as ``export --group``, badges, the page, new numbers when a member's refresh lands, and the
groups another process changes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.service_helpers import running_server
from support.store_helpers import T0, database_url, success
from support.waiting import wait_until

from scholar_stats.cli import main
from scholar_stats.outputs.export import group_files
from scholar_stats.refresh.record import record_outcome
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.store.database import Store

A = "DhtAFkwAAAAJ"
B = "amIMrIEAAAAJ"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        with Store(url) as store:
            store.add_authors([A, B], 86400, T0)
            record_outcome(store, success(A, {"p1": 10, "p2": 3}), T0)
            record_outcome(store, success(B, {"p1": 12, "p9": 1}), T0)
            store.add_to_group("lab", [A, B])
        yield url


def test_group_routes(db: str, tmp_path: Path) -> None:
    app = create_app(ServiceSettings(db_url=db, scheduler=False, poll_seconds=0))
    with running_server(app) as base, httpx.Client(base_url=base) as client:
        with Store(db) as store:
            expected = group_files(store, "lab")
        assert expected is not None
        for path, body in expected.items():
            r = client.get(f"/groups/lab/{path}")
            assert r.status_code == 200, path
            if path == "gs_data.json":
                assert r.content == body
            else:  # an endpoint: export's, with the service's cache hint added
                assert r.json() == {**json.loads(body), "cacheSeconds": 3600}, path
            assert r.headers["cache-control"] == "public, max-age=3600"
            assert r.headers["content-type"] == "application/json"
        assert client.get("/groups/lab/shields/h-index.json").json()["message"] == "2"
        badge = client.get("/groups/lab/badges/citations.svg")
        assert badge.headers["content-type"] == "image/svg+xml"
        assert ">16<" in badge.text and ET.fromstring(badge.content) is not None
        page = client.get("/groups/lab/")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1><bdi>lab</bdi></h1>" in page.text and '<td class="n">16</td>' in page.text
        assert f'href="../../authors/{A}/"' in page.text and 'src="badges/h-index.svg"' in page.text
        etag = client.get("/groups/lab/gs_data.json").headers["etag"]
        assert client.get("/groups/lab/gs_data.json",
                          headers={"if-none-match": etag}).status_code == 304
        assert client.get("/groups/nolab/gs_data.json").status_code == 404
        assert client.get("/groups/Bad%20Name/gs_data.json").status_code == 400
        unknown = client.get("/groups/lab/shields/citations-5y.json")  # shields' rules: a 200
        assert unknown.status_code == 200 and unknown.json()["isError"] is True
        # a member's refresh lands: the group's numbers follow
        outcome = success(A, {"p1": 20, "p2": 3}, T0)
        with Store(db) as store:
            recorded = record_outcome(store, outcome, T0.replace(hour=13))
        app.state.service.on_result(recorded)
        record = client.get("/groups/lab/gs_data.json").json()
        assert record["citedby"] == 24 and record["publications"][f"{B}:p1"]["num_citations"] == 20
        out = tmp_path / "lab"
        assert main(["export", "--group", "lab", "--db", db, "--out", str(out)]) == 0
        assert json.loads((out / "gs_data.json").read_bytes()) == record


def test_group_changes_in_another_process_reach_the_service(db: str) -> None:
    """Groups are mirrored like the authors: what another process changes shows within the
    poll interval, and the routes answer from the mirror."""
    app = create_app(ServiceSettings(db_url=db, scheduler=False, poll_seconds=0.1))

    def members(client: httpx.Client, name: str) -> list[str] | None:
        r = client.get(f"/groups/{name}/gs_data.json")
        return None if r.status_code == 404 else [m["scholar_id"] for m in r.json()["members"]]

    def eventually(check: Callable[[], bool]) -> None:
        wait_until(check, "the poll brought the change", timeout=20)

    with running_server(app) as base, httpx.Client(base_url=base) as client:
        assert members(client, "lab") == [A, B] and members(client, "solo") is None
        with Store(db) as other_process:
            other_process.add_to_group("solo", [B])
            other_process.remove_from_group("lab", [B])
        eventually(lambda: members(client, "solo") == [B] and members(client, "lab") == [A])
        with Store(db) as other_process:
            other_process.remove_from_group("lab")
        eventually(lambda: members(client, "lab") is None)
        assert client.get("/groups/lab/").status_code == 404
