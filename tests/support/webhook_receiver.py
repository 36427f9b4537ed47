"""A webhook receiver on 127.0.0.1: records every POST (path, headers, JSON body) and answers
as told by ``queue`` (one mode per request, then ``mode``): ``ok`` (204), a status number such
as ``500``, or ``hang`` (reads the request, then never answers until the test ends)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class Receiver:
    def __init__(self) -> None:
        self.mode = "ok"
        self.queue: list[str] = []
        self.posts: list[Received] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hook/secret-token-path", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def _next_mode(self) -> str:
        with self._lock:
            return self.queue.pop(0) if self.queue else self.mode

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                receiver.posts.append(Received(self.path, dict(self.headers.items()), body))
                mode = receiver._next_mode()
                if mode == "hang":
                    receiver.stop.wait(60)
                    return
                self.send_response(204 if mode == "ok" else int(mode))
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.close()
