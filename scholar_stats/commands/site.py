"""``scholar-stats site THEME``: a homepage theme's data files, written into the site's source
tree from data already fetched.

Without ``--from`` it runs ``fetch`` itself (``commands/fetch.py``'s ``cli_fetch``: the same
engine, gate, deadline, sources and exit codes) into ``--out``, then reads what that left
there; with ``--from RESULTS`` it reads a results folder and makes no request at all. Either
way the files are drawn by ``outputs/themes.py``, and only those that change are written, all
of them or none (``files.write_files``), never over a file scholar-stats did not write.
"""

from __future__ import annotations

import re
import sys
from argparse import Namespace
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scholar_stats.commands.arguments import scholar_ids
from scholar_stats.core.model import AuthorData, parse_scholar_id
from scholar_stats.core.text import load_json, log_safe
from scholar_stats.core.validate import check_record, metrics_of
from scholar_stats.errors import ScholarStatsError, UsageError
from scholar_stats.files import read_if_there, write_files
from scholar_stats.outputs.catalogue import GS_DATA
from scholar_stats.outputs.themes import THEMES, Theme, draw_site, load_yaml, owned

# A Scholar profile URL in a site's settings (academicpages' author.googlescholar, Hugo Blox's
# social links), on a line that is not a comment.
PROFILE_URL = re.compile(r"""^[^#\n]*?((?:https?://)?scholar\.google\.[a-z.]{2,12}/citations\?"""
                         r"""[^\s"'<>#]*user=[A-Za-z0-9_-]{12}[^\s"'<>]*)""", re.M)
USERID_LINE = re.compile(
    r"""^\s*scholar_userid\s*[:=]\s*["']?([A-Za-z0-9_-]{12})["']?\s*(?:#.*)?$""", re.M)


def named_in_site(site: Path, theme: Theme) -> str | None:
    """The Scholar id the site already names, in its theme's files in order: al-folio's
    ``scholar_userid`` (``_data/socials.yml`` or ``_config.yml``), else a profile URL such as
    academicpages' ``author.googlescholar``; ``None`` when none does."""
    for name in theme.id_files:
        data = read_if_there(site / name)
        if data is None:
            continue
        text = data.decode("utf-8", "replace")
        settings = load_yaml(data) if name.endswith((".yml", ".yaml")) else None
        found = [settings.get("scholar_userid") if isinstance(settings, dict) else None]
        if isinstance(settings, dict) and isinstance(settings.get("author"), dict):
            found.append(settings["author"].get("googlescholar"))
        if settings is None:  # TOML, Markdown front matter, or YAML that does not parse
            found += [m.group(1) for m in USERID_LINE.finditer(text)]
        found += [m.group(1) for m in PROFILE_URL.finditer(text)]
        for value in found:
            if isinstance(value, str) and value.strip():
                try:
                    return parse_scholar_id(value)
                except UsageError as exc:
                    raise UsageError(f"{site / name}: {exc}") from None
    return None


def held_in(results: Path) -> list[str]:
    """The ids of the records a results folder holds: its own ``gs_data.json``, else those of
    its ``<id>/`` folders (``fetch`` with several ids)."""
    own = record_id(results / GS_DATA.name)
    if own:
        return [own]
    try:
        folders = sorted(p for p in results.iterdir() if p.is_dir())
    except OSError:
        return []
    return [i for i in (record_id(folder / GS_DATA.name) for folder in folders) if i]


def record_id(path: Path) -> str | None:
    try:
        record = load_json(path.read_bytes())
    except (OSError, ValueError):
        return None
    value = record.get("scholar_id") if isinstance(record, dict) else None
    return value if isinstance(value, str) else None


