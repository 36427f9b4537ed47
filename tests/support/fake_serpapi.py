"""A fake SerpApi: a real HTTP server on 127.0.0.1 serving real saved ``google_scholar_author``
responses, paged as SerpApi pages them, and the error bodies SerpApi sends.

* Real responses (``tests/fixtures/scholar/serpapi_google_scholar_author_<id>*.json``) are served
  for their own ids: their saved articles, ``num`` at a time from ``start``, with
  ``serpapi_pagination.next`` (a link to serpapi.com, as SerpApi writes it) while more remain.
  The first page (``start=0``) carries ``author``, ``cited_by``, ``co_authors``; later pages only
  the articles, like Scholar's own pages after the first.
* ``add_profile(id, pubs, citations)`` builds a profile of any size around a real response, its
  real articles repeated with ids renamed to ``id``.
* Only ``key`` is accepted (else 401 with SerpApi's invalid-key body); unknown ids get the
  200 "no results" body.
* ``mode`` (or a ``queue`` of modes, one per request, used first): invalid_key (401),
  out_of_searches (429), rate_limit (429, no body text), no_results (200), malformed (the page cut
  at 60 %), not_json, 500, stall (answers after ``stall_seconds``), huge (``huge_bytes`` of
  JSON whitespace with no Content-Length), trickle (the page one byte every ``trickle_seconds``),
  redirect (302 to ``redirect_to``), error (400 with ``{"error": error_text}``).
* ``doctor(query, page)`` rewrites every page before it is sent (a lying SerpApi: one echoing the
  key into a name, a title, a link): it returns the page to send as JSON, or the raw ``bytes`` of
  the body; ``headers`` are added to every answer.
* ``requests`` records each request's path and query (the key included: the fake is the one
  place it may be seen).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from support import paths

FIXTURES = paths.FIXTURES / "scholar"
TEMPLATE_ID = "LSsXyncAAAAJ"
KEY = "test-serpapi-key-5f0c2e9a7b14d3c8"
# (the query, the page) -> the page to send as JSON, or the raw bytes of the body
Doctor = Callable[[dict[str, str], dict[str, Any]], "dict[str, Any] | bytes"]


def error_body(name: str) -> bytes:
    """One of the saved error bodies: invalid_key, out_of_searches, no_results."""
    files = {"invalid_key": "serpapi_error_401_invalid_key.json",
             "out_of_searches": "serpapi_error_429_out_of_searches.json",
             "no_results": "serpapi_error_200_no_results.json"}
    return (FIXTURES / files[name]).read_bytes()


def real_responses() -> dict[str, dict[str, Any]]:
    """Scholar id → the saved response of that author."""
    found = {}
    for path in sorted(FIXTURES.glob("serpapi_google_scholar_author_*.json")):
        data = json.loads(path.read_text("utf-8"))
        if data.get("search_parameters", {}).get("author_id") and "articles" in data:
            found[data["search_parameters"]["author_id"]] = data
    return found


def synthetic(template: dict[str, Any], scholar_id: str, pubs: int,
              citations: int) -> dict[str, Any]:
    """``template`` renamed to ``scholar_id``, with ``pubs`` articles (real ones, repeated)."""
    data = copy.deepcopy(template)
    old = data["search_parameters"]["author_id"]
    data["search_parameters"]["author_id"] = scholar_id
    data["author"]["name"] = f"Synthetic Author {scholar_id}"
    table = data["cited_by"]["table"]
    since = next(k for k in table[0]["citations"] if k.startswith("since_"))
    table[0]["citations"] = {"all": citations, since: citations * 6 // 10}
    articles = []
    for i in range(pubs):
        article = copy.deepcopy(template["articles"][i % len(template["articles"])])
        suffix = article["citation_id"].split(":", 1)[1]
        article["citation_id"] = f"{scholar_id}:{i:04d}{suffix[4:]}"
        article["link"] = article["link"].replace(old, scholar_id)
        articles.append(article)
    data["articles"] = articles
    return data


class FakeSerpApi:
    def __init__(self) -> None:
        self.key = KEY
        self.mode = "ok"
        self.queue: list[str] = []
        self.requests: list[str] = []
        self.stall_seconds = 30.0
        self.huge_bytes = 20 * 2**20
        self.trickle_seconds = 0.5
        self.redirect_to = "/"
        self.error_text = "Invalid request."
        self.doctor: Doctor | None = None
        self.headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._profiles = real_responses()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_profile(self, scholar_id: str, pubs: int, citations: int = 1000) -> None:
        self._profiles[scholar_id] = synthetic(self._profiles[TEMPLATE_ID], scholar_id, pubs,
                                               citations)

    def searches(self) -> list[dict[str, str]]:
        """The query of every search received, one value per parameter."""
        return [{k: v[0] for k, v in parse_qs(urlsplit(r).query).items()}
                for r in self.requests]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_mode(self) -> str:
        with self._lock:
            return self.queue.pop(0) if self.queue else self.mode

    def page(self, query: dict[str, str]) -> dict[str, Any] | None:
        """The SerpApi page for ``query``, or ``None`` for an unknown id."""
        profile = self._profiles.get(query.get("author_id", ""))
        if profile is None:
            return None
        start, num = int(query.get("start", "0")), min(int(query.get("num", "20")), 100)
        page: dict[str, Any] = {key: profile[key]
                                for key in ("search_metadata", "search_parameters")}
        if start == 0:
            page.update({k: v for k, v in profile.items() if k not in ("articles",
                                                                        "serpapi_pagination")})
        page["articles"] = profile["articles"][start:start + num]
        if start + num < len(profile["articles"]):
            following = {"author_id": query["author_id"], "engine": "google_scholar_author",
                         "hl": "en", "num": str(num), "start": str(start + num)}
            page["serpapi_pagination"] = {
                "next": "https://serpapi.com/search.json?" + urlencode(following)}
        return page

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def handle(self) -> None:
                with suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()  # the client may hang up without reading the answer

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                mode = fake._next_mode()
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path != "/search.json":
                    return self._send(404, b'{"error": "Not found."}')
                if mode == "stall":
                    time.sleep(fake.stall_seconds)
                if mode == "500":
                    return self._send(500, b'{"error": "Internal error."}')
                if mode == "redirect":
                    return self._send(302, b"{}", {"Location": fake.redirect_to})
                if mode == "error":
                    return self._send(400, json.dumps({"error": fake.error_text}).encode())
                if mode == "invalid_key" or query.get("api_key") != fake.key:
                    return self._send(401, error_body("invalid_key"))
                if mode == "out_of_searches":
                    return self._send(429, error_body("out_of_searches"))
                if mode == "rate_limit":
                    return self._send(429, b"{}")
                page = fake.page(query)
                if mode == "no_results" or page is None:
                    return self._send(200, error_body("no_results"))
                doctored = page if fake.doctor is None else fake.doctor(query, copy.deepcopy(page))
                body = doctored if isinstance(doctored, bytes) else json.dumps(
                    doctored, indent=2).encode()
                if mode == "huge":
                    return self._stream(b" " * 2**16, fake.huge_bytes // 2**16)
                if mode == "trickle":
                    return self._stream(body[:1], len(body), pause=fake.trickle_seconds)
                if mode == "malformed":
                    body = body[: len(body) * 6 // 10]
                if mode == "not_json":
                    body = b"<html><body>Service temporarily unavailable</body></html>"
                self._send(200, body)

            def _stream(self, chunk: bytes, times: int, pause: float = 0.0) -> None:
                """200 with ``chunk`` sent ``times`` times, no Content-Length, then close."""
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                with suppress(BrokenPipeError, ConnectionResetError):
                    for _ in range(times):
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        time.sleep(pause)

            def _send(self, status: int, body: bytes,
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in {**fake.headers, **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        return Handler


@contextmanager
def running_fake_serpapi() -> Iterator[FakeSerpApi]:
    fake = FakeSerpApi()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
