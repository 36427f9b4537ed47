"""The admin routes (add authors, refresh) behind a bearer token compared in constant time, with
bodies capped at ``ADMIN_BODY_LIMIT``."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from scholar_stats.core.model import parse_scholar_id, validate_scholar_id
from scholar_stats.core.plan import MAX_INTERVAL
from scholar_stats.errors import (
    AuthorBusy,
    UsageError,
)
from scholar_stats.service.fastpath import (
    Message,
    Receive,
    Scope,
    Send,
)

if TYPE_CHECKING:
    from scholar_stats.service.mirror import Service

log = logging.getLogger(__name__)


# The largest admin request body read. The largest legitimate one, ``POST /authors`` with its
# limit of 1000 ids, is about 16 KiB (20 KiB pretty-printed).
ADMIN_BODY_LIMIT = 64 * 1024


class AdminGuard:
    """Pure ASGI, in front of FastAPI: checks the admin token from the headers alone, and caps
    the body of admin requests (any method but GET and HEAD under ``/authors``).

    FastAPI reads and parses a request body before it solves dependencies, so its bearer check
    alone let a stranger make the service read and parse 120 MB before being told 401. Here a
    request without the token is answered 401 before a byte of its body is read, one declaring
    more than ``limit`` bytes 413, and a body without a declared length (chunked) is counted as
    it arrives and refused with 413 past ``limit``. A refused request whose body may be large
    closes the connection, so its body is never read at all. FastAPI's own check stays (it
    documents the scheme in the OpenAPI schema).
    """

    def __init__(self, app: Callable[..., Any], token: str, limit: int = ADMIN_BODY_LIMIT) -> None:
        self.app = app
        self.token = token.encode()
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_admin(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        token = length = None
        chunked = False
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                token = credentials if scheme.lower() == b"bearer" else None
            elif key == b"content-length":
                length = int(value) if value.isdigit() else None
            elif key == b"transfer-encoding":
                chunked = True
        # keep the connection only when what is left of the body is small enough to skip
        close = chunked or (length is not None and length > self.limit)
        if token is None or not hmac.compare_digest(token, self.token):
            await _refuse(send, 401, "a valid admin token is required", close,
                          [(b"www-authenticate", b"Bearer")])
            return
        if close and not chunked:
            await _refuse(send, 413, f"the request body is larger than {self.limit} bytes", True)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await _refuse(send, 413, f"the request body is larger than {self.limit} bytes",
                              True)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the disconnect, when it comes
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


def _is_admin(method: str, path: str) -> bool:
    return method not in ("GET", "HEAD") and (path == "/authors" or path.startswith("/authors/"))


async def _refuse(
    send: Send, status: int, detail: str, close: bool, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:

    """A JSON error in FastAPI's shape, sent by :class:`AdminGuard`."""
    body = json.dumps({"detail": detail}).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
           *headers]
    if close:
        out.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


class AddAuthors(BaseModel):
    """Body of ``POST /authors``."""

    # each an id or a profile URL, as the command line takes them
    ids: list[str] = Field(min_length=1, max_length=1000, examples=[[
        "DhtAFkwAAAAJ", "https://scholar.google.com/citations?user=LZ5D_p4AAAAJ&hl=en"]])
    interval_seconds: float | None = Field(None, gt=0, le=MAX_INTERVAL)


class Refresh(BaseModel):
    """Body of ``POST /authors/{id}/refresh`` (optional)."""

    force: bool = False  # skip the plausibility gate


def add_admin_routes(app: FastAPI, service: Service, token: str) -> None:
    """POST /authors, DELETE /authors/{id}, POST /authors/{id}/refresh behind a bearer token."""
    bearer = HTTPBearer(auto_error=False)
    expected = token.encode()

    def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not (credentials and hmac.compare_digest(given, expected)):
            raise HTTPException(401, "a valid admin token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    sid = Path(description="Google Scholar user id (12 characters)")

    def check_id(scholar_id: str) -> str:
        try:
            return validate_scholar_id(scholar_id)
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.post("/authors", dependencies=[Depends(require_token)], status_code=200)
    def add_authors(body: AddAuthors) -> dict[str, list[str]]:
        """Track authors (fetched by the scheduler, never by a public request)."""
        try:  # an id or a profile URL; 422 like any other body the route cannot take
            ids = list(dict.fromkeys(parse_scholar_id(i) for i in body.ids))
        except UsageError as exc:
            raise HTTPException(422, str(exc)) from None
        interval = body.interval_seconds or service.settings.interval_seconds
        added = service.store.add_authors(ids, interval, datetime.now(timezone.utc))
        for scholar_id in ids:
            service.rebuild(scholar_id)
        return {"added": added, "tracked": ids}

    @app.delete("/authors/{scholar_id}", dependencies=[Depends(require_token)])
    def remove_author(scholar_id: str = sid) -> dict[str, str]:
        """Stop tracking an author and delete its stored data."""
        check_id(scholar_id)
        if not service.store.remove_author(scholar_id):
            raise HTTPException(404, "not tracked")
        service.snapshot.update({}, (scholar_id,))
        service.load_groups()  # the store took it out of its groups too
        return {"removed": scholar_id}

    @app.post("/authors/{scholar_id}/refresh", dependencies=[Depends(require_token)],
              status_code=202)
    def refresh_author(scholar_id: str = sid, body: Refresh | None = None) -> dict[str, str]:
        """Fetch the author from Scholar now, in the background (202); see status.json.
        409 when it is being fetched (or already queued) now."""
        check_id(scholar_id)
        if service.store.get_author(scholar_id) is None:
            raise HTTPException(404, "not tracked")
        try:
            service.queue_refresh(scholar_id, force=bool(body and body.force))
        except AuthorBusy as busy:
            raise HTTPException(409, str(busy)) from None
        return {"queued": scholar_id}
