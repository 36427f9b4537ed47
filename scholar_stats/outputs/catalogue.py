"""The catalogue of an author's files: the one place each file is named. Pure, no I/O.

For every file: its name (a family's has one ``<key>``: ``shields/<metric>.json``), its media
type, what it is (docs/files.md), how it is drawn from the author's state, which of its
members change without the data changing (``publish`` commits nothing for them), and where
it is: on the branch (``fetch`` and ``export`` write it, ``publish`` commits it) or made there by
``publish``, in the service, or both. Rendering, ``export``, ``publish``, the service's routes
and the documentation's tables all read it, so a new file is declared here and nowhere else.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from scholar_stats.core.model import METRIC_NAMES, AuthorData, FetchStatus
from scholar_stats.outputs.changes import ChangeLog, render_changes_json, render_changes_xml
from scholar_stats.outputs.history import HistoryRow, render_history_csv
from scholar_stats.outputs.kit import card_svg, chart_svg, metric_badge, paper_endpoint
from scholar_stats.outputs.render import (
    data_endpoint,
    dump_json,
    render_status,
    shield_endpoints,
)

JSON = "application/json"
SVG = "image/svg+xml"
CSV = "text/csv; charset=utf-8"
ATOM = "application/atom+xml"
JS = "text/javascript; charset=utf-8"

# The part of ``author_pub_id`` after the colon becomes a file name: only Scholar's characters.
PAPER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class AuthorState:
    """What an author's files are drawn from; a file whose part is missing is not drawn."""

    scholar_id: str
    data: AuthorData | None = None  # the last good profile
    status: FetchStatus | None = None  # the last attempt, as its status.json says it
    history: Sequence[HistoryRow] | None = None  # one row per day
    changes: ChangeLog | None = None  # what changed between fetches
    stale: bool = False  # the pictures and the endpoints turn grey
    cache_seconds: int | None = None  # the service's max-age, which its endpoints announce


@dataclass(frozen=True)
class Volatile:
    """Which top-level members of a JSON file change without the author's data changing:
    ``members``, or every member but ``kept`` (``kept=()``: the whole file, which ``publish``
    then leaves out of the comparison, as it is rebuilt from another)."""

    members: tuple[str, ...] = ()
    kept: tuple[str, ...] | None = None


FETCH = "fetch"  # on the branch: fetch and export write it, publish commits it
PUBLISH = "publish"  # on the branch: publish keeps it from gs_data.json, export writes it


@dataclass(frozen=True)
class OutputFile:
    """One file (or family of files) of an author's folder."""

    name: str
    media: str
    what: str  # one line: the file tables of docs/files.md
    draw: Callable[[AuthorState], dict[str, bytes]]  # key ("" for one file) -> bytes
    branch: str | None = FETCH  # FETCH, PUBLISH, or None: the service's only
    service: bool = True
    kit: bool = False  # drawn from the data alone: the service draws it when asked, not ahead
    volatile: Volatile = Volatile()
    summary: str = ""  # the service's route documentation (a file of one name)
    counted_as: str = ""  # the service's requests metric label (default: the name)
    top: bool = False  # once at the top of the output folder, not per author

    @functools.cached_property
    def family(self) -> bool:
        return "<" in self.name

    @functools.cached_property
    def prefix(self) -> str:
        """What a family's paths start with (its folder), or the file's name."""
        return self.name.partition("<")[0]

    @functools.cached_property
    def suffix(self) -> str:
        return self.name.partition(">")[2]

    def path(self, key: str = "") -> str:
        """The relative path of one file of the family (``key``), or the file's name."""
        return self.prefix + key + self.suffix if self.family else self.name

    def key_of(self, path: str) -> str | None:
        """The key of ``path`` in this family (``""``: the file of one name); ``None`` when it
        is not one of its paths. Asked on every request for a badge: kept cheap."""
        prefix, suffix = self.prefix, self.suffix
        if not self.family:
            return "" if path == prefix else None
        if (path.startswith(prefix) and path.endswith(suffix)
                and len(path) >= len(prefix) + len(suffix)):
            return path[len(prefix):len(path) - len(suffix)]
        return None

    def files(self, state: AuthorState) -> dict[str, bytes]:
        return {self.path(key): body for key, body in self.draw(state).items()}


