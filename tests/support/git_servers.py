"""Real git servers on 127.0.0.1 for the publish tests: smart HTTP through ``git http-backend``.

git's own CGI program does the protocol work; this module is only the HTTP front it needs (the
part a web server plays on GitHub). With ``token`` set it asks for HTTP basic auth as GitHub does,
so the credential helper publish hands to git is exercised over a real connection.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, de-chunked (git sends large pushes with chunked encoding)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return bytes(body)
            body += handler.rfile.read(size)
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _handler(root: Path, token: str | None) -> type[BaseHTTPRequestHandler]:
    expected = ("Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
                if token else None)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._cgi()

        def do_POST(self) -> None:
            self._cgi()

        def _cgi(self) -> None:
            body = _read_body(self)
            if expected and self.headers.get("Authorization") != expected:
                self._answer(401, {"WWW-Authenticate": 'Basic realm="git"'}, b"auth required\n")
                return
            url = urlsplit(self.path)
            env = {
                "PATH": "/usr/local/bin:/usr/bin:/bin", "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command,
                "PATH_INFO": url.path, "QUERY_STRING": url.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
                "REMOTE_USER": "tester",  # http-backend allows receive-pack for a known user
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root),
            }
            proc = subprocess.run(["git", "http-backend"], input=body, env=env,
                                  capture_output=True, timeout=120, check=False)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")  # CGI headers, then body
            status, headers = 200, {}
            for line in head.decode("latin-1").splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                elif key:
                    headers[key.strip()] = value.strip()
            self._answer(status, headers, payload)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def git_http_server(root: Path, token: str | None = None) -> Iterator[str]:
    """Serve the repositories under ``root`` over smart HTTP; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, token))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
