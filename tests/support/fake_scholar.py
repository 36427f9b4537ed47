"""A fake Google Scholar: a real HTTP server on 127.0.0.1 serving real saved pages.

* Real profile pages (``tests/fixtures/scholar/profile_*.html``) are served for their own ids, as
  saved. Pages after the first (``cstart>0``) do not exist in the fixtures: the fake serves the
  first page with its rows removed and "Show more" disabled, i.e. "no more publications".
* ``add_profile(id, pubs, citations, name)`` builds a synthetic profile of any size: the markup of a
  real 2026 page around real publication rows (the 1114-row fragment), paginated like Scholar.
* Unknown ids get what Scholar does: a redirect to Google's sign-in page.
* ``mode`` (or a ``queue`` of modes, one per request, used first) makes it misbehave: 403, 429
  (with ``retry_after``), captcha (the real page), signin (the real page, HTTP 200),
  signin_redirect, sorry (redirect to /sorry/), 500, 404, stall (answers after
  ``stall_seconds``), truncated (the page cut at 60 %), relayout (the metrics table renamed),
  relayout_rows (row markup renamed).
* ``doctor(scholar_id, html)`` rewrites every profile page before it is sent (a lying server):
  it returns the page as text (encoded in the page's charset) or as raw ``bytes``;
  a profile request for an id in ``hold`` waits until that ``threading.Event`` is set.
* Hostile modes (issue 9): trickle_headers / trickle_body (the answer one byte every
  ``trickle_seconds``), gzip (the page gzipped, as a real server does), gzip_bomb (``bomb``: gzip
  bytes sent as the page), huge (``huge_bytes`` of HTML streamed with no Content-Length),
  redirect (a 302 to ``redirect_to``, relative or on another host).
"""

from __future__ import annotations

import contextlib
import gzip
import html
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from support import paths

FIXTURES = paths.FIXTURES / "scholar"
REAL_ID = "LZ5D_p4AAAAJ"  # a real saved page: 56 citations, 12 publications, complete
TEMPLATE_ID = REAL_ID  # synthetic profiles are built around its markup
FRAGMENT_ID = "qc6CJjYAAAAJ"
_TBODY = re.compile(r'(<tbody id="gsc_a_b">)(.*?)(</tbody>)', re.S)
_METRIC_CELLS = re.compile(r'<td class="gsc_rsb_std">\d+</td>')


def fixture_path(name: str) -> Path:
    return FIXTURES / name


def real_rows() -> list[str]:
    text = fixture_path("rows_fragment_qc6CJjYAAAAJ_1114rows_2021.html").read_text("utf-8")
    return ['<tr class="gsc_a_tr">' + part for part in text.split('<tr class="gsc_a_tr">')[1:]]


def _set_button(html: str, disabled: bool) -> str:
    html = html.replace('id="gsc_bpf_more" disabled', 'id="gsc_bpf_more"')
    return html.replace('id="gsc_bpf_more"', 'id="gsc_bpf_more" disabled') if disabled else html


def last_page_of(html: str) -> str:
    """The page with no rows and "Show more" disabled."""
    return _set_button(_TBODY.sub(r"\1\3", html, count=1), disabled=True)


