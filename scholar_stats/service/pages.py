"""The service's pages: ``/`` (the tracked authors) and ``/authors/{id}/`` (card, chart, history,
papers, badge snippets), and ``/scholar-stats.js``. Server-rendered with Jinja2 (autoescape on,
no script needed to read them), answered like the data: prepared :class:`Reply` objects with the
same caching headers, ETag and gzip.

Whatever grows with a profile's size or the number of authors is done once, in the render
thread, and kept independently of the request: the index (its links are relative), and an
author page's contents (decoded once per version). Only the badge snippets name the host the
page was asked on, so a page per host is a small render of those contents.
"""

from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from scholar_stats.core.model import METRIC_NAMES, SCHOLAR_ID_RE
from scholar_stats.outputs import catalogue
from scholar_stats.outputs.badges import STYLES, picture_text
from scholar_stats.outputs.catalogue import BADGES, SCRIPT, SHIELDS
from scholar_stats.service.fastpath import answer
from scholar_stats.service.replies import Pending, kept
from scholar_stats.service.snapshot import (
    HTML,
    JS,
    NOT_LOADED,
    NOT_TRACKED,
    AuthorEntry,
    NotLoaded,
    Reply,
    Snapshot,
    cache_header,
    error_reply,
)

if TYPE_CHECKING:
    import jinja2

MOST_CITED = 20
HISTORY_ROWS = 366  # a year of days; the rest is in history.csv
TEXT_LIMIT = 2000  # the longest text a profile may hold (parse.check_record)
# A Host header as RFC 3986 allows it: a name or IPv4 address, or an IPv6 one in brackets, and
# a port. Anything else is not put in the pages' snippets.
_HOST_RE = re.compile(r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def shown(value: Any) -> Any:
    """What a page shows of a value: text without controls or bidi overrides (the kit's
    ``picture_text``), so a scraped name cannot reorder what follows it."""
    if not isinstance(value, str) or isinstance(value, Markup):
        return value
    if value.isascii() and value.isprintable():  # nearly every value: nothing to drop
        return value
    return picture_text(value, max(len(value), 1))


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The pages' templates; jinja2 is imported when the first page is drawn (some 2 MB a
    service answering only badges and endpoints never needs)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scholar_stats.service", "templates"),
        autoescape=True,  # every page is HTML: escape everything, always
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown,  # every value a page shows
    )
    env.filters["clean"] = lambda text: picture_text(str(text), TEXT_LIMIT)
    env.globals["files"] = catalogue  # the pages link an author's files by the catalogue's names
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
            svg = author + BADGES.path(metric) + ("" if style == "flat" else f"?style={style}")
            shields = shields_url(author + SHIELDS.path(metric), style)
            rows.append({"style": style, "svg": svg, "shields": shields})
        out.append({"metric": metric, "label": label, "styles": rows})
    return out


def render_index(entries: list[AuthorEntry]) -> bytes:
    """The index, with links relative to it: the same bytes whatever host it is asked on."""
    authors = sorted(entries, key=lambda e: ((e.name or e.scholar_id).casefold(), e.scholar_id))
    return environment().get_template("index.html").render(
        authors=authors, base="", metrics=("citations", "h-index", "i10-index", "publications"),
    ).encode("utf-8")


def author_contents(entry: AuthorEntry) -> dict[str, Any]:
    """What an author's page shows apart from the snippets: the same for every request of one
    version, and small (the most-cited papers and a year of history), however large the
    profile."""
    state = entry.state()
    gs = state.data.gs_data if state.data is not None else {}
    all_rows = list(state.history or ())
    most_cited = heapq.nlargest(MOST_CITED, (gs.get("publications") or {}).items(),
                                key=lambda item: int(item[1].get("num_citations") or 0))
    papers = tuple(
        (str((pub.get("bib") or {}).get("title") or "untitled"),
         str((pub.get("bib") or {}).get("pub_year") or ""),
         int(pub.get("num_citations") or 0),
         catalogue.paper_key(entry.scholar_id, str(key)))
        for key, pub in most_cited)
    status = state.status
    return {
        "name": str(gs.get("name") or entry.scholar_id),
        "affiliation": str(gs.get("affiliation") or ""),
        "updated": str(gs.get("updated") or ""),
        "has_status": status is not None,
        "message": status.message if status is not None else "",
        "stale_reason": (status.stale_reason or "") if status is not None else "",
        "history": tuple((row.date, tuple(row.values[m] for m in METRIC_NAMES))
                         for row in all_rows[::-1][:HISTORY_ROWS]),
        "history_total": len(all_rows),
        "papers": papers,
        "example": next((paper[3] for paper in papers if paper[3] is not None), None),
    }


