"""The service's pages: ``/`` (the tracked authors) and ``/authors/{id}/`` (card, chart, history,
papers, badge snippets), and ``/scholar-stats.js``. Server-rendered with Jinja2 (autoescape on,
no script needed to read them), answered like the data: prepared :class:`Reply` objects with the
same caching headers, ETag and gzip, kept in the snapshot's LRU per version and base URL.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from scholar_stats.core.model import METRIC_NAMES, SCHOLAR_ID_RE
from scholar_stats.outputs import kit
from scholar_stats.outputs.badges import STYLES, clean_text
from scholar_stats.outputs.history import HISTORY_FILE, parse_history_csv
from scholar_stats.service.fastpath import reply_messages
from scholar_stats.service.snapshot import (
    NOT_TRACKED,
    AuthorEntry,
    Reply,
    Snapshot,
    cache_header,
    error_reply,
)

Handler = Callable[..., Awaitable[Response]]
HTML = b"text/html; charset=utf-8"
JS = b"text/javascript; charset=utf-8"
MOST_CITED = 20
HISTORY_ROWS = 366  # a year of days; the rest is in history.csv


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scholar_stats.service", "templates"),
        autoescape=True,  # every page is HTML: escape everything, always
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clean"] = lambda text: clean_text(str(text), 2000)  # no controls, no overrides
    return env


def shields_url(endpoint: str, style: str) -> str:
    """The shields.io endpoint badge for an endpoint file's URL."""
    return (f"https://img.shields.io/endpoint?url={quote(endpoint, safe='')}"
            f"&logo=Google%20Scholar&style={style}")


def badge_snippets(base: str, scholar_id: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per metric, per style: the service's SVG and the shields.io form, in Markdown and HTML."""
    author = f"{base}authors/{scholar_id}/"
    out = []
    for metric in METRIC_NAMES:
        label = labels.get(metric, metric)
        rows = []
        for style in STYLES:
            svg = f"{author}badges/{metric}.svg" + ("" if style == "flat" else f"?style={style}")
            shields = shields_url(f"{author}shields/{metric}.json", style)
            rows.append({"style": style, "svg": svg, "shields": shields})
        out.append({"metric": metric, "label": label, "styles": rows})
    return out


def render_index(entries: list[AuthorEntry], base: str) -> bytes:
    authors = sorted(entries, key=lambda e: ((e.name or e.scholar_id).casefold(), e.scholar_id))
    return environment().get_template("index.html").render(
        authors=authors, base=base, metrics=("citations", "h-index", "i10-index", "publications"),
    ).encode("utf-8")


def render_author(entry: AuthorEntry, base: str) -> bytes:
    gs: dict[str, Any] = {}
    if entry.values is not None:
        gs = json.loads(entry.files["gs_data.json"].body)
    status = entry.files.get("status.json")
    history = entry.files.get(HISTORY_FILE)
    all_rows = parse_history_csv(history.body) if history else []
    papers = []
    for key, pub in sorted((gs.get("publications") or {}).items(),
                           key=lambda item: -int(item[1].get("num_citations") or 0))[:MOST_CITED]:
        short = str(key).removeprefix(entry.scholar_id + ":")
        papers.append({
            "title": str((pub.get("bib") or {}).get("title") or "untitled"),
            "year": str((pub.get("bib") or {}).get("pub_year") or ""),
            "citations": int(pub.get("num_citations") or 0),
            "endpoint": f"{base}authors/{entry.scholar_id}/papers/{short}.json",
        })
    return environment().get_template("author.html").render(
        entry=entry, gs=gs, base=base, status=json.loads(status.body) if status else None,
        history=all_rows[::-1][:HISTORY_ROWS], history_total=len(all_rows),
        metrics=METRIC_NAMES, papers=papers,
        snippets=badge_snippets(base, entry.scholar_id, entry.labels),
        shields_url=shields_url,
    ).encode("utf-8")


def _index_key(authors: Mapping[str, AuthorEntry]) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for scholar_id in sorted(authors):
        digest.update(f"{scholar_id}:{authors[scholar_id].version};".encode())
    return digest.hexdigest()


def _answer(request: Request, reply: Reply) -> Response:
    start, body = reply_messages(reply, request.method, request.headers.raw)
    headers = {k.decode(): v.decode() for k, v in start["headers"] if k != b"content-length"}
    return Response(body, status_code=start["status"], headers=headers)


def page_route(
    app: FastAPI, path: str, responses: dict[int | str, dict[str, Any]]
) -> Callable[[Handler], Handler]:
    """GET in the OpenAPI schema, and HEAD beside it (kept out of the schema: one operation)."""

    def register(handler: Handler) -> Handler:
        app.add_api_route(path, handler, methods=["GET"], response_class=Response,
                          responses=responses)
        app.add_api_route(path, handler, methods=["HEAD"], response_class=Response,
                          include_in_schema=False)
        return handler

    return register


def add_page_routes(app: FastAPI, snapshot: Snapshot) -> None:
    """``/``, ``/authors/{id}/`` (``/authors/{id}`` redirects there) and ``/scholar-stats.js``."""
    script = Reply.make(kit.page_script(), JS, cache=cache_header(snapshot.max_age))
    last_index: list[Any] = [None, ""]  # (the authors mapping, its key): one digest per swap

    @page_route(app, "/", {200: {"content": {"text/html": {}}}})
    async def index(request: Request) -> Response:
        """The tracked authors with their main numbers (HTML)."""
        authors = snapshot.authors
        if last_index[0] is not authors:
            last_index[:] = [authors, _index_key(authors)]
        base = str(request.base_url)
        reply = snapshot.cache.get_or_make(
            ("index", last_index[1], base),
            lambda: Reply.make(render_index(list(authors.values()), base), HTML,
                               cache=cache_header(snapshot.max_age)),
        )
        return _answer(request, reply)

    @page_route(app, "/scholar-stats.js", {200: {"content": {"text/javascript": {}}}})
    async def page_script(request: Request) -> Response:
        """The homepage's include: fills AcadHomepage's elements from a base URL."""
        return _answer(request, script)

    @page_route(app, "/authors/{scholar_id}/",
                {200: {"content": {"text/html": {}}}, 400: {}, 404: {}})
    async def author_page(request: Request, scholar_id: str) -> Response:
        """One author: card, chart, history, most-cited papers, badge snippets (HTML)."""
        entry = snapshot.authors.get(scholar_id)
        if entry is None:
            valid = SCHOLAR_ID_RE.fullmatch(scholar_id)
            return _answer(request, error_reply(404 if valid else 400,
                                                NOT_TRACKED if valid else "invalid scholar id"))
        base = str(request.base_url)
        tracked = entry
        reply = snapshot.cache.get_or_make(
            ("page", scholar_id, entry.version, base),
            lambda: Reply.make(render_author(tracked, base), HTML,
                               cache=cache_header(snapshot.max_age)),
        )
        return _answer(request, reply)

    @app.get("/authors/{scholar_id}", include_in_schema=False)
    async def author_page_slash(scholar_id: str) -> Response:
        if not SCHOLAR_ID_RE.fullmatch(scholar_id):
            return _answer_error(400, "invalid scholar id")
        return RedirectResponse(f"/authors/{scholar_id}/", status_code=308)


def _answer_error(status: int, message: str) -> Response:
    reply = error_reply(status, message)
    return Response(reply.body, status_code=status, media_type="application/json")
