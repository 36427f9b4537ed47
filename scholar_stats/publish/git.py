"""Git plumbing for ``publish``: running git with a scrubbed environment and a credential helper,
and a session that builds commits in a temporary object directory and pushes them.

Why a credential helper in the environment: the token in ``GITHUB_TOKEN`` must never be in a
URL, an argument list, a message or ``.git/config``; git reads it from the environment itself.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from scholar_stats import redact
from scholar_stats.errors import ScholarStatsError, UsageError

log = logging.getLogger(__name__)


TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105  the variable's name, not a token


GIT_TIMEOUT = 300.0


REGULAR_MODES = ("100644", "100755")


# What a server says when the ref changed between its check and its update, or its lock was
# held by another push at that moment: git ("cannot lock ref", "failed to update ref"), GitHub
# ("incorrect old value provided"). Retried even when the branch did not visibly move.
LOCK_FAILURES = ("cannot lock ref", "failed to update ref", "failed to lock",
                  "incorrect old value")


# git's own answers for a ref that moved, seen before the update: the advertised head differs
# from the one the commit was built on.
MOVED_ANSWERS = ("non-fast-forward", "fetch first", "stale info", "already exists",
          "remote ref updated since checkout")


# Branch names git accepts that would name something else when read back (git rev-parse looks
# in $GIT_DIR, refs/, refs/tags/, refs/heads/, refs/remotes/ in that order).
_SHADOWED_PREFIXES = ("refs/", "heads/", "tags/", "remotes/")


_PSEUDO_REF = re.compile(r"[A-Z_]*HEAD")


_OBJECT_ID = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


# git runs this itself; the shell expands the variable, so the token is in no argv or file.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || return 0; echo username=x-access-token; '
    f'echo "password=${TOKEN_ENV}"; }}; f'
)


class GitError(ScholarStatsError):
    """A git command failed; the message is one line and scrubbed of secrets."""


def scrub(text: str) -> str:
    """``text`` with the token, any URL credentials and every other secret ``redact`` knows
    replaced by ``***`` (the tokens git reads are remembered first)."""
    redact.remember(os.environ.get(name) for name in redact.TOKEN_VARIABLES)
    return redact.redact(text)


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


def is_local_url(url: str) -> bool:
    """git's own rule (connect.c): a path, or file://; ``host:path`` and ``scheme://`` are not."""
    if url.startswith("file://"):
        return True
    if "://" in url:
        return False
    colon, slash = url.find(":"), url.find("/")
    return colon < 0 or 0 <= slash < colon


def safe_path(path: str) -> bool:
    """A tree path that stays inside a folder when written to disk (the Action does that)."""
    parts = path.split("/")
    return not path.startswith("/") and all(
        part not in ("", ".", "..") and part.lower() != ".git" for part in parts)


@dataclass(frozen=True)
class Head:
    """The branch tip: every entry of its tree (path → mode, object) and the bytes of its
    regular files. Entries that are not regular files (symlinks, submodules) are kept as they
    are but never read or written to disk."""

    commit: str
    tree: str
    time: datetime
    entries: dict[str, tuple[str, str]]
    files: dict[str, bytes] = field(repr=False)


@dataclass(frozen=True)
class Pushed:
    """A push's answer for our ref: ``ok``; else git's reason and whether to re-apply."""

    ok: bool
    retry: bool = False
    reason: str = ""


