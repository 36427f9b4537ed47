"""GitHub's REST API: starting a site's deploy workflow after its data were committed.

Why: a commit pushed with the workflow's ``GITHUB_TOKEN`` starts no other workflow (GitHub's
rule against loops), so a site whose deploy runs ``on: push`` would not rebuild. A
``workflow_dispatch`` event created through the API is the documented exception: it runs with
``GITHUB_TOKEN`` given ``actions: write``, so no personal token is needed.

The only code that talks to the API. One POST with a bounded timeout, no redirects followed, no
retry (the job runs again tomorrow); a refusal is one line naming the status and what to fix,
never the token (it travels in a header only, and ``redact`` masks it anyway).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx

from scholar_stats import __version__
from scholar_stats.core.text import log_safe
from scholar_stats.errors import PublishFailed, UsageError

DEFAULT_API_URL = "https://api.github.com"  # the runner's GITHUB_API_URL says it otherwise
TIMEOUT = 30.0  # seconds for the whole request: connect, send, wait, read
API_VERSION = "2022-11-28"
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# what to do about each refusal GitHub documents for this endpoint
_REMEDIES = {
    401: "the token was refused",
    403: "give the job `permissions: actions: write` (and `contents: write`)",
    404: "no such workflow in this repository: check the deploy-workflow input (a file name "
         "in .github/workflows)",
    422: "the workflow cannot be started by hand: add `workflow_dispatch:` to its `on:`",
}


class DispatchFailed(PublishFailed):
    """The deploy workflow could not be started; the data were committed all the same."""


def dispatch_url(api_url: str, repository: str, workflow: str) -> str:
    """``{api}/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches``."""
    if not _REPOSITORY.fullmatch(repository):
        raise UsageError(f"GITHUB_REPOSITORY should be owner/name, got {log_safe(repository)!r}")
    return (f"{api_url.rstrip('/')}/repos/{repository}/actions/workflows/"
            f"{quote(workflow, safe='')}/dispatches")


def _github_message(response: httpx.Response) -> str:
    """GitHub's own ``message`` of an error answer, shortened and made inert."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return log_safe(message[:200]) if isinstance(message, str) else ""


def dispatch_workflow(*, api_url: str, repository: str, workflow: str, ref: str,
                      token: str, timeout: float = TIMEOUT) -> None:
    """Start ``workflow`` (a file name in .github/workflows, or its id) on the branch ``ref``
    with a ``workflow_dispatch`` event; :class:`DispatchFailed` when GitHub refuses it or
    cannot be reached."""
    url = dispatch_url(api_url, repository, workflow)
    headers = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
               "X-GitHub-Api-Version": API_VERSION, "User-Agent": f"scholar-stats/{__version__}"}
    try:
        response = httpx.post(url, json={"ref": ref}, headers=headers, timeout=timeout,
                              follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DispatchFailed(f"could not start the workflow {workflow}: GitHub's API at "
                             f"{api_url} could not be reached ({type(exc).__name__})") from None
    if response.is_success:
        return
    said = _github_message(response)
    remedy = _REMEDIES.get(response.status_code, "see GitHub's status page, or run it again")
    raise DispatchFailed(
        f"could not start the workflow {workflow} on {ref}: GitHub answered "
        f"{response.status_code}" + (f" ({said})" if said else "") + f"; {remedy}")