def one(draw: Callable[[AuthorState], bytes | None]) -> Callable[[AuthorState], dict[str, bytes]]:
    """The draw of a single file, from a function giving its bytes (``None``: not drawn)."""

    @functools.wraps(draw)
    def files(state: AuthorState) -> dict[str, bytes]:
        body = draw(state)
        return {} if body is None else {"": body}

    return files


# --- the paper-id rule -----------------------------------------------------------------------


def paper_key(scholar_id: str, pub_id: str) -> str | None:
    """The name a paper's files go by: its ``author_pub_id`` after ``<scholar_id>:``, when it is
    made of Scholar's characters (it becomes a file name); else ``None``: it has no files."""
    short = pub_id.removeprefix(scholar_id + ":")
    return short if PAPER_ID_RE.fullmatch(short) else None


def paper_counts(data: AuthorData) -> dict[str, int]:
    """Paper key (``paper_key``) -> citations, for the papers that have files."""
    counts = {}
    for pub_id, pub in (data.gs_data.get("publications") or {}).items():
        key = paper_key(data.scholar_id, str(pub_id))
        if key is not None:
            counts[key] = int(pub.get("num_citations") or 0)
    return counts


# --- how each file is drawn ------------------------------------------------------------------


@one
def _gs_data(state: AuthorState) -> bytes | None:
    return None if state.data is None else dump_json(state.data.gs_data)


@one
def _citations_endpoint(state: AuthorState) -> bytes | None:
    if state.data is None:
        return None
    return dump_json(data_endpoint("citations", str(state.data.gs_data["citedby"]),
                                   stale=state.stale, cache_seconds=state.cache_seconds))


def _metric_endpoints(state: AuthorState) -> dict[str, bytes]:
    if state.data is None:
        return {}
    return {metric: dump_json(endpoint) for metric, endpoint in
            shield_endpoints(state.data, stale=state.stale,
                             cache_seconds=state.cache_seconds).items()}


def _metric_badges(state: AuthorState) -> dict[str, bytes]:
    if state.data is None:
        return {}
    values = state.data.metrics.as_dict()
    return {metric: metric_badge(endpoint["label"], values[metric], stale=state.stale)
            for metric, endpoint in shield_endpoints(state.data).items()}


def _paper_endpoints(state: AuthorState) -> dict[str, bytes]:
    if state.data is None:
        return {}
    return {key: paper_endpoint(count, stale=state.stale, cache_seconds=state.cache_seconds)
            for key, count in paper_counts(state.data).items()}


def _paper_endpoints_by_id(state: AuthorState) -> dict[str, bytes]:
    return {f"{state.scholar_id}:{key}": body for key, body in _paper_endpoints(state).items()}


@one
def _status(state: AuthorState) -> bytes | None:
    return None if state.status is None else render_status(state.status)


@one
def _history(state: AuthorState) -> bytes | None:
    return None if state.history is None else render_history_csv(list(state.history))


@one
def _chart(state: AuthorState) -> bytes | None:
    data = state.data
    return None if data is None else chart_svg(data.gs_data.get("cites_per_year") or {},
                                               data.name)


@one
def _card(state: AuthorState) -> bytes | None:
    return None if state.data is None else card_svg(state.data.gs_data, stale=state.stale)


@one
def _changes_json(state: AuthorState) -> bytes | None:
    if state.changes is None or state.data is None:
        return None
    return render_changes_json(state.changes)


@one
def _changes_xml(state: AuthorState) -> bytes | None:
    if state.changes is None or state.data is None:
        return None
    return render_changes_xml(state.changes, state.data.name)


@functools.lru_cache(maxsize=1)
def page_script() -> bytes:
    """``scholar-stats.js``: the homepage's include, a file of this package (see the file)."""
    return importlib.resources.files(__package__).joinpath(SCRIPT.name).read_bytes()


