"""``scholar-stats publish``: commit a results folder to a git branch and push it.

Why plumbing: the command runs inside a user's checkout (a GitHub Actions workspace), so it
must never touch the working tree, the index, HEAD or the current branch. Every object it
writes (fetched commits, new blobs, trees and commits) goes into a temporary object directory
that borrows the repository's objects as an alternate, so even a failed run leaves the
repository byte for byte as it was. Only the remote branch changes.

Why a credential helper in the environment: the token in ``GITHUB_TOKEN`` must never be in a
URL, an argument list, a message or ``.git/config``; git reads it from the environment itself.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import PublishFailed, ScholarStatsError, UsageError
from .history import HISTORY_FILE, HistoryRow, parse_history_csv, render_history_csv, upsert_row
from .model import Metrics

log = logging.getLogger(__name__)

GS_DATA = "gs_data.json"
STATUS = "status.json"
TOKEN_ENV = "GITHUB_TOKEN"
MAX_ATTEMPTS = 4
KEEPALIVE = timedelta(days=7)  # commit anyway when the head is older: the data is alive
GIT_TIMEOUT = 300.0
_RETRYABLE = ("non-fast-forward", "fetch first", "stale info", "already exists")
# git runs this itself; the shell expands the variable, so the token is in no argv or file.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || return 0; echo username=x-access-token; '
    f'echo "password=${TOKEN_ENV}"; }}; f'
)


@dataclass(frozen=True)
class PublishResult:
    """What a publish did; ``commit`` is the branch head afterwards (None if there is none)."""

    committed: bool
    pushed: bool
    commit: str | None
    reason: str


class GitError(ScholarStatsError):
    """A git command failed; the message is one line and scrubbed of secrets."""


def scrub(text: str) -> str:
    """``text`` with the token and any URL credentials replaced by ``***``."""
    for name in (TOKEN_ENV, "GH_TOKEN"):
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in scrub(text).splitlines() if line.strip()]
    for line in lines:  # git's own diagnosis, if it gave one, beats progress noise
        if line.startswith(("fatal:", "error:", "remote:")):
            return line[:300]
    return (lines[-1] if lines else "no output")[:300]


def git(
    repo: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git -C repo args`` (argument list, no shell, no prompt) and capture its output."""
    full_env = dict(os.environ if env is None else env)
    full_env["GIT_TERMINAL_PROMPT"] = "0"
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args], input=input, capture_output=True,
            env=full_env, timeout=GIT_TIMEOUT, check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {GIT_TIMEOUT:.0f}s") from None
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    log.debug("git %s -> %s", scrub(" ".join(args)), proc.returncode)
    if check and proc.returncode != 0:
        raise GitError(f"git {args[0]} failed: {_one_line(proc.stderr.decode(errors='replace'))}")
    return proc


