"""Headless Chromium for tests: the DOM after scripts ran, screenshots in light or dark mode,
static sites (with CORS, as jsDelivr and raw.githubusercontent answer), and a PNG reader (stdlib
zlib) to check that a screenshot shows something."""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM = (shutil.which("chromium") or shutil.which("chromium-browser")
            or shutil.which("google-chrome"))
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
          "--disable-dev-shm-usage", "--hide-scrollbars"]


@dataclass(frozen=True)
class Misbehave:
    """What a static site does for one path instead of serving it: wait ``wait`` seconds, then
    answer ``status`` (an empty body), or close the connection unanswered (``drop``), or serve
    the file late (neither)."""

    wait: float = 0.0
    status: int | None = None
    drop: bool = False


class _CorsHandler(SimpleHTTPRequestHandler):
    misbehave: Mapping[str, Misbehave] = {}

    def do_GET(self) -> None:
        rule = self.misbehave.get(self.path.split("?")[0])
        if rule is None:
            return super().do_GET()
        time.sleep(rule.wait)
        if rule.drop:
            self.close_connection = True
            return None
        if rule.status is None:
            return super().do_GET()
        self.send_response(rule.status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def static_site(root: Path, misbehave: Mapping[str, Misbehave] | None = None) -> Iterator[str]:
    """A static file server on its own loopback port (CORS open); yields its base URL. The
    paths of ``misbehave`` (``/folder/status.json``) get what it says instead."""
    handler = type("Handler", (_CorsHandler,), {"misbehave": dict(misbehave or {})})
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _run(args: list[str], profile: Path) -> str:
    assert CHROMIUM is not None
    out = subprocess.run([CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *args],
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


def rendered_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (virtual time: timers and fetches complete)."""
    return _run(["--virtual-time-budget=10000", "--dump-dom", url], profile)


def screenshot(url: str, path: Path, profile: Path, *, dark: bool = False,
               size: tuple[int, int] = (1100, 1400)) -> Path:
    """A PNG of the page at ``size``; ``dark`` makes ``prefers-color-scheme`` dark."""
    extra = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] if dark else []
    _run([*extra, "--virtual-time-budget=5000", f"--window-size={size[0]},{size[1]}",
          f"--screenshot={path}", url], profile)
    return path


@dataclass(frozen=True)
class PngStats:
    width: int
    height: int
    mean: float  # luminance, 0-255
    variance: float
    colors: int  # distinct colours (of a sample)


def png_stats(path: Path) -> PngStats:
    """Luminance mean and variance and distinct colours of an 8-bit RGB/RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color_type, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color_type in (2, 6) and interlace == 0, (depth, color_type, interlace)
    channels = 3 if color_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    total = squares = 0.0
    colors: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        for x in range(0, stride, channels * 4):  # every 4th pixel is plenty
            r, g, b = line[x], line[x + 1], line[x + 2]
            lum = 0.299 * r + 0.587 * g + 0.114 * b
            total += lum
            squares += lum * lum
            colors.add(bytes(line[x:x + 3]))
        previous = line
    count = height * len(range(0, stride, channels * 4))
    mean = total / count
    return PngStats(width, height, mean, squares / count - mean * mean, len(colors))


class Elements(HTMLParser):
    """Elements with an ``id`` in a dumped DOM: id → (attributes, text)."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.found: dict[str, tuple[dict[str, str], str]] = {}
        self._open: list[str | None] = []
        self.root_class = ""
        self.title = ""
        self._in_title = False
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.root_class = values.get("class", "")
        self._in_title = tag == "title"
        if tag in ("meta", "link", "img", "br", "input"):
            return
        ident = values.get("id")
        if ident:
            self.found[ident] = (values, "")
        self._open.append(ident)

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False
        if tag not in ("meta", "link", "img", "br", "input") and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._open and self._open[-1]:
            ident = self._open[-1]
            attrs, text = self.found[ident]
            self.found[ident] = (attrs, text + data)

    def text(self, ident: str) -> str:
        return self.found[ident][1]

    def classes(self, ident: str) -> set[str]:
        return set(self.found[ident][0].get("class", "").split())
