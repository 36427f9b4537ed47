"""The service's group routes: a group's files (``outputs/groups.py``: the profile record and the
shields endpoints, named as an author's), its badges and a page ``/groups/{name}/``.

Answered from memory like every public route: the groups and their members are mirrored in the
snapshot (read from the store with the authors, and on every poll), and a group's numbers are
computed (``core.groups``) in the render thread from its members' profiles as the snapshot
keeps them (each entry's state). They are kept under the members' versions: a member's refresh
landing gives the group new numbers, never stale ones.
"""

from __future__ import annotations

from fastapi import FastAPI, Path, Request
from fastapi.responses import Response

from scholar_stats.core.groups import GroupTotals, group_totals, validate_group_name
from scholar_stats.core.papers import ProfileSnapshot
from scholar_stats.outputs import badges
from scholar_stats.outputs.catalogue import BADGES, GS_DATA, SHIELDS, SHIELDS_CITATIONS
from scholar_stats.outputs.groups import GROUP_METRICS, render_group_files
from scholar_stats.service.packed import dump_record
from scholar_stats.service.pages import as_response, environment
from scholar_stats.service.replies import Pending
from scholar_stats.service.snapshot import (
    HTML,
    JSON,
    NOT_LOADED,
    SVG,
    NotLoaded,
    Reply,
    Snapshot,
    cache_header,
    error_reply,
)

# What a group has, relative to /groups/{name}/ ("" is its page).
GROUP_PATHS = frozenset({"", GS_DATA.name, SHIELDS_CITATIONS.name,
                         *(SHIELDS.path(metric) for metric in GROUP_METRICS),
                         *(BADGES.path(metric) for metric in GROUP_METRICS)})


def group_reply(snapshot: Snapshot, name: str, rest: str) -> Reply | Pending:
    """The reply for ``GET /groups/{name}/{rest}``, from memory: an error, the group's file
    kept under its members' versions, or the work of making the group's files (they decode
    every member's record)."""
    kind = "json" if rest == SHIELDS_CITATIONS.name or rest.startswith(SHIELDS.prefix) else None
    try:
        validate_group_name(name)
    except ValueError:
        return error_reply(400, "invalid group name", badge=kind)
    members = snapshot.groups.get(name)
    if members is None:
        return error_reply(404, "no such group", badge=kind)
    if rest not in GROUP_PATHS:
        return error_reply(404, "unknown metric" if rest.startswith((SHIELDS.prefix,
                                                                     BADGES.prefix))
                           else "not found", badge=kind)
    if any(sid in snapshot.unprepared for sid in members):
        return Pending(lambda: _after_preparing(snapshot, name, rest, members))
    entries = [snapshot.authors.get(sid) for sid in members]
    key = ("group", name, tuple((sid, e.version if e else None)
                                 for sid, e in zip(members, entries, strict=True)))
    replies: dict[str, Reply] | None = snapshot.cache.get(key)
    if replies is not None:
        return replies[rest]

    def make() -> dict[str, Reply]:
        profiles = {}
        for entry in entries:
            data = entry.data() if entry is not None else None
            if data is not None:
                profiles[data.scholar_id] = ProfileSnapshot.from_gs_data(data.gs_data)
        totals = group_totals(name, profiles)
        cache = cache_header(snapshot.max_age)
        made = {path: Reply.make(body, JSON, cache=cache)
                for path, body in render_group_files(
                    totals, dump_record, cache_seconds=snapshot.max_age).items()}
        made[""] = Reply.make(group_page(totals, members), HTML, cache=cache)
        values = {"citations": totals.citations, "h-index": totals.h_index,
                  "i10-index": totals.i10_index, "publications": totals.publications}
        for metric in GROUP_METRICS:
            svg = badges.render_badge(badges.make_badge(metric, str(values[metric])))
            made[BADGES.path(metric)] = Reply.make(svg, SVG, cache=cache)
        return made

    return Pending(lambda: snapshot.cache.get_or_make(key, make)[rest])


def _after_preparing(snapshot: Snapshot, name: str, rest: str, members: tuple[str, ...]) -> Reply:
    """A group's reply once its members are prepared (in the render thread)."""
    try:
        for scholar_id in members:
            snapshot.prepare(scholar_id)
    except NotLoaded:
        return error_reply(503, NOT_LOADED)
    if any(sid in snapshot.unprepared for sid in members):
        return error_reply(503, NOT_LOADED)
    found = group_reply(snapshot, name, rest)
    return found if isinstance(found, Reply) else found.make()


def group_page(totals: GroupTotals, members: tuple[str, ...]) -> bytes:
    """The group's page (Jinja2, like the service's other pages): its numbers and each
    member's, its badges, the members without data yet."""
    without = sorted(set(members) - {m.scholar_id for m in totals.members})
    page = environment().get_template("group.html").render(
        totals=totals, metrics=GROUP_METRICS, without=without, base="../../")
    return page.encode("utf-8")


def add_group_routes(app: FastAPI, snapshot: Snapshot) -> None:
    """The group routes on ``app``, answered from ``snapshot``."""
    name_path = Path(description="The group's name (as in `groups add NAME`)", examples=["lab"])

    async def answer(request: Request, name: str, rest: str) -> Response:
        return as_response(request, await snapshot.renders.settle(group_reply(snapshot, name,
                                                                              rest)))

    group = "/groups/{name}/"

    @app.get(group + GS_DATA.name, response_class=Response,
             responses={200: {"content": {"application/json": {}}}, 400: {}, 404: {}})
    async def group_gs_data(request: Request, name: str = name_path) -> Response:
        """The group's record: totals, members, merged papers (what `export --group` writes)."""
        return await answer(request, name, GS_DATA.name)

    @app.get(group + SHIELDS_CITATIONS.name, response_class=Response,
             responses={200: {"content": {"application/json": {}}}, 400: {}, 404: {}})
    async def group_shieldsio(request: Request, name: str = name_path) -> Response:
        """shields.io endpoint JSON for the group's citations."""
        return await answer(request, name, SHIELDS_CITATIONS.name)

    @app.get(group + SHIELDS.path("{metric}"), response_class=Response,
             responses={200: {"content": {"application/json": {}}}, 400: {}, 404: {}})
    async def group_shields(request: Request, name: str = name_path,
                            metric: str = Path(description=", ".join(GROUP_METRICS))) -> Response:
        """shields.io endpoint JSON for one of the group's numbers."""
        return await answer(request, name, SHIELDS.path(metric))

    @app.get(group + BADGES.path("{metric}"), response_class=Response,
             responses={200: {"content": {"image/svg+xml": {}}}, 400: {}, 404: {}})
    async def group_badge(request: Request, name: str = name_path,
                          metric: str = Path(description=", ".join(GROUP_METRICS))) -> Response:
        """An SVG badge of one of the group's numbers."""
        return await answer(request, name, BADGES.path(metric))

    @app.get("/groups/{name}/", response_class=Response,
             responses={200: {"content": {"text/html": {}}}, 400: {}, 404: {}})
    async def group_page_route(request: Request, name: str = name_path) -> Response:
        """A page with the group's numbers and each member's."""
        return await answer(request, name, "")