# --- the catalogue ---------------------------------------------------------------------------

GS_DATA = OutputFile(
    "gs_data.json", JSON,
    "the whole profile, in scholarly's author shape: `citedby`, `hindex`, ..., `cites_per_year`, "
    "and `publications` keyed by `author_pub_id`, each with `num_citations`; `updated` is an ISO "
    "8601 timestamp",
    _gs_data, volatile=Volatile(members=("updated",)),
    summary="The AcadHomepage record (what `fetch` writes)")
SHIELDS_CITATIONS = OutputFile(
    "gs_data_shieldsio.json", JSON,
    '`{"schemaVersion": 1, "label": "citations", "message": "1234", "color": "#007ec6"}`, '
    "grey (`#9f9f9f`) once the data is stale, like the badges",
    _citations_endpoint, summary="shields.io endpoint JSON for citations",
    counted_as="endpoint_json")
SHIELDS = OutputFile(
    "shields/<metric>.json", JSON,
    "a shields.io endpoint file for `citations`, `citations-5y`, `h-index`, `h-index-5y`, "
    "`i10-index`, `i10-index-5y`, `publications` (the 5-year labels name the year Scholar shows, "
    'e.g. "citations since 2021"), coloured the same way',
    _metric_endpoints, counted_as="endpoint_json")
STATUS = OutputFile(
    "status.json", JSON,
    "the last attempt: outcome, exit code, error kind, message, last success, requests, duration, "
    "`source` (`scholar` or `serpapi`: where the data, or the failure, came from) and "
    '`serpapi_searches` (`{"month": "2026-11", "count": 3}`: the SerpApi searches spent on this '
    "folder's author this month)",
    _status, volatile=Volatile(kept=("serpapi_searches",)),
    summary="The last attempt and whether the data is stale")
HISTORY = OutputFile(
    "history.csv", CSV,
    "one row per UTC day of every metric: `publish` keeps it on the branch (from `gs_data.json`), "
    "`export` writes it",
    _history, branch=PUBLISH, volatile=Volatile(kept=()),
    summary="One row per day of every metric")
BADGES = OutputFile(
    "badges/<metric>.svg", SVG,
    "a badge per metric (the seven above), drawn here: flat, with the Google Scholar logo; grey "
    "once the data is stale (a failed fetch redraws them when the last success is over 7 days "
    "old)",
    _metric_badges, kit=True, counted_as="badge_svg")
CHART = OutputFile(
    "chart.svg", SVG,
    "citations per year (bars) and in total (a line on the right axis), 520 x 220 px, light or "
    "dark with the viewer's `prefers-color-scheme`",
    _chart, kit=True, summary="Citations per year (bars) and in total (line)")
CARD = OutputFile(
    "card.svg", SVG,
    "a profile card, 480 x 300 px: name, affiliation, citations, h-index, i10-index, the five "
    "most-cited papers with their counts and a small per-year chart; light and dark",
    _card, kit=True, summary="A profile card: numbers, most-cited papers, per-year chart")
PAPERS = OutputFile(
    "papers/<id>.json", JSON,
    'a shields.io endpoint file per publication (label "citations", its count, coloured the '
    "same way), named by the "
    "part of `author_pub_id` after the colon when it is 1-64 of `A-Z`, `a-z`, `0-9`, `_`, `-` "
    "(a paper with another id has no endpoint, here or in the service)",
    _paper_endpoints, kit=True, counted_as="paper_json")
PAPER_SHIELDS = OutputFile(
    "papers/<pub_id>/shields.json", JSON,
    "one paper's endpoint by its whole `author_pub_id` (AcadHomepage's `data=`) or the part after "
    "the colon",
    _paper_endpoints_by_id, branch=None, kit=True, counted_as="paper_json")
CHANGES_JSON = OutputFile(
    "changes.json", JSON,
    "what changed between successful fetches: the newest 200 events, newest first (see below)",
    _changes_json, summary="The newest 200 changes (papers and metrics), newest first")