def render_author(entry: AuthorEntry, contents: Mapping[str, Any], base: str) -> bytes:
    return environment().get_template("author.html").render(
        entry=entry, page=contents, base=base, metrics=METRIC_NAMES,
        snippets=badge_snippets(base, entry.scholar_id, entry.labels), shields_url=shields_url,
    ).encode("utf-8")


def page_base(request: Request) -> str | None:
    """The service's URL as the page was asked for it (scheme as the trusted proxy says, the
    Host header), for the snippets; ``None`` when the Host header is not a host."""
    host = request.headers.get("host") or "{}:{}".format(*request.scope["server"])
    if not _HOST_RE.fullmatch(host):
        return None
    return f"{request.scope['scheme']}://{host}{request.scope.get('root_path', '')}/"


def as_response(request: Request, reply: Reply) -> Response:
    """A prepared reply as FastAPI's answer to ``request`` (gzip, ETag, HEAD negotiated)."""
    start, body = answer(reply, request.method, request.headers.raw)
    headers = {k.decode(): v.decode() for k, v in start["headers"] if k != b"content-length"}
    return Response(body, status_code=start["status"], headers=headers)


READY = Reply.make(b"", HTML)  # an author is prepared (never sent)


def add_page_routes(app: FastAPI, snapshot: Snapshot) -> None:
    """``/``, ``/authors/{id}/`` (``/authors/{id}`` redirects there) and ``/scholar-stats.js``."""
    script = Reply.make(catalogue.page_script(), JS, cache=cache_header(snapshot.max_age))
    html: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}}, 400: {}, 404: {}}

    latest: list[Any] = [None, None]  # the snapshot's generation the index was made of, the index

    @app.get("/", response_class=Response, responses={200: {"content": {"text/html": {}}}})
    async def index(request: Request) -> Response:
        """The tracked authors with their main numbers (HTML)."""
        if latest[0] == snapshot.generation and not snapshot.unprepared:
            return as_response(request, latest[1])

        def make() -> Reply:  # once per change of the authors (the first request queued makes it)
            try:
                snapshot.prepare_all()  # the index lists every author: none is left out
            except NotLoaded:
                return error_reply(503, NOT_LOADED)
            generation = snapshot.generation
            if latest[0] != generation:
                authors = list(snapshot.authors.values())
                latest[:] = [generation, Reply.make(render_index(authors), HTML,
                                                    cache=cache_header(snapshot.max_age))]
            reply: Reply = latest[1]
            return reply

        return as_response(request, await snapshot.renders.settle(Pending(make)))

    @app.get("/" + SCRIPT.name, response_class=Response,
             responses={200: {"content": {"text/javascript": {}}}})
    async def page_script(request: Request) -> Response:
        """The homepage's include: fills AcadHomepage's elements from a base URL."""
        return as_response(request, script)

    @app.get("/authors/{scholar_id}/", response_class=Response, responses=html)
    async def author_page(request: Request, scholar_id: str) -> Response:
        """One author: card, chart, history, most-cited papers, badge snippets (HTML)."""
        entry = snapshot.authors.get(scholar_id)
        if entry is None and scholar_id in snapshot.unprepared:
            prepared = await snapshot.renders.settle(Pending(lambda: _prepared(scholar_id)))
            if prepared.status != 200:
                return as_response(request, prepared)
        entry = entry or snapshot.authors.get(scholar_id)  # prepared meanwhile (see Snapshot)
        if entry is None:
            valid = SCHOLAR_ID_RE.fullmatch(scholar_id)
            return as_response(request, error_reply(404 if valid else 400,
                                                NOT_TRACKED if valid else "invalid scholar id"))
        base = page_base(request)
        if base is None:
            return as_response(request, error_reply(400, "invalid Host header"))
        tracked = entry

        def make() -> Reply:
            contents = snapshot.cache.get_or_make(("page contents", scholar_id, tracked.version),
                                                  lambda: author_contents(tracked))
            return Reply.make(render_author(tracked, contents, base), HTML,
                              cache=cache_header(snapshot.max_age))

        found = kept(snapshot.cache, ("page", scholar_id, entry.version, base), make)
        return as_response(request, await snapshot.renders.settle(found))

    def _prepared(scholar_id: str) -> Reply:
        """The author prepared (in the render thread); an error reply when it cannot be."""
        try:
            snapshot.prepare(scholar_id)
        except NotLoaded:
            return error_reply(503, NOT_LOADED)
        return READY

    @app.get("/authors/{scholar_id}", include_in_schema=False)
    async def author_page_slash(scholar_id: str) -> Response:
        if not SCHOLAR_ID_RE.fullmatch(scholar_id):
            return _answer_error(400, "invalid scholar id")
        return RedirectResponse(f"/authors/{scholar_id}/", status_code=308)


def _answer_error(status: int, message: str) -> Response:
    reply = error_reply(status, message)
    return Response(reply.body, status_code=status, media_type="application/json")
