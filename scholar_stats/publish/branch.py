"""``scholar-stats publish``: commit a results folder to a git branch and push it.

Why plumbing: the command runs inside a user's checkout (a GitHub Actions workspace), so it
must never touch the working tree, the index, HEAD or the current branch. Every object it
writes (fetched commits, new blobs, trees and commits) goes into a temporary object directory
that borrows the repository's objects as an alternate, so even a failed run leaves the
repository byte for byte as it was. Only the remote branch changes.

The git plumbing is in ``git.py``; which files go to the branch, in ``results.py``.
"""

from __future__ import annotations

import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from scholar_stats.errors import PublishFailed
from scholar_stats.publish.git import (
    GitError,
    GitSession,
    Head,
    check_branch,
    git_dir,
    safe_path,
)
from scholar_stats.publish.results import (
    build_tree_files,
    check_results,
    default_message,
    only_volatile_changes,
    read_results,
)

log = logging.getLogger(__name__)


MAX_ATTEMPTS = 10  # pushes per run; ten runs racing on one branch all land (tested)


RETRY_SECONDS = 60.0  # no new attempt starts later than this after the first


BACKOFF_SECONDS = 0.25  # first wait before a retry, doubled each time, jittered, capped


BACKOFF_CAP = 5.0


KEEPALIVE = timedelta(days=7)  # commit anyway when the head is older: the data is alive


@dataclass(frozen=True)
class PublishResult:
    """What a publish did; ``commit`` is the branch head afterwards (None if there is none)."""

    committed: bool
    pushed: bool
    commit: str | None
    reason: str


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
    warn: Callable[[str], None] | None = None,
) -> PublishResult:
    """Commit the files of ``results_dir`` to ``branch`` on ``remote`` and push it.

    Appends a commit (``squash``: one parentless commit). Skips when only timestamps and
    status changed and the head is younger than 7 days. A push refused because the branch
    moved is re-applied on the new head, up to ``attempts`` times and for at most
    ``RETRY_SECONDS``, with jittered backoff so racing runs spread out; then
    :class:`PublishFailed`. ``warn`` hears about skipped entries of the folder.
    ``before_push(attempt)`` is a test seam, called right before each push.
    """
    now = now or datetime.now(timezone.utc)
    today = now.astimezone(timezone.utc).date().isoformat()
    check_branch(branch)
    git_dir(repo)
    results = read_results(results_dir, warn)
    check_results(results_dir, results)
    msg = message or default_message(results, today)
    with tempfile.TemporaryDirectory(prefix="scholar-stats-git-") as tmp:
        session = GitSession(repo, Path(tmp))

        def plan(head: Head | None) -> PublishResult | tuple[str, str | None]:
            files = build_tree_files(head.files if head else {}, results, today)
            tree = session.write_tree(files, head)
            if head is not None:
                if tree == head.tree:
                    return PublishResult(False, False, head.commit, "nothing changed")
                fresh = now - head.time < KEEPALIVE
                if fresh and only_volatile_changes(head.files, files):
                    return PublishResult(
                        False, False, head.commit,
                        "only timestamps and status changed since the last commit",
                    )
            return tree, None if squash or head is None else head.commit

        return _commit_and_push(session, session.remote_url(remote), branch, plan, msg, now,
                                force=squash, attempts=attempts, before_push=before_push)


def push_files(
    files: Mapping[str, bytes],
    *,
    repo: Path,
    branch: str,
    remote: str = "origin",
    message: str,
    now: datetime | None = None,
    attempts: int = MAX_ATTEMPTS,
    before_push: Callable[[int], None] | None = None,
) -> PublishResult:
    """Commit ``files`` (path in the tree -> bytes) on top of ``branch`` on ``remote`` and push,
    every other file of the branch kept: the Action's site data, committed to the branch the
    site is built from. Nothing is committed when the branch already holds them. The branch
    must exist; the working tree, index and HEAD of ``repo`` are never touched, as for
    :func:`publish`, and a push racing another is re-applied on the new head the same way."""
    now = now or datetime.now(timezone.utc)
    check_branch(branch)
    git_dir(repo)
    unsafe = sorted(path for path in files if not safe_path(path))
    if unsafe:
        raise PublishFailed(f"refusing to commit {unsafe[0]!r}: not a path inside the tree")
    with tempfile.TemporaryDirectory(prefix="scholar-stats-git-") as tmp:
        session = GitSession(repo, Path(tmp))

        def plan(head: Head | None) -> PublishResult | tuple[str, str | None]:
            if head is None:
                raise PublishFailed(f"the branch {branch!r} does not exist on the remote")
            tree = session.write_tree(files, head)
            if tree == head.tree:
                return PublishResult(False, False, head.commit, "nothing changed")
            return tree, head.commit

        return _commit_and_push(session, session.remote_url(remote), branch, plan, message,
                                now, force=False, attempts=attempts, before_push=before_push)


