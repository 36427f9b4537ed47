"""A stranger's render flood against a real ``serve`` holding a profile at the documented limit of
50,000 papers: 16 clients, each request with a new Host header or a new query, while another
client times cached ``gs_data.json`` answers. None may take the documented 0.5 s."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.paths import SUPPORT
from support.service_helpers import FRESH, now, pubs, running_serve
from support.store_helpers import success

from scholar_stats.refresh.record import record_outcome
from scholar_stats.store.database import Store

HUGE = "HUGEAUTHOR12"
PAPERS = 50_000  # the most a profile may hold (docs, "Numbers, the store and refresh")
BOUND = 0.5  # seconds: no public answer waits this long (docs, "The service")
FLOOD_SECONDS = 6.0

# Per client, what it asks again and again: every request something not rendered yet.
PAGES = [{"path": f"/authors/{HUGE}/", "host": "page-{k}-{n}.example"}] * 16  # a page per host
RENDERS = [
    {"path": f"/authors/{HUGE}/", "host": "page-{k}-{n}.example"},  # the page, per host
    {"path": "/", "host": "index-{k}-{n}.example"},
    {"path": "/groups/lab/", "host": "group-{k}-{n}.example"},
    {"path": f"/authors/{HUGE}/badges/citations.svg?label=c{{k}}-{{n}}"},  # a badge per label
    {"path": f"/authors/{HUGE}/papers/P{{n:011d}}.json"},  # a paper of 50,000, each new
    {"path": f"/authors/{HUGE}/papers/NOPAPER{{k:02d}}{{n:03d}}.json"},  # unknown: isError each
    {"path": f"/authors/{FRESH}/badges/h-index.svg?color={{k:02x}}{{n:04x}}"},  # evicting
    {"path": f"/authors/{HUGE}/card.svg?n={{n}}", "host": "card-{k}-{n}.example"},
]


@pytest.fixture(scope="module")
def huge_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with a 50,000-paper author and a small one, both in group ``lab``."""
    url = f"sqlite:///{tmp_path_factory.mktemp('flood') / 'flood.db'}"
    with Store(url) as store:
        t = now()
        store.add_authors([HUGE, FRESH], 86400, t)
        record_outcome(store, success(HUGE, pubs(PAPERS), t), t)
        record_outcome(store, success(FRESH, pubs(12), t), t)
        store.add_to_group("lab", [HUGE, FRESH])
    return url


def timed_gets(port: int, path: str, seconds: float) -> list[float]:
    """Wall time of each answer to ``GET path`` (gzip), one after another on one connection."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n".encode()
    took = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        stream = sock.makefile("rb")
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            started = time.perf_counter()
            sock.sendall(request)
            status = stream.readline()
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            stream.read(length)
            took.append(time.perf_counter() - started)
            assert status.split()[1] == b"200", status
    return took


@pytest.mark.parametrize("spec", [PAGES, RENDERS * 2], ids=["new-hosts", "every-render"])
def test_a_render_flood_never_holds_up_cached_answers(
    huge_store: str, tmp_path: Path, spec: list[dict[str, str]]
) -> None:
    with running_serve(huge_store, tmp_path) as (base, _proc):
        port = int(base.rsplit(":", 1)[1])
        gs_data = f"/authors/{HUGE}/gs_data.json"
        quiet = timed_gets(port, gs_data, 1.0)  # cached, and the baseline without a flood
        flood = subprocess.Popen(
            [sys.executable, str(SUPPORT / "service_flood.py"), str(port), str(FLOOD_SECONDS),
             json.dumps(spec)], stdout=subprocess.PIPE, text=True)
        try:
            assert flood.stdout is not None and flood.stdout.readline().strip() == "started"
            took = timed_gets(port, gs_data, FLOOD_SECONDS - 0.5)
            out, _ = flood.communicate(timeout=60)
        finally:
            if flood.poll() is None:
                flood.kill()
                flood.wait()
    result = json.loads(out)
    served = sum(sum(client["statuses"].values()) for client in result)
    print(f"\ncached gs_data.json ({PAPERS} papers): quiet, median "
          f"{statistics.median(quiet) * 1000:.1f} ms; under the flood, median "
          f"{statistics.median(took) * 1000:.1f} ms, worst {max(took) * 1000:.0f} ms "
          f"({len(took)} answers; the flood got {served})")
    for client in result:  # the flood was served: every client got its answers
        statuses = client["statuses"]
        assert set(statuses) == {"200"}, result  # an unknown paper too: shields reads 200s only
    assert served >= 100, result
    assert max(took) < BOUND, f"a cached answer took {max(took):.2f} s under the flood"