def auth_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` plus a credential helper for ``GITHUB_TOKEN`` when it is set.

    The helper is added through GIT_CONFIG_COUNT (git >= 2.31), after any the caller already
    set, so nothing is written to a config file and git's own credential setup still works.
    """
    env = dict(base)
    if not env.get(TOKEN_ENV):
        return env
    count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    env[f"GIT_CONFIG_KEY_{count}"] = "credential.helper"
    env[f"GIT_CONFIG_VALUE_{count}"] = CREDENTIAL_HELPER
    env["GIT_CONFIG_COUNT"] = str(count + 1)
    return env


# ----------------------------------------------------------------------------- pure parts


def read_results(results_dir: Path) -> dict[str, bytes]:
    """Relative POSIX path → bytes of every file under ``results_dir`` (dot-entries skipped)."""
    if not results_dir.is_dir():
        raise UsageError(f"{results_dir} is not a folder: run `scholar-stats fetch --out DIR` first")
    files: dict[str, bytes] = {}
    for path in sorted(results_dir.rglob("*")):
        rel = path.relative_to(results_dir)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        files[rel.as_posix()] = path.read_bytes()
    if not files:
        raise UsageError(f"{results_dir} has no files to publish")
    return files


def _folder(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent + "/"


def build_tree_files(
    old: Mapping[str, bytes], results: Mapping[str, bytes], today: str
) -> dict[str, bytes]:
    """The branch's next content: its files overlaid with ``results``, plus ``history.csv``.

    Files the branch has and the results lack are kept, so a failed fetch (which writes only
    ``status.json``) never removes the last good data. Each folder holding a ``gs_data.json``
    gets its ``history.csv`` from the branch with today's row upserted.
    """
    files = dict(old)
    files.update(results)
    for path, data in results.items():
        if PurePosixPath(path).name != GS_DATA:
            continue
        folder = _folder(path)
        metrics = Metrics.from_gs_data(json.loads(data))
        rows = parse_history_csv(old.get(folder + HISTORY_FILE, b""))
        rows = upsert_row(rows, HistoryRow.from_metrics(today, metrics))
        files[folder + HISTORY_FILE] = render_history_csv(rows)
    return files


def _stable(path: str, data: bytes) -> Any:
    """What of a file counts as a change: timestamps and status do not (issue 3, point 2)."""
    name = PurePosixPath(path).name
    if name == GS_DATA:
        try:
            record = json.loads(data)
        except ValueError:
            return data
        if isinstance(record, dict):
            record.pop("updated", None)
        return record
    if name.endswith(".json"):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def only_volatile_changes(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> bool:
    """True when ``new`` differs from ``old`` only in timestamps, status and history.

    ``history.csv`` is derived from ``gs_data.json``, so a new day's row with the same numbers
    is not a change on its own.
    """
    def stable(files: Mapping[str, bytes]) -> dict[str, Any]:
        return {
            path: _stable(path, data) for path, data in files.items()
            if PurePosixPath(path).name not in (STATUS, HISTORY_FILE)
        }

    return stable(old) == stable(new)


def default_message(results: Mapping[str, bytes], today: str) -> str:
    authors = [json.loads(data) for path, data in results.items()
               if PurePosixPath(path).name == GS_DATA]
    if len(authors) == 1:
        return f"Scholar stats {today}: {authors[0].get('citedby')} citations"
    if authors:
        return f"Scholar stats {today}: {len(authors)} authors"
    return f"Scholar stats {today}: status only"


# ----------------------------------------------------------------------------- git parts


@dataclass(frozen=True)
class _Head:
    commit: str
    tree: str
    time: datetime
    files: dict[str, bytes]


class _Session:
    """Git in ``repo`` with objects going to a throwaway directory (see module docstring)."""

    def __init__(self, repo: Path, objects: Path) -> None:
        self.repo = repo
        top = git(repo, "rev-parse", "--absolute-git-dir").stdout.decode().strip()
        repo_objects = Path(top) / "objects"
        alternates = [str(repo_objects)]
        info = repo_objects / "info" / "alternates"
        if info.is_file():
            alternates += [line for line in info.read_text().splitlines() if line.strip()]
        env = dict(os.environ)
        env["GIT_OBJECT_DIRECTORY"] = str(objects)
        env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = os.pathsep.join(alternates)
        self.env = auth_env(env)
        self.index = objects / "index"

    def remote_url(self, remote: str) -> str:
        """The push URL of a configured remote, else ``remote`` itself (already a URL/path).

        Fetch and push go to the URL, not the name, so git does not update the repository's
        remote-tracking refs (they would point at objects that live only in the temp dir).
        """
        proc = self.run("remote", "get-url", "--push", "--", remote, check=False)
        url = proc.stdout.decode().strip()
        return url if proc.returncode == 0 and url else remote

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return git(self.repo, *args, env={**self.env, **(env or {})}, input=input, check=check)

    def out(self, *args: str, input: bytes | None = None,
            env: Mapping[str, str] | None = None) -> str:
        return self.run(*args, input=input, env=env).stdout.decode().strip()

    def remote_head(self, remote: str, branch: str) -> _Head | None:
        """The branch head on the remote, fetched into the throwaway object directory."""
        ref = f"refs/heads/{branch}"
        listing = self.out("ls-remote", "--", remote, ref)
        sha = next((line.split()[0] for line in listing.splitlines()
                    if line.split()[1:] == [ref]), None)
        if sha is None:
            return None
        self.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                 "--", remote, ref)
        if self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode != 0:
            # the branch moved between ls-remote and fetch: ask for the exact commit
            self.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", remote, sha)
        tree = self.out("rev-parse", f"{sha}^{{tree}}")
        when = datetime.fromtimestamp(int(self.out("show", "-s", "--format=%ct", sha)),
                                      tz=timezone.utc)
        return _Head(sha, tree, when, self.tree_files(tree))

    def tree_files(self, tree: str) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        listing = self.run("ls-tree", "-r", "-z", tree).stdout.split(b"\0")
        for entry in filter(None, listing):
            meta, path = entry.split(b"\t", 1)
            mode, kind, sha = meta.decode().split()
            if kind == "blob":
                files[path.decode()] = self.run("cat-file", "blob", sha).stdout
        return files

    def write_tree(self, files: Mapping[str, bytes]) -> str:
        """A tree holding ``files``, built in a temporary index (never the repository's)."""
        env = {"GIT_INDEX_FILE": str(self.index)}
        self.index.unlink(missing_ok=True)
        self.run("read-tree", "--empty", env=env)
        lines = []
        for path, data in sorted(files.items()):
            sha = self.out("hash-object", "-w", "--stdin", input=data)
            lines.append(f"100644 {sha}\t{path}\n")
        self.run("update-index", "--index-info", input="".join(lines).encode(), env=env)
        return self.out("write-tree", env=env)

    def commit(self, tree: str, parent: str | None, message: str, now: datetime) -> str:
        stamp = f"@{int(now.timestamp())} +0000"
        env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        if not os.environ.get("GIT_AUTHOR_NAME") and not self._config("user.name"):
            env.update(GIT_AUTHOR_NAME="scholar-stats", GIT_COMMITTER_NAME="scholar-stats")
        if not os.environ.get("GIT_AUTHOR_EMAIL") and not self._config("user.email"):
            env.update(GIT_AUTHOR_EMAIL="scholar-stats@users.noreply.github.com",
                       GIT_COMMITTER_EMAIL="scholar-stats@users.noreply.github.com")
        parents = ["-p", parent] if parent else []
        return self.run("commit-tree", tree, *parents, input=message.encode(), env=env
                        ).stdout.decode().strip()

    def _config(self, key: str) -> str:
        return self.run("config", "--get", key, check=False).stdout.decode().strip()

    def push(self, remote: str, branch: str, commit: str, expected: str | None,
             force: bool) -> tuple[bool, str]:
        """Push ``commit``; (True, "") on success, (retryable, reason) otherwise."""
        ref = f"refs/heads/{branch}"
        args = ["push", "--porcelain"]
        if force:
            args.append(f"--force-with-lease={ref}:{expected or ''}")
        proc = self.run(*args, "--", remote, f"{commit}:{ref}", check=False)
        if proc.returncode == 0:
            return True, ""
        text = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        retryable = "[rejected]" in text and any(word in text for word in _RETRYABLE)
        return False, ("retry" if retryable else _one_line(text))


# ----------------------------------------------------------------------------- the API


def publish(
    results_dir: Path,
    *,
    repo: Path = Path("."),
    branch: str = "google-scholar-stats",
    remote: str = "origin",
    message: str | None = None,
    squash: bool = False,
    now: datetime | None = None,
    attempts: int = MAX_ATTEMPTS,
    before_push: Callable[[int], None] | None = None,
) -> PublishResult:
    """Commit the files of ``results_dir`` to ``branch`` on ``remote`` and push it.

    Appends a commit (``squash``: one parentless commit). Skips when only timestamps and
    status changed and the head is younger than 7 days. A rejected push is re-applied on the
    new head, up to ``attempts`` times; then :class:`PublishFailed`. ``before_push(attempt)``
    is a test seam, called right before each push.
    """
    now = now or datetime.now(timezone.utc)
    today = now.astimezone(timezone.utc).date().isoformat()
    _check_branch(repo, branch)
    results = read_results(results_dir)
    msg = message or default_message(results, today)
    last_reason = ""
    with tempfile.TemporaryDirectory(prefix="scholar-stats-git-") as tmp:
        session = _Session(repo, Path(tmp))
        remote = session.remote_url(remote)
        for attempt in range(1, max(1, attempts) + 1):
            try:
                head = session.remote_head(remote, branch)
                files = build_tree_files(head.files if head else {}, results, today)
                tree = session.write_tree(files)
                if head is not None:
                    if tree == head.tree:
                        return PublishResult(False, False, head.commit, "nothing changed")
                    fresh = now - head.time < KEEPALIVE
                    if fresh and only_volatile_changes(head.files, files):
                        return PublishResult(
                            False, False, head.commit,
                            "only timestamps and status changed since the last commit",
                        )
                parent = None if squash or head is None else head.commit
                commit = session.commit(tree, parent, msg, now)
                if before_push is not None:
                    before_push(attempt)
                ok, why = session.push(remote, branch, commit,
                                       head.commit if head else None, force=squash)
            except GitError as exc:
                raise PublishFailed(f"publishing to {branch!r} failed: {exc}") from None
            if ok:
                return PublishResult(True, True, commit, f"pushed {commit[:12]} to {branch}")
            if why != "retry":
                raise PublishFailed(f"push to {branch!r} was refused: {why}")
            last_reason = "the branch kept moving (rejected as non-fast-forward)"
            log.info("push to %s rejected (attempt %d); re-applying on the new head",
                     branch, attempt)
    raise PublishFailed(
        f"push to {branch!r} failed after {attempts} attempts: {last_reason}; run it again"
    )


def read_branch(repo: Path, *, remote: str, branch: str) -> dict[str, bytes]:
    """The files at the tip of the remote branch ({} when it does not exist yet).

    The action seeds its results folder with them, so fetch's plausibility gate compares
    with the published data and the summary can show what changed.
    """
    _check_branch(repo, branch)
    with tempfile.TemporaryDirectory(prefix="scholar-stats-git-") as tmp:
        session = _Session(repo, Path(tmp))
        head = session.remote_head(session.remote_url(remote), branch)
        return head.files if head else {}


def _check_branch(repo: Path, branch: str) -> None:
    proc = git(repo, "check-ref-format", f"refs/heads/{branch}", check=False)
    if proc.returncode != 0 or branch.startswith("-"):
        raise UsageError(f"{branch!r} is not a valid branch name")


def cli_publish(args: Any) -> int:
    """Handler of ``scholar-stats publish`` (see cli.py); prints one line about the outcome."""
    result = publish(
        Path(args.dir), repo=Path(args.repo), branch=args.branch, remote=args.remote,
        message=args.message, squash=args.squash,
    )
    if result.pushed:
        print(f"published: {result.reason}")
    else:
        print(f"not published: {result.reason} (branch head {str(result.commit)[:12]})")
    return 0