CHANGES_XML = OutputFile(
    "changes.xml", ATOM,
    "the same events as an Atom 1.0 feed, one entry per fetch that changed something",
    _changes_xml, summary="The same changes as an Atom 1.0 feed")
SCRIPT = OutputFile(
    "scholar-stats.js", JS,
    "once, at the top of `DIR`: the page script (see [the homepage kit](kit.md#the-page-script))",
    one(lambda state: page_script()), top=True)

CATALOGUE: tuple[OutputFile, ...] = (
    GS_DATA, SHIELDS_CITATIONS, SHIELDS, STATUS, HISTORY, BADGES, CHART, CARD, PAPERS,
    PAPER_SHIELDS, CHANGES_JSON, CHANGES_XML, SCRIPT)

# An author's folder on the branch (what fetch and export write), and what the service draws
# when it builds an author's answers (the kit it draws when asked).
BRANCH_FILES = tuple(f for f in CATALOGUE if f.branch is not None and not f.top)
SERVICE_KEPT = tuple(f for f in CATALOGUE if f.service and not f.kit and not f.top)
KIT = tuple(f for f in BRANCH_FILES if f.kit)
# The files whose colour follows the data's age: what a failed fetch redraws grey once the kept
# data is stale (the numbers stay).
AGED = (*KIT, SHIELDS_CITATIONS, SHIELDS)


def draw(state: AuthorState, files: Iterable[OutputFile] = BRANCH_FILES) -> dict[str, bytes]:
    """Relative path -> bytes of ``files`` for one author (those its state can draw)."""
    out: dict[str, bytes] = {}
    for file in files:
        out.update(file.files(state))
    return out


def render_author_files(
    data: AuthorData, *, stale: bool = False, kit: bool = True
) -> dict[str, bytes]:
    """The files of one author drawn from its data alone: the data files and, with ``kit``, the
    homepage kit (grey when ``stale``)."""
    files = BRANCH_FILES if kit else tuple(f for f in BRANCH_FILES if not f.kit)
    return draw(AuthorState(data.scholar_id, data, stale=stale), files)


def kit_files(data: AuthorData, *, stale: bool = False) -> dict[str, bytes]:
    """The homepage kit of one author: badges, chart, card, paper endpoints."""
    return draw(AuthorState(data.scholar_id, data, stale=stale), KIT)


def stale_files(data: AuthorData) -> dict[str, bytes]:
    """The files of ``data`` whose colour follows its age (:data:`AGED`), drawn grey."""
    return draw(AuthorState(data.scholar_id, data, stale=True), AGED)


def named(name: str) -> OutputFile | None:
    """The file of one name (not a family) called ``name``."""
    return _NAMED.get(name)


_NAMED: Mapping[str, OutputFile] = {f.name: f for f in CATALOGUE if not f.family}


_SERVED = [f for f in CATALOGUE if f.service and not f.top]
# The label of each file of one name, and of the metric families' paths (badges/citations.svg):
# most requests are found in one lookup.
ROUTE_LABELS = {f.name: f.counted_as or f.name for f in _SERVED if not f.family}
ROUTE_LABELS.update((f.path(metric), f.counted_as or f.name) for f in _SERVED
                    if "<metric>" in f.name for metric in METRIC_NAMES)
_FOLDER_LABELS = tuple((f.prefix, f.counted_as or f.name) for f in _SERVED if f.family)


def route_label(path: str) -> str:
    """What the service's requests metric calls a request for ``path`` of an author: a bounded
    set of labels, whatever is asked (a family's label for anything under its folder). Asked
    on every request: a lookup."""
    label = ROUTE_LABELS.get(path)
    if label is not None:
        return label
    for prefix, label in _FOLDER_LABELS:
        if path.startswith(prefix):
            return label
    return "other"


def file_table() -> str:
    """The table of the files ``fetch`` writes (docs/files.md, made by docs/gen_reference.py)."""
    rows = ["| file | what |", "| --- | --- |"]
    rows += [f"| `{f.name}` | {f.what} |" for f in CATALOGUE if f.branch == FETCH]
    return "\n".join(rows) + "\n"