def read_author(results: Path, scholar_id: str) -> AuthorData:
    """``scholar_id``'s record in a results folder (``RESULTS/<id>/gs_data.json``, or
    ``RESULTS/gs_data.json`` when it is this author's), checked as a source's record is;
    ``UsageError`` naming the file otherwise."""
    candidates = [results / scholar_id / GS_DATA.name, results / GS_DATA.name]
    path = next((p for p in candidates if record_id(p) == scholar_id), None)
    if path is None:
        raise UsageError(f"no {GS_DATA.name} of {scholar_id} in {results} (a results folder as "
                         "`fetch --out` writes it)")
    record = load_json(path.read_bytes())
    try:
        metrics_of(record)
        datetime.fromisoformat(record["updated"])  # when the numbers were taken
        per_year = record.get("cites_per_year")
        checked = {**record, "cites_per_year": {int(year): count for year, count in
                                                per_year.items()}}
        check_record(scholar_id, checked, None, datetime.now(timezone.utc))
    except (ScholarStatsError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path} is not a record `fetch` wrote: {exc}") from None
    return AuthorData(scholar_id, record, None)


def site_changes(site: Path, theme: Theme, authors: list[AuthorData]) -> dict[str, bytes]:
    """The files of ``theme`` that differ from what the site holds; ``UsageError`` naming the
    first one that is there and was not written by scholar-stats (nothing is written then)."""
    current = {file.path: read_if_there(site / file.path) for file in theme.files}
    drawn = draw_site(theme, authors, current)
    changed = {}
    for file in theme.files:
        now, new = current[file.path], drawn[file.path]
        if now == new:
            continue
        if now is not None and not owned(now) and not (file.adopts and file.adopts(now)):
            raise UsageError(f"{site / file.path} was not written by scholar-stats: move it "
                             "away (or delete it) and run again; nothing was written")
        changed[file.path] = new
    return changed


def fetch_first(args: Any, ids: list[str]) -> tuple[Path, int]:
    """``fetch`` of ``ids`` into ``--out``, exactly as the ``fetch`` command runs it; the
    folder and its exit code."""
    from scholar_stats.commands.fetch import cli_fetch

    return Path(args.out), cli_fetch(Namespace(**{**vars(args), "scholar_ids": ids}))


def site_folder(site: Path) -> Path:
    if not site.is_dir():
        raise UsageError(f"--site {site}: no such folder (the site's source tree)")
    return site


def write_site(theme_name: str, site: Path, results: Path,
               ids: Sequence[str] = ()) -> list[str]:
    """Write ``theme_name``'s files into ``site`` from the records of ``results`` (a results
    folder as ``fetch --out`` wrote it), making no request: those of ``ids``, else of the id
    the site names, else of every author the folder holds. The paths written, relative to
    ``site`` (none: nothing changed); ``UsageError`` (exit 2) for a missing or foreign record
    or a file scholar-stats did not write, ``OutputNotWritable`` (exit 9). What the Action
    calls after its own fetch."""
    theme = THEMES[theme_name]
    site_folder(site)
    if not results.is_dir():
        raise UsageError(f"--from {results}: no such folder (a results folder as `fetch --out` "
                         "writes it)")
    chosen = list(ids) or [i for i in [named_in_site(site, theme)] if i] or held_in(results)
    if not chosen:
        raise UsageError(f"{no_id(theme)}; {results} holds no {GS_DATA.name}")
    authors = [read_author(results, scholar_id) for scholar_id in chosen]
    changed = site_changes(site, theme, authors)
    write_files(site, changed)
    return list(changed)


def no_id(theme: Theme) -> str:
    return f"no Scholar id: give one, or name it in the site ({' or '.join(theme.id_files[:2])})"


def cli_site(args: Any) -> int:
    theme = THEMES[args.theme]
    site = site_folder(Path(args.site))
    ids = scholar_ids(args.scholar_ids or [])
    code = 0
    if args.from_results is None:
        ids = ids or [i for i in [named_in_site(site, theme)] if i]
        if not ids:
            raise UsageError(no_id(theme))
        results, code = fetch_first(args, ids)
        missing = [i for i in ids if not any(record_id(folder / GS_DATA.name) == i for folder in
                                             (results / i, results))]
        if missing:  # never fetched: not one file is written, none half-updated
            print(log_safe(f"scholar-stats: no data of {', '.join(missing)}: the {theme.name} "
                           f"files in {site} are unchanged"), file=sys.stderr)
            return code or 1
    else:
        results = Path(args.from_results)
    changed = write_site(theme.name, site, results, ids)
    for path in changed:
        print(log_safe(f"{site / path}: written ({theme.name})"))
    if not changed:
        print(log_safe(f"{site}: the {theme.name} files are up to date"))
    return code