class GitSession:
    """Git in ``repo`` with objects going to a throwaway directory (see module docstring)."""

    def __init__(self, repo: Path, objects: Path) -> None:
        self.repo = repo
        top = Path(git_dir(repo))
        repo_objects = top / "objects"
        alternates = [str(repo_objects)]
        info = repo_objects / "info" / "alternates"
        if info.is_file():
            alternates += [str(repo_objects / line.strip())
                           for line in info.read_text().splitlines() if line.strip()]
        env = dict(os.environ)
        env["GIT_OBJECT_DIRECTORY"] = str(objects)
        env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = os.pathsep.join(alternates)
        self.env = auth_env(env)
        self.scratch = objects
        self.index = objects / "index"

    def remote_url(self, remote: str) -> str:
        """The push URL of a configured remote, else ``remote`` itself if it is a URL or a
        path git can use; a name that is neither is a usage error.

        Fetch and push go to the URL, not the name, so git does not update the repository's
        remote-tracking refs (they would point at objects that live only in the temp dir).
        """
        proc = self.run("remote", "get-url", "--push", "--", remote, check=False)
        url = proc.stdout.decode().strip()
        if proc.returncode == 0 and url:
            return url
        if not is_local_url(remote) or remote.startswith("file://"):
            return remote
        if Path(remote).exists():  # a path, relative to where the command runs
            return str(Path(remote).absolute())
        if "/" in remote or os.sep in remote:
            raise UsageError(f"the remote {remote} does not exist (--remote: a remote's name, "
                             "a URL or the path of a repository)")
        raise UsageError(f"{self.repo} has no remote named {remote!r} (`git remote -v` lists "
                         "them; --remote also takes a URL or the path of a repository)")

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return git(self.repo, *args, env={**self.env, **(env or {})}, input=input, check=check)

    def out(self, *args: str, input: bytes | None = None,
            env: Mapping[str, str] | None = None) -> str:
        return self.run(*args, input=input, env=env).stdout.decode().strip()

    def remote_sha(self, remote: str, branch: str) -> str | None:
        """Where the branch is on the remote now (None: it does not exist)."""
        ref = f"refs/heads/{branch}"
        proc = self.run("ls-remote", "--", remote, ref, check=False)
        if proc.returncode != 0:
            text = _one_line(proc.stderr.decode(errors="replace"))
            if is_local_url(remote):  # a path: nothing transient about it
                raise UsageError(f"the remote {scrub(remote)!r} is not a git repository "
                                 f"that can be read: {text}")
            raise GitError(f"git ls-remote failed: {text}")
        return next((line.split()[0] for line in proc.stdout.decode().splitlines()
                     if line.split()[1:] == [ref]), None)

    def remote_head(self, remote: str, branch: str) -> Head | None:
        """The branch head on the remote, fetched into the throwaway object directory."""
        sha = self.remote_sha(remote, branch)
        if sha is None:
            return None
        self.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
                 "--no-recurse-submodules", "--", remote, f"refs/heads/{branch}")
        if self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode != 0:
            # the branch moved between ls-remote and fetch: ask for the exact commit
            self.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", remote, sha)
        tree, stamp = self.out("show", "-s", "--format=%T %ct", sha).split()
        when = datetime.fromtimestamp(int(stamp), tz=timezone.utc)
        entries = self.tree_entries(tree)
        regular = {path: sha for path, (mode, sha) in entries.items()
                   if mode in REGULAR_MODES and safe_path(path)}
        return Head(sha, tree, when, entries, self.read_blobs(regular))

    def tree_entries(self, tree: str) -> dict[str, tuple[str, str]]:
        entries: dict[str, tuple[str, str]] = {}
        for entry in filter(None, self.run("ls-tree", "-r", "-z", tree).stdout.split(b"\0")):
            meta, path = entry.split(b"\t", 1)
            mode, _kind, sha = meta.decode().split()
            entries[os.fsdecode(path)] = (mode, sha)
        return entries

    def read_blobs(self, shas: Mapping[str, str]) -> dict[str, bytes]:
        """path → bytes of each blob, read by one ``git cat-file --batch``."""
        order = sorted(set(shas.values()))
        if not order:
            return {}
        output = self.run("cat-file", "--batch", input="".join(f"{sha}\n" for sha in order)
                          .encode()).stdout
        blobs: dict[str, bytes] = {}
        at = 0
        for sha in order:
            header_end = output.index(b"\n", at)
            size = int(output[at:header_end].split()[2])
            blobs[sha] = output[header_end + 1 : header_end + 1 + size]
            at = header_end + 1 + size + 1
        return {path: blobs[sha] for path, sha in shas.items()}

    def write_tree(self, files: Mapping[str, bytes], head: Head | None) -> str:
        """A tree holding ``files`` plus the head's entries ``files`` does not name, built in a
        temporary index (never the repository's). Entries kept from the head keep their mode
        and object; only new or changed files are hashed, in one ``git hash-object``."""
        old = head.entries if head else {}
        kept = {path: entry for path, entry in old.items() if path not in files}
        changed = [path for path in sorted(files)
                   if path not in old or old[path][0] not in REGULAR_MODES
                   or (head is not None and head.files.get(path) != files[path])]
        reused = {path: old[path] for path in files if path not in changed}
        blobs = self.scratch / "blobs"
        blobs.mkdir(exist_ok=True)
        for number, path in enumerate(changed):
            (blobs / str(number)).write_bytes(files[path])
        listing = "".join(f"{blobs / str(n)}\n" for n in range(len(changed)))
        hashed = self.out("hash-object", "-w", "--no-filters", "--stdin-paths",
                          input=listing.encode()).split() if changed else []
        entries = {**kept, **reused, **{path: ("100644", sha)
                                        for path, sha in zip(changed, hashed, strict=True)}}
        env = {"GIT_INDEX_FILE": str(self.index)}
        self.index.unlink(missing_ok=True)
        self.run("read-tree", "--empty", env=env)
        info = b"".join(f"{mode} {sha}\t".encode() + os.fsencode(path) + b"\0"
                        for path, (mode, sha) in sorted(entries.items()))
        self.run("update-index", "-z", "--index-info", input=info, env=env)
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
             force: bool) -> Pushed:
        """Push ``commit`` over ``expected`` (the head it was built on) and classify the answer.

        Judged by facts first: git's porcelain status line for our ref says whether the push
        was refused; asking the remote where the branch is now says whether it moved. A
        refusal is retried when the branch moved, or when git names a "branch moved" or a
        lock failure (another push held the ref at that moment); anything else (a hook, a
        protected branch, no permission, no network) is final.
        """
        ref = f"refs/heads/{branch}"
        args = ["push", "--porcelain"]
        if force:
            args.append(f"--force-with-lease={ref}:{expected or ''}")
        proc = self.run(*args, "--", remote, f"{commit}:{ref}", check=False)
        stdout = proc.stdout.decode(errors="replace")
        stderr = proc.stderr.decode(errors="replace")
        if proc.returncode == 0:
            return Pushed(True)
        try:
            now: str | None = self.remote_sha(remote, branch)
        except GitError:  # unreachable now: judge by what the push said
            now = expected
        if now == commit:  # the remote took it; only the answer was lost
            return Pushed(True)
        status = _porcelain_status(stdout, ref)
        if status is None or status[0] != "!":  # no answer for our ref: the transport failed
            raise GitError(f"git push failed: {_one_line(stderr + stdout)}")
        reason = re.sub(r"^\[(.*?)\]\s*\((.*)\)$", r"\1: \2", status[1])  # [x] (y) -> x: y
        detail = _remote_detail(stderr)
        shown = f"{reason}; the remote said: {detail}" if detail else reason
        text = f"{reason} {detail}".lower()
        moved = now != expected or any(word in text for word in MOVED_ANSWERS + LOCK_FAILURES)
        return Pushed(False, moved, scrub(shown))