class SyntheticProfile:
    """A profile of ``pubs`` real rows under a real page's markup, renamed to ``scholar_id``."""

    def __init__(self, template: str, rows: list[str], scholar_id: str, pubs: int,
                 citations: int, name: str | None = None) -> None:
        self.scholar_id = scholar_id
        shown = html.escape(name if name is not None else f"Synthetic Author {scholar_id}")
        self.template = template.replace(TEMPLATE_ID, scholar_id).replace(
            'id="gsc_prf_in">Doaa Elmatary', f'id="gsc_prf_in">{shown}'
        )
        cells = [citations, citations * 6 // 10, 40, 30, 90, 60]
        values = iter(cells)
        self.template = _METRIC_CELLS.sub(
            lambda _m: f'<td class="gsc_rsb_std">{next(values)}</td>', self.template
        )
        self.rows = []
        for i in range(pubs):
            row = rows[i % len(rows)].replace(FRAGMENT_ID, scholar_id)
            if i >= len(rows):  # keep pub ids unique past the fragment's 1114 rows
                row = row.replace(f"{scholar_id}:", f"{scholar_id}:{i // len(rows)}x", 1)
            self.rows.append(row)

    def page(self, cstart: int, pagesize: int) -> str:
        chunk = self.rows[cstart : cstart + pagesize]
        html = _TBODY.sub(lambda m: m.group(1) + "".join(chunk) + m.group(3), self.template, 1)
        return _set_button(html, disabled=cstart + pagesize >= len(self.rows))


class FakeScholar:
    def __init__(self) -> None:
        self.mode = "ok"
        self.queue: list[str] = []
        self.requests: list[str] = []
        self.headers: list[Message] = []  # each request's headers (case-insensitive lookup)
        self.retry_after = "1"
        self.stall_seconds = 30.0
        self.doctor: Callable[[str, str], str | bytes] | None = None
        self.hold: dict[str, threading.Event] = {}
        self.trickle_seconds = 0.5
        self.bomb = b""
        self.huge_bytes = 50 * 2**20
        self.redirect_to = "/"
        self.extra_headers: dict[str, str] = {}  # added to every answer (a header echoing back)
        self.latency = 0.0  # seconds each profile page takes to answer (a slow Scholar)
        self.in_flight = 0  # requests being answered now, and the most ever at once
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._real: dict[str, tuple[bytes, str]] = {}
        for path in FIXTURES.glob("profile_*.html"):
            scholar_id = path.name[len("profile_") :][:12]
            raw = path.read_bytes()
            charset = "ISO-8859-1" if b"charset=ISO-8859-1" in raw[:3000] else "UTF-8"
            self._real[scholar_id] = (raw, charset)
        self._template = fixture_path(f"profile_{TEMPLATE_ID}_p0.html").read_text("utf-8")
        self._rows = real_rows()
        self._synthetic: dict[str, SyntheticProfile] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_profile(self, scholar_id: str, pubs: int, citations: int = 1000,
                    name: str | None = None) -> None:
        """A synthetic profile; ``name`` doctors the author's name (any text, HTML-escaped)."""
        self._synthetic[scholar_id] = SyntheticProfile(
            self._template, self._rows, scholar_id, pubs, citations, name
        )

    def profile_requests(self) -> list[str]:
        return [r for r in self.requests if r.startswith("/citations")]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    # -- serving -----------------------------------------------------------------------------

    def _next_mode(self) -> str:
        with self._lock:
            return self.queue.pop(0) if self.queue else self.mode

    def _profile_page(self, query: dict[str, list[str]]) -> tuple[bytes, str] | None:
        scholar_id = query.get("user", [""])[0]
        cstart = int(query.get("cstart", ["0"])[0])
        pagesize = int(query.get("pagesize", ["20"])[0])
        if scholar_id in self._synthetic:
            html = self._synthetic[scholar_id].page(cstart, pagesize)
            return html.encode("utf-8"), "UTF-8"
        if scholar_id in self._real:
            raw, charset = self._real[scholar_id]
            if cstart == 0:
                return raw, charset
            return last_page_of(raw.decode(charset)).encode(charset), charset
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def handle(self) -> None:
                # the client hung up without reading the answer: clients may do so
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

            def do_GET(self) -> None:
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._answer()
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _answer(self) -> None:
                fake.requests.append(self.path)
                fake.headers.append(self.headers)
                mode = fake._next_mode()
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                if mode == "stall":
                    deadline = time.monotonic() + fake.stall_seconds
                    while time.monotonic() < deadline and not fake._stop.is_set():
                        time.sleep(0.05)
                    mode = "ok"
                if mode == "403":
                    return self._send(403, b"<html><body>Forbidden</body></html>")
                if mode == "404":
                    return self._send(404, b"<html><body>Not Found</body></html>")
                if mode == "500":
                    return self._send(500, b"<html><body>Server Error</body></html>")
                if mode == "429":
                    return self._send(429, b"Too Many Requests", {"Retry-After": fake.retry_after})
                if mode == "captcha":
                    page = fixture_path("captcha_citations_K7_cclwAAAAJ_2025-09.html").read_bytes()
                    return self._send(200, page)
                if mode == "signin":
                    name = "redirect_accounts_signin_invalid_user_AAAAAAAAAAAA.html"
                    return self._send(200, fixture_path(name).read_bytes())
                if mode == "sorry":
                    return self._redirect(f"/sorry/index?continue={self.path}")
                if mode == "signin_redirect":
                    return self._redirect(_SIGN_IN)
                if mode == "redirect":
                    return self._redirect(fake.redirect_to)
                if mode == "gzip_bomb":
                    return self._send(200, fake.bomb, {"Content-Encoding": "gzip"})
                if mode == "huge":
                    return self._send_huge()
                if parts.path != "/citations":
                    return self._send(404, b"not found")
                if fake.latency:
                    time.sleep(fake.latency)
                held = fake.hold.get(query.get("user", [""])[0])
                while held is not None and not held.wait(0.05) and not fake._stop.is_set():
                    pass
                page = fake._profile_page(query)
                if page is None:
                    return self._redirect(_SIGN_IN)
                body, charset = page
                if fake.doctor is not None:
                    user = query.get("user", [""])[0]
                    doctored = fake.doctor(user, body.decode(charset))
                    body = doctored if isinstance(doctored, bytes) else doctored.encode(charset)
                if mode == "truncated":
                    body = body[: len(body) * 6 // 10]
                elif mode == "relayout":
                    body = body.replace(b'id="gsc_rsb_st"', b'id="gsc_rsb_stats"')
                elif mode == "relayout_rows":
                    body = body.replace(b'class="gsc_a_at"', b'class="gsc_a_title"')
                headers = {"Content-Type": f"text/html; charset={charset}"}
                if mode == "gzip":
                    body = gzip.compress(body)
                    headers["Content-Encoding"] = "gzip"
                if mode in ("trickle_headers", "trickle_body"):
                    return self._trickle(body, headers, headers_too=mode == "trickle_headers")
                return self._send(200, body, headers)

            def _head(self, status: int, headers: dict[str, str]) -> bytes:
                lines = [f"HTTP/1.1 {status} OK"] + [f"{k}: {v}" for k, v in headers.items()]
                return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

            def _trickle(self, body: bytes, headers: dict[str, str], headers_too: bool) -> None:
                """The answer one byte every ``trickle_seconds``: from its first byte, or from
                the body's (the status line and headers sent at once)."""
                message = self._head(200, {**headers, "Content-Length": str(len(body))}) + body
                start = 0 if headers_too else len(message) - len(body)
                try:
                    self.wfile.write(message[:start])
                    self.wfile.flush()
                    for i in range(start, len(message)):
                        if fake._stop.wait(fake.trickle_seconds):
                            return
                        self.wfile.write(message[i : i + 1])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _send_huge(self) -> None:
                """``huge_bytes`` of HTML, streamed with no Content-Length (until the close)."""
                head = self._head(200, {"Content-Type": "text/html; charset=UTF-8",
                                        "Connection": "close"})
                filler = b"<p>" + b"x" * (2**20 - 7) + b"</p>\n"
                try:
                    self.wfile.write(head + b"<html><body>")
                    for _ in range(fake.huge_bytes // len(filler)):
                        if fake._stop.is_set():
                            return
                        self.wfile.write(filler)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _redirect(self, location: str) -> None:
                self._send(302, b"", {"Location": location})

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                headers = {"Content-Type": "text/html; charset=UTF-8", **(headers or {}),
                           **fake.extra_headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        return Handler


_SIGN_IN = (
    "https://accounts.google.com/v3/signin/identifier?continue="
    "https%3A%2F%2Fscholar.google.com%2Fcitations%3Fhl%3Den&flowName=GlifWebSignIn"
)


@contextmanager
def running_fake_scholar() -> Iterator[FakeScholar]:
    fake = FakeScholar()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
