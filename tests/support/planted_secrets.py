"""The secrets a run is given (issue 17, class 3), and how the tests look for them: every output
and every file is searched for each; the servers echo them back through these doctors.

The SerpApi key is the fake SerpApi's ``KEY``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from support.fake_serpapi import KEY

SID = "SECRETSAAAAJ"
SCHOLAR_USER, SCHOLAR_PW = "scholar-user-a1", "scholar-pw-b2"
SERPAPI_USER, SERPAPI_PW = "serpapi-user-c3", "serpapi-pw-d4"
PROXY_USER, PROXY_PW = "proxy-user-e5", "proxy-pw-f6"
HOOK_PATH = "/hook/webhook-secret-g7"
DB_PW = "db-pw-h8"
TOKEN = "ghs_token-i9-0123456789abcdef"
SECRETS = (KEY, SCHOLAR_USER, SCHOLAR_PW, SERPAPI_USER, SERPAPI_PW, PROXY_USER, PROXY_PW,
           HOOK_PATH, DB_PW, TOKEN)
SCHOLAR_HOST = "scholar.example.invalid"  # reached only through the proxy
LOUD = {"SCHOLAR_STATS_DEBUG": "1", "SCHOLAR_STATS_BACKOFF": "0.05", "SCHOLAR_STATS_DELAY": "0",
        "SCHOLAR_STATS_TIMEOUT": "5", "GITHUB_TOKEN": TOKEN}


def files_under(*folders: Path) -> dict[str, str]:
    """Every file under ``folders`` (a SQLite store and its WAL included), as text."""
    return {str(path): path.read_bytes().decode("utf-8", "replace")
            for folder in folders for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_no_secret(texts: Iterable[str] | Mapping[str, str], secrets: Iterable[str] = SECRETS
                     ) -> None:
    named = texts if isinstance(texts, Mapping) else dict(enumerate(texts))
    for name, text in named.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {name}:\n{text[:3000]}"


def with_userinfo(url: str, user: str, password: str) -> str:
    return url.replace("://", f"://{user}:{password}@", 1)


def echo_secrets(user: str, html: str) -> str:
    """Scholar's page with the passwords and the key in the first title and a link."""
    echoed = f"{SCHOLAR_PW} {PROXY_PW} {KEY}"
    return html.replace('class="gsc_a_at">', f'class="gsc_a_at">{echoed} ', 1).replace(
        'href="/citations?', f'href="http://{SCHOLAR_USER}:{SCHOLAR_PW}@x.invalid/citations?', 1)


def echo_key(query: dict[str, str], page: dict[str, Any]) -> dict[str, Any]:
    """SerpApi's page with the key it was sent in the name, the affiliation, a title, a link
    and the pagination link."""
    key = query["api_key"]
    if "author" in page:
        page["author"]["name"] = f"Grace {key}"
        page["author"]["affiliations"] = f"{SERPAPI_PW} University, {key}"
    page["articles"][0]["title"] = f"On {key} and {SERPAPI_PW}"
    page["articles"][0]["link"] = f"https://serpapi.com/x?api_key={key}"
    if "serpapi_pagination" in page:
        page["serpapi_pagination"]["next"] += f"&api_key={key}"
    return page