def _porcelain_status(stdout: str, ref: str) -> tuple[str, str] | None:
    """(flag, summary) from ``git push --porcelain``'s line for ``ref``: ``!`` is refused,
    the summary e.g. ``[remote rejected] (failed to update ref)``."""
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].rpartition(":")[2] == ref:
            return parts[0], parts[2].strip()
    return None


def _remote_detail(stderr: str) -> str:
    """The server's own error line (``remote: error: cannot lock ref ...``), if it sent one."""
    for line in scrub(stderr).splitlines():
        text = line.strip()
        if text.startswith("remote:") and text[len("remote:"):].strip():
            return text[len("remote:"):].strip()[:300]
    return ""


def git_dir(repo: Path) -> str:
    """The repository's git dir; a missing folder, a file or a non-repository is named."""
    if not repo.exists():
        raise UsageError(f"{repo} does not exist (--repo: the git repository to publish from)")
    if not repo.is_dir():
        raise UsageError(f"{repo} is not a folder (--repo: the git repository to publish from)")
    proc = git(repo, "rev-parse", "--absolute-git-dir", check=False)
    if proc.returncode != 0:
        raise UsageError(f"{repo} is not a git repository (--repo: a clone of the repository "
                         "to publish to)")
    return proc.stdout.decode().strip()


def checked_out_branch(repo: Path, ref: str = "") -> str | None:
    """The branch checked out in ``repo`` (``git symbolic-ref HEAD``); on a detached HEAD, the
    branch of ``ref`` when it names one (``refs/heads/NAME``, the runner's GITHUB_REF); else
    None."""
    git_dir(repo)
    proc = git(repo, "symbolic-ref", "--quiet", "HEAD", check=False)
    full = proc.stdout.decode(errors="replace").strip() if proc.returncode == 0 else ref
    return full.removeprefix("refs/heads/") if full.startswith("refs/heads/") else None


def check_branch(branch: str) -> None:
    """Refuse names git refuses (``git check-ref-format --branch``) and names git accepts but
    that would be read back as something else (``HEAD``, ``@``, ``refs/...``, ``tags/...``,
    ``FETCH_HEAD``, an object id) or taken for an option (``-x``)."""
    shown = repr(branch)
    if not branch or branch.startswith("-"):
        raise UsageError(f"{shown} is not a valid branch name")
    if branch == "@" or _PSEUDO_REF.fullmatch(branch) or _OBJECT_ID.fullmatch(branch) or (
            branch.startswith(_SHADOWED_PREFIXES)):
        raise UsageError(f"{shown} is an ambiguous branch name: git would read it back as "
                         "another ref or object; choose a plain name like google-scholar-stats")
    proc = git(Path(tempfile.gettempdir()), "check-ref-format", "--branch", branch, check=False)
    if proc.returncode != 0 or proc.stdout.decode().strip() != branch:  # e.g. @{-1} expanded
        raise UsageError(f"{shown} is not a valid branch name (see `git check-ref-format`)")
