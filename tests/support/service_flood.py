"""A stranger's flood of requests, run as a process of its own (so it does not share the test's
interpreter): each client keeps one HTTP/1.1 connection and sends request after request, each
with a new Host header or a new query, for a given time.

    python tests/support/service_flood.py PORT SECONDS SPEC_JSON

SPEC_JSON is a list with one request template per client: ``{"path": ..., "host": ...}``, where
``{k}`` is the client's number and ``{n}`` the request's. Prints ``started`` once every client
is connected, then, at the end, the statuses each client got (a JSON list of objects).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


async def read_response(reader: asyncio.StreamReader) -> int:
    """One response's status, its body read and dropped."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed without an answer")
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def client(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], k: int,
                 template: dict[str, str], until: float, counts: dict[str, int]) -> None:
    reader, writer = connection
    n = 0
    while time.monotonic() < until:
        n += 1
        path = template["path"].format(k=k, n=n)
        host = template.get("host", "127.0.0.1").format(k=k, n=n)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip\r\n\r\n"
                     .encode())
        status = await read_response(reader)
        counts[str(status)] = counts.get(str(status), 0) + 1
    writer.close()


async def main(port: int, seconds: float, spec: list[dict[str, str]]) -> list[dict[str, Any]]:
    connections = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                         for _ in spec))
    counts: list[dict[str, int]] = [{} for _ in spec]
    print("started", flush=True)
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(connection, k, template, until, counts[k])
                           for k, (connection, template) in enumerate(zip(connections, spec,
                                                                           strict=True))))
    return [{"path": template["path"], "statuses": statuses}
            for template, statuses in zip(spec, counts, strict=True)]


if __name__ == "__main__":
    result = asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])))
    print(json.dumps(result), flush=True)
