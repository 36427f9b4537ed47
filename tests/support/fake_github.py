"""A fake GitHub REST API on 127.0.0.1: records every request (method, path, headers, JSON body)
and answers a workflow dispatch as GitHub does (204 No Content), or with ``status`` and GitHub's
error body (``{"message": ..., "documentation_url": ...}``) when a test sets one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeGitHub:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 204
        self.message = "Resource not accessible by integration"
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                with fake._lock:
                    fake.requests.append(Request("POST", self.path, dict(self.headers), body))
                    status, message = fake.status, fake.message
                if status == 204:
                    self.send_response(204)
                    self.end_headers()
                    return
                payload = json.dumps({"message": message, "documentation_url":
                                      "https://docs.github.com/rest"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@contextmanager
def running_fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
