"""uvicorn's HTTP protocol (httptools), with the fast path's remembered paths answered in it.

Under uvicorn every request, however little the app does, costs a scope, a task and two awaited
``send`` calls: a bare ASGI app that only sends prepared bytes answers about a third of what
nginx does on the same machine. The badges and endpoint files homepages ask for are mostly
paths the fast path has answered before (``FastPath.known``), so this protocol asks the fast
path for the answer as soon as a request's headers are parsed and writes it at once, the same
bytes uvicorn would have written. Anything else (a path not remembered, a query,
``If-None-Match``, a request that closes the connection or is pipelined behind one still being
answered, a slow reader) goes through uvicorn's ASGI cycle as before.

It relies on uvicorn's protocol internals (``on_headers_complete``, ``cycle``, ``flow``,
``url``, ``headers``, ``on_response_complete``), so ``pyproject.toml`` pins uvicorn's minor
version; ``tests/service/test_protocol.py`` fails if they move.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from scholar_stats.service.fastpath import FastPath


class _Answered:
    """Stands in for the ASGI cycle of a request answered here: uvicorn's protocol looks at the
    last cycle to know whether a request is still being answered."""

    response_complete = True
    keep_alive = True
    disconnected = False

    message_event = asyncio.Event()  # set by uvicorn when the connection is lost; never awaited


ANSWERED: Any = _Answered()
_OK = STATUS_LINE[200]


class FastPathProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol for an app that is a :class:`FastPath`'s bound call
    (``app.served``); for any other app, uvicorn's protocol unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = getattr(self.app, "__self__", None)
        plain = not self.access_log and not self.root_path and self.limit_concurrency is None
        self.fast = owner if isinstance(owner, FastPath) and plain else None
        self._date: tuple[object, bytes] = (None, b"")

    def on_headers_complete(self) -> None:
        fast, parser = self.fast, self.parser
        if (fast is not None and (self.cycle is None or self.cycle.response_complete)
                and not self.flow.write_paused and parser.should_keep_alive()
                and parser.get_http_version() == "1.1" and not parser.should_upgrade()):
            found = fast.wire(self.url, parser.get_method(), self.headers)
            if found is not None:
                self.transport.write(b"".join((_OK, self._date_lines(), *found)))
                self.cycle = ANSWERED
                self.on_response_complete()  # keep-alive timer, reading resumed, request counted
                return
        super().on_headers_complete()

    def _date_lines(self) -> bytes:
        """uvicorn's own headers (the date), as its ``send`` writes them; uvicorn makes a new
        list of them once a second."""
        default = self.server_state.default_headers
        if self._date[0] is not default:
            self._date = (default, b"".join(b"%s: %s\r\n" % header for header in default))
        return self._date[1]
