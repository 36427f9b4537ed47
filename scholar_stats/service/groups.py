"""The service's group routes: ``/groups/{name}/gs_data.json``, ``/shields/{metric}.json``,
``/badges/{metric}.svg`` and a page ``/groups/{name}/``.

A group's numbers are computed (``core.groups``) from its members' ``gs_data.json`` in the
snapshot, the bytes every author route serves, and kept in the snapshot's cache under the
members' versions: a member's refresh landing gives the group new numbers, never stale ones.
Membership is read from the store, at most once per poll interval per group (the service's
delay for any change made by another process).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import FastAPI, Path, Request
from fastapi.responses import Response

from scholar_stats.core.groups import GroupTotals, group_totals, validate_group_name
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.outputs import badges
from scholar_stats.outputs.groups import GROUP_METRICS, render_group_files
from scholar_stats.outputs.render import GS_DATA
from scholar_stats.service.fastpath import reply_messages
from scholar_stats.service.replies import Reply
from scholar_stats.service.snapshot import (
    JSON,
    SVG,
    Snapshot,
    cache_header,
    error_reply,
)

HTML = b"text/html; charset=utf-8"


class GroupDirectory:
    """Group name -> members, read from the store and kept for ``ttl`` seconds."""

    def __init__(self, store: Any, ttl: float) -> None:
        self.store = store
        self.ttl = ttl
        self._known: dict[str, tuple[float, list[str] | None]] = {}

    def members(self, name: str) -> list[str] | None:
        now = time.monotonic()
        known = self._known.get(name)
        if known is not None and now - known[0] < self.ttl:
            return known[1]
        members = self.store().group_members(name)
        if len(self._known) > 10000:
            self._known.clear()
        self._known[name] = (now, members)
        return members


def group_replies(snapshot: Snapshot, name: str, members: list[str]) -> dict[str, Reply]:
    """The group's files (as ``export --group`` writes them) and its page and badges' numbers,
    built once per set of member versions."""
    entries = [snapshot.authors.get(sid) for sid in members]
    key = ("group", name, tuple((sid, e.version if e else None)
                                 for sid, e in zip(members, entries, strict=True)))

    def make() -> dict[str, Reply]:
        profiles = {}
        for entry in entries:
            if entry is not None and GS_DATA in entry.files:
                profiles[entry.scholar_id] = ProfileSnapshot.from_gs_data(
                    json.loads(entry.files[GS_DATA].body))
        totals = group_totals(name, profiles)
        cache = cache_header(snapshot.max_age)
        replies = {path: Reply.make(body, JSON, cache=cache)
                   for path, body in render_group_files(totals).items()}
        replies[""] = Reply.make(group_page(totals, members), HTML, cache=cache)
        values = {"citations": totals.citations, "h-index": totals.h_index,
                  "i10-index": totals.i10_index, "publications": totals.publications}
        for metric in GROUP_METRICS:
            svg = badges.render_badge(badges.make_badge(metric, str(values[metric])))
            replies[f"badges/{metric}.svg"] = Reply.make(svg, SVG, cache=cache)
        return replies

    return snapshot.cache.get_or_make(key, make)


def group_page(totals: GroupTotals, members: list[str]) -> bytes:
    """The group's page (Jinja2, like the service's other pages): its numbers and each
    member's, its badges, the members without data yet."""
    from scholar_stats.service.pages import environment

    without = sorted(set(members) - {m.scholar_id for m in totals.members})
    page = environment().get_template("group.html").render(
        totals=totals, metrics=GROUP_METRICS, without=without, base="../../")
    return page.encode("utf-8")


def add_group_routes(app: FastAPI, service: Any) -> None:
    """The group routes on ``app`` for ``service`` (the mirror: its store and snapshot)."""
    directory = GroupDirectory(lambda: service.store, max(service.settings.poll_seconds, 1.0))
    name_path = Path(description="The group's name (as in `groups add NAME`)", examples=["lab"])

    async def answer(request: Request, name: str, rest: str) -> Response:
        try:
            validate_group_name(name)
        except ValueError:
            reply = error_reply(400, "invalid group name")
        else:
            members = await asyncio.to_thread(directory.members, name)
            if members is None:
                reply = error_reply(404, "no such group")
            else:
                replies = await asyncio.to_thread(group_replies, service.snapshot, name, members)
                reply = replies.get(rest) or error_reply(404, "unknown metric")
        start, body = reply_messages(reply, request.method, request.headers.raw)
        headers = {k.decode(): v.decode() for k, v in start["headers"] if k != b"content-length"}
        return Response(body, status_code=start["status"], headers=headers)

    @app.get("/groups/{name}/gs_data.json", response_class=Response,
             responses={200: {"content": {"application/json": {}}}, 400: {}, 404: {}})
    async def group_gs_data(request: Request, name: str = name_path) -> Response:
        """The group's record: totals, members, merged papers (what `export --group` writes)."""
        return await answer(request, name, GS_DATA)

    @app.get("/groups/{name}/gs_data_shieldsio.json", response_class=Response,
             responses={200: {"content": {"application/json": {}}}, 400: {}, 404: {}})
    async def group_shieldsio(request: Request, name: str = name_path) -> Response:
        """shields.io endpoint JSON for the group's citations."""
        return await answer(request, name, "gs_data_shieldsio.json")

    @app.get("/groups/{name}/shields/{metric}.json", response_class=Response,
             responses={200: {"content": {"application/json": {}}}, 400: {}, 404: {}})
    async def group_shields(request: Request, name: str = name_path,
                            metric: str = Path(description=", ".join(GROUP_METRICS))) -> Response:
        """shields.io endpoint JSON for one of the group's numbers."""
        return await answer(request, name, f"shields/{metric}.json")

    @app.get("/groups/{name}/badges/{metric}.svg", response_class=Response,
             responses={200: {"content": {"image/svg+xml": {}}}, 400: {}, 404: {}})
    async def group_badge(request: Request, name: str = name_path,
                          metric: str = Path(description=", ".join(GROUP_METRICS))) -> Response:
        """An SVG badge of one of the group's numbers."""
        return await answer(request, name, f"badges/{metric}.svg")

    @app.get("/groups/{name}/", response_class=Response,
             responses={200: {"content": {"text/html": {}}}, 400: {}, 404: {}})
    async def group_page_route(request: Request, name: str = name_path) -> Response:
        """A page with the group's numbers and each member's."""
        return await answer(request, name, "")
