"""What ``action.yml`` runs: seed, fetch, publish, summarise, decide the job's exit code.

Why Python and not a shell script: the exit-code policy (a blocked day is normal on hosted
runners) and the summary are easy to get wrong in bash and easy to test here. action.yml maps
its inputs to the variables of the declared settings (``config``: the ``action`` ones here,
``SCHOLAR_IDS``, ``FAIL_ON_BLOCK``, ``SCHOLAR_STATS_BRANCH`` ..., and ``fetch``'s, read by the
fetch it runs); nothing from an input is ever pasted into a script. The runner's own variables
(GITHUB_WORKSPACE, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, RUNNER_TEMP) are not settings.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from scholar_stats import config, redact
from scholar_stats.commands.runner import run, usage_error
from scholar_stats.core.text import log_safe
from scholar_stats.errors import Blocked, ScholarStatsError, UsageError
from scholar_stats.files import write_files
from scholar_stats.outputs.summary import render_summary, reports_from_files
from scholar_stats.publish.branch import publish, read_branch
from scholar_stats.publish.git import scrub
from scholar_stats.publish.results import read_results
from scholar_stats.sources.registry import noted_titles


def annotation(level: str, title: str, message: str) -> str:
    """A workflow command line (``::warning title=..::..``), escaped so input cannot inject."""
    def esc(text: str, extra: str = "") -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        for char in extra:
            text = text.replace(char, {":": "%3A", ",": "%2C"}[char])
        return text

    return f"::{level} title={esc(title, ':,')}::{esc(scrub(message))}"


@contextmanager
def commands_paused() -> Iterator[None]:
    """GitHub's ``::stop-commands::<token>`` … ``::<token>::`` around output that quotes
    Scholar: the runner acts on no workflow command in between, whatever got past
    :func:`log_safe`. The token is random, so no scraped text can end the pause. action.yml
    sends stderr into stdout, so the pause covers both, in order."""
    token = secrets.token_hex(16)
    sys.stderr.flush()
    print(f"::stop-commands::{token}", flush=True)
    try:
        yield
    finally:
        sys.stderr.flush()
        print(f"::{token}::", flush=True)


def parse_ids(text: str) -> list[str]:
    """The ``scholar-id`` input's entries, split at spaces, commas and newlines (a profile URL
    holds none of them): each an id or a profile URL, read by ``fetch`` as its arguments are."""
    return [part for part in re.split(r"[\s,]+", text) if part]


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def _fetch(ids: list[str], out: Path) -> int:
    """``scholar-stats fetch --out OUT -- IDS`` in this process, run as the command line runs
    it (``commands.runner``): its settings from the environment, the ids as given (one may
    start with '-'). A usage error (a bad deadline input, a malformed id) is its exit code,
    not an exit: the kept data is still published and summarised."""
    redact.remember(redact.argv_secrets(ids))  # an id may be a pasted URL with a password
    try:
        settings = config.resolve("fetch", {"out": str(out)})
    except UsageError as exc:
        return usage_error(str(exc))
    args = argparse.Namespace(command="fetch", scholar_ids=ids, **settings)
    return run(args, "scholar_stats.commands.fetch:cli_fetch")


def run_action(env: Mapping[str, str]) -> int:
    """The whole job step; returns the exit code the step should end with.

    Everything that may print scraped text runs with workflow commands paused; the action's
    own annotations are printed after, escaped as GitHub documents.
    """
    try:  # the repository defaults to the workflow's workspace
        settings = config.resolve("action", environ=env,
                                  defaults={"repo": env.get("GITHUB_WORKSPACE") or None})
    except ScholarStatsError as exc:
        print(annotation("error", "scholar-stats", str(exc)))
        return exc.exit_code
    ids = parse_ids(settings["scholar_id"])
    if not ids:
        print(annotation("error", "scholar-stats", "no Scholar id: set the scholar-id input "
                         "(e.g. from the secret GOOGLE_SCHOLAR_ID)"))
        return 2
    repo, branch, remote = Path(settings["repo"]), settings["branch"], settings["remote"]
    out = Path(tempfile.mkdtemp(prefix="scholar-stats-", dir=env.get("RUNNER_TEMP") or None))
    _append(env.get("GITHUB_OUTPUT"), f"results-dir={out}\n")
    notes: list[str] = []  # annotations, printed once commands are on again

    with commands_paused():
        try:
            previous = read_branch(repo, remote=remote, branch=branch)
        except ScholarStatsError as exc:
            notes.append(annotation("warning", "scholar-stats", f"could not read {branch}: {exc}"))
            previous = {}
        write_files(out, previous)

        fetch_code = _fetch(ids, out)
        published = False
        try:
            result = publish(
                out, repo=repo, branch=branch, remote=remote,
                message=settings["message"],
                warn=lambda text: notes.append(annotation("warning", "scholar-stats publish",
                                                          text)),
            )
            published = result.pushed
            outcome = ("published " if result.pushed else "not published: ") + result.reason
            publish_code = 0
        except ScholarStatsError as exc:
            outcome, publish_code = f"publish failed: {exc}", exc.exit_code
            notes.append(annotation("error", "scholar-stats publish", str(exc)))
        try:
            current = read_results(out, warn=lambda text: None)  # publish warned already
        except ScholarStatsError:  # nothing at all to show (a malformed id on a first run)
            current = {}
    _append(env.get("GITHUB_OUTPUT"),
            f"published={str(published).lower()}\nfetch-exit-code={fetch_code}\n")

    if fetch_code == Blocked.exit_code:
        outcome += "; Scholar blocked this run, the previous data was kept"
        notes.append(annotation("warning", "Scholar blocked the fetch",
                                "previous data kept; see 'When Scholar blocks you' in the "
                                "documentation (docs/blocking.md) for a proxy, a self-hosted "
                                "runner, the live service or SerpApi (the serpapi-key input)"))
    elif fetch_code:
        outcome += f"; fetch failed (exit {fetch_code}), the previous data was kept"
        notes.append(annotation("error", "scholar-stats fetch",
                                f"fetch failed with exit {fetch_code}; previous data kept "
                                "(see the log above)"))
    summary = render_summary(reports_from_files(previous, current), outcome, noted_titles())
    _append(env.get("GITHUB_STEP_SUMMARY"), scrub(summary))
    for note in notes:
        print(note)
    print(log_safe(scrub(outcome)))

    if publish_code:
        return publish_code
    if fetch_code == Blocked.exit_code:
        return fetch_code if settings["fail_on_block"] else 0
    return fetch_code


def main() -> int:
    # line buffering keeps the log in order; stdout is a TextIOWrapper, typed as TextIO
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        return run_action(os.environ)
    except ScholarStatsError as exc:
        print(annotation("error", "scholar-stats", str(exc)))
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
