"""``POST /authors`` takes profile URLs where it takes ids, on SQLite and PostgreSQL: the ids are
what is tracked and answered; a URL that is not a profile's is 422 with one line that shows no
secret of it, and nothing of that request is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from support.service_helpers import TOKEN, client_for
from support.store_helpers import database_url

from scholar_stats.service.app import create_app
from scholar_stats.service.settings import ServiceSettings
from scholar_stats.store.database import Store

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": f"Bearer {TOKEN}"}
A, B = "DhtAFkwAAAAJ", "LZ5D_p4AAAAJ"
SECRET = "t0ps3cretValue"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path):
    with database_url(request.param, tmp_path) as url:
        Store(url).close()
        yield url


@pytest.fixture
async def client(db: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(db_url=db, scheduler=False, poll_seconds=0, admin_token=TOKEN)
    async with client_for(create_app(settings)) as c:
        yield c


def tracked(db: str) -> list[str]:
    with Store(db) as store:
        return sorted(author.scholar_id for author in store.list_authors())


async def test_profile_urls_are_tracked_by_their_ids(client: httpx.AsyncClient, db: str) -> None:
    body = {"ids": [f"https://scholar.google.de/citations?hl=de&user={A}#x",
                    f"  'https://www.scholar.google.co.uk/citations?user={B}&oi=ao' ", A]}
    r = await client.post("/authors", json=body, headers=AUTH)
    assert r.status_code == 200
    assert r.json() == {"added": [A, B], "tracked": [A, B]}
    assert tracked(db) == sorted([A, B])
    page = await client.get(f"/authors/{A}/status.json")
    assert page.status_code == 404 and page.json() != {"error": "not tracked"}  # tracked, no data


@pytest.mark.parametrize("hostile", [
    f"https://scholar.google.com.evil.example/citations?user={A}",
    f"https://scholar.google.com@evil.example/citations?user={A}",
    f"https://u:{SECRET}@scholar.google.com/citations?user={A}",
    f"https://scholar.google.com/citations?user={A}&user={B}&sig={SECRET}",
    f"https://scholar.g\u043eogle.com/citations?user={A}",
    f"https://scholar.google.com/citations?user%3D{A}&k={SECRET}",
    "x" * 50_000,  # under the body limit (64 KiB), over the input bound
])
async def test_a_url_that_is_no_profile_is_422_and_stores_nothing(
    client: httpx.AsyncClient, db: str, hostile: str,
) -> None:
    r = await client.post("/authors", json={"ids": [B, hostile]}, headers=AUTH)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "not a Google Scholar id or profile URL" in detail and "\n" not in detail
    assert SECRET not in r.text and len(detail) < 400
    assert tracked(db) == []  # not even the good id before it
