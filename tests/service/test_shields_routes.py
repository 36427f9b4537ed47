"""The service's shields endpoint routes as shields.io reads them: every answer passes shields'
endpoint schema (support.shields_schema); fresh data blue, stale grey, ``cacheSeconds`` the
``max-age``; every failure a 200 with ``isError`` and a short cache, as shields reads no other
answer's body; the other routes keep their status codes. docs/architecture.md, "Shields
endpoint files"."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.service_helpers import EMPTY, FRESH, STALE, UNTRACKED, client_for, fill_store
from support.shields_schema import SHIELDS_MIN_CACHE_SECONDS, assert_shields_endpoint

from scholar_stats.core.model import METRIC_NAMES
from scholar_stats.outputs.badges import DEFAULT_COLOR, STALE_COLOR
from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.service.snapshot import ERROR_MAX_AGE
from scholar_stats.store.database import Store

pytestmark = pytest.mark.anyio
MAX_AGE = 900
PAPER = "P00000000002"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    fill_store(url)
    with Store(url) as store:
        store.add_to_group("lab", [FRESH, STALE])
    app = create_app(ServiceSettings(db_url=url, scheduler=False, poll_seconds=0,
                                     max_age=MAX_AGE))
    async with client_for(app) as c:
        yield c


def max_age(response: httpx.Response) -> int:
    found = re.fullmatch(r"public, max-age=(\d+)", response.headers["cache-control"])
    assert found, response.headers["cache-control"]
    return int(found.group(1))


async def endpoint(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, Any]:
    """An answer as shields takes it: a 200 of JSON passing its schema."""
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), path
    body = response.json()
    assert_shields_endpoint(body, path)
    return response, body


def data_paths(scholar_id: str) -> list[str]:
    base = f"/authors/{scholar_id}/"
    return [base + "gs_data_shieldsio.json",
            *(f"{base}shields/{metric}.json" for metric in METRIC_NAMES),
            f"{base}papers/{PAPER}.json", f"{base}papers/{PAPER}/shields.json",
            f"{base}papers/{scholar_id}:{PAPER}/shields.json"]


@pytest.mark.parametrize(("scholar_id", "color"), [(FRESH, DEFAULT_COLOR), (STALE, STALE_COLOR)])
async def test_every_data_endpoint_is_coloured_by_age_and_says_its_max_age(
    client: httpx.AsyncClient, scholar_id: str, color: str
) -> None:
    """Every metric and a paper, fresh and stale (fetched in 2020): blue or grey, the number
    kept, and ``cacheSeconds`` the ``Cache-Control: max-age`` it is served with."""
    record = (await client.get(f"/authors/{scholar_id}/gs_data.json")).json()
    for path in data_paths(scholar_id):
        response, body = await endpoint(client, path)
        assert body["color"] == color, path
        assert body["cacheSeconds"] == max_age(response) == MAX_AGE, path
        assert "isError" not in body, path
    _, citations = await endpoint(client, f"/authors/{scholar_id}/shields/citations.json")
    assert citations["message"] == str(record["citedby"])
    _, paper = await endpoint(client, f"/authors/{scholar_id}/papers/{PAPER}.json")
    assert paper["message"] == str(record["publications"][f"{scholar_id}:{PAPER}"]
                                   ["num_citations"])


FAILURES = [
    # (path, message): untracked, never fetched, unknown metric or paper, malformed id
    (f"/authors/{UNTRACKED}/gs_data_shieldsio.json", "not tracked"),
    (f"/authors/{UNTRACKED}/shields/citations.json", "not tracked"),
    (f"/authors/{UNTRACKED}/papers/{PAPER}.json", "not tracked"),
    (f"/authors/{UNTRACKED}/papers/{UNTRACKED}:{PAPER}/shields.json", "not tracked"),
    (f"/authors/{EMPTY}/gs_data_shieldsio.json", "no data yet"),
    (f"/authors/{EMPTY}/shields/h-index.json", "no data yet"),
    (f"/authors/{EMPTY}/papers/{PAPER}.json", "no data yet"),
    (f"/authors/{FRESH}/shields/nope.json", "unknown metric"),
    (f"/authors/{UNTRACKED}/shields/nope.json", "unknown metric"),
    (f"/authors/{FRESH}/papers/XXXXXXXXXXXX.json", "unknown paper"),
    (f"/authors/{FRESH}/papers/{FRESH}:XXXXXXXXXXXX/shields.json", "unknown paper"),
    (f"/authors/{FRESH}/papers/OTHERAUTHOR1:{PAPER}/shields.json", "unknown paper"),
    (f"/authors/{FRESH}/papers/bad.id.json", "unknown paper"),
    ("/authors/short/gs_data_shieldsio.json", "invalid scholar id"),
    ("/authors/short/shields/citations.json", "invalid scholar id"),
    ("/authors/bad!idbad!id/papers/P00000000001.json", "invalid scholar id"),
    ("/authors/short/papers/short:P00000000001/shields.json", "invalid scholar id"),
    ("/groups/nolab/shields/citations.json", "no such group"),
    ("/groups/nolab/gs_data_shieldsio.json", "no such group"),
    ("/groups/Bad%20Name/shields/citations.json", "invalid group name"),
    ("/groups/lab/shields/citations-5y.json", "unknown metric"),
]


@pytest.mark.parametrize(("path", "message"), FAILURES)
async def test_a_failure_on_an_endpoint_route_is_a_200_error_badge(
    client: httpx.AsyncClient, path: str, message: str
) -> None:
    response, body = await endpoint(client, path)
    assert body == {"schemaVersion": 1, "label": "scholar", "message": message,
                    "isError": True, "color": "red"}
    assert max_age(response) == ERROR_MAX_AGE < MAX_AGE


async def test_a_too_long_query_on_an_endpoint_route_is_a_200_error_badge(
    client: httpx.AsyncClient,
) -> None:
    response, body = await endpoint(client, f"/authors/{FRESH}/shields/citations.json?x="
                                    + "a" * 3000)
    assert body["isError"] is True and max_age(response) == ERROR_MAX_AGE


@pytest.mark.parametrize(("path", "status"), [
    (f"/authors/{UNTRACKED}/gs_data.json", 404),
    (f"/authors/{UNTRACKED}/status.json", 404),
    ("/authors/short/gs_data.json", 400),
    (f"/authors/{FRESH}/nothing.json", 404),
    (f"/authors/{UNTRACKED}/badges/citations.svg", 404),
    (f"/authors/{FRESH}/badges/nope.svg", 404),
    ("/authors/short/badges/citations.svg", 400),
    (f"/authors/{EMPTY}/chart.svg", 404),
    ("/groups/nolab/gs_data.json", 404),
    ("/groups/Bad%20Name/gs_data.json", 400),
])
async def test_other_routes_keep_their_status_codes(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    assert (await client.get(path)).status_code == status


async def test_group_endpoints_pass_the_schema_and_say_their_max_age(
    client: httpx.AsyncClient,
) -> None:
    for metric in ("citations", "h-index", "i10-index", "publications"):
        response, body = await endpoint(client, f"/groups/lab/shields/{metric}.json")
        assert body["color"] == DEFAULT_COLOR
        assert body["cacheSeconds"] == max_age(response) == MAX_AGE
    _, body = await endpoint(client, "/groups/lab/gs_data_shieldsio.json")
    assert body["cacheSeconds"] == MAX_AGE


def test_the_default_max_age_is_what_shields_will_keep() -> None:
    """``cacheSeconds`` is the service's max-age; shields keeps a badge at least 300 s, so the
    default announces a time shields honours rather than one it raises."""
    assert ServiceSettings().max_age >= SHIELDS_MIN_CACHE_SECONDS