def _commit_and_push(
    session: GitSession,
    remote: str,
    branch: str,
    plan: Callable[[Head | None], PublishResult | tuple[str, str | None]],
    message: str,
    now: datetime,
    *,
    force: bool,
    attempts: int,
    before_push: Callable[[int], None] | None,
) -> PublishResult:
    """The push loop of :func:`publish` and :func:`push_files`: ``plan(head)`` says, for the
    branch's head as it is now, either that there is nothing to push (a result) or the tree to
    commit and its parent. A push refused because the branch moved is re-planned on the new
    head, up to ``attempts`` times and for at most ``RETRY_SECONDS``, with jittered backoff so
    racing runs spread out; then :class:`PublishFailed`."""
    last_reason = ""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            head = session.remote_head(remote, branch)
            planned = plan(head)
            if isinstance(planned, PublishResult):
                return planned
            tree, parent = planned
            commit = session.commit(tree, parent, message, now)
            if before_push is not None:
                before_push(attempt)
            pushed = session.push(remote, branch, commit, head.commit if head else None,
                                  force=force)
        except GitError as exc:
            raise PublishFailed(f"publishing to {branch!r} failed: {exc}") from None
        if pushed.ok:
            return PublishResult(True, True, commit, f"pushed {commit[:12]} to {branch}")
        if not pushed.retry:
            raise PublishFailed(f"push to {branch!r} was refused: {pushed.reason}")
        last_reason = pushed.reason
        wait = random.uniform(0, min(BACKOFF_CAP, BACKOFF_SECONDS * 2 ** attempt))
        if attempt >= attempts or time.monotonic() - started + wait > RETRY_SECONDS:
            break
        log.info("push to %s refused (%s), attempt %d; re-applying on the new head in "
                 "%.1f s", branch, last_reason, attempt, wait)
        time.sleep(wait)  # backoff, so runs racing on the branch stop colliding
    raise PublishFailed(
        f"push to {branch!r} failed after {attempt} attempts in "
        f"{time.monotonic() - started:.0f} s: the branch kept moving ({last_reason}); "
        "run it again"
    )


def read_branch(repo: Path, *, remote: str, branch: str) -> dict[str, bytes]:
    """The regular files at the tip of the remote branch ({} when it does not exist yet).

    The action seeds its results folder with them, so fetch's plausibility gate compares
    with the published data and the summary can show what changed. Paths that would leave
    the folder are not returned.
    """
    check_branch(branch)
    git_dir(repo)
    with tempfile.TemporaryDirectory(prefix="scholar-stats-git-") as tmp:
        session = GitSession(repo, Path(tmp))
        head = session.remote_head(session.remote_url(remote), branch)
        return head.files if head else {}


def cli_publish(args: Any) -> int:
    """Handler of ``scholar-stats publish`` (see cli.py); prints one line about the outcome,
    after one warning line per entry of DIR that was skipped."""
    def warn(text: str) -> None:
        print(f"scholar-stats: warning: {text}", file=sys.stderr)

    result = publish(
        Path(args.dir), repo=Path(args.repo), branch=args.branch, remote=args.remote,
        message=args.message, squash=args.squash, warn=warn,
    )
    if result.pushed:
        print(f"published: {result.reason}")
    else:
        print(f"not published: {result.reason} (branch head {str(result.commit)[:12]})")
    return 0
