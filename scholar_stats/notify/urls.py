"""Webhook URLs: checked without ever being echoed (each is a secret), named by host only,
and told apart (Slack, Discord, anything else). Standard library only: the CLI parses
``--notify`` with these before any command module is imported."""

from __future__ import annotations

from urllib.parse import urlsplit


def parse_webhook_url(text: str) -> str:
    """An http(s) URL with a host. The message never echoes it: the URL is a secret."""
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("not a valid URL (not shown: a webhook URL is a secret)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host (not shown: a "
                         "webhook URL is a secret)")
    return text.strip()


def parse_webhook_urls(text: str) -> list[str]:
    """``SCHOLAR_STATS_NOTIFY``: URLs separated by commas or whitespace."""
    items = [item for item in text.replace(",", " ").split() if item]
    urls = []
    for number, item in enumerate(items, 1):
        try:
            urls.append(parse_webhook_url(item))
        except ValueError as exc:
            raise ValueError(f"URL #{number}: {exc}") from None
    return urls


def webhook_style(url: str) -> str:
    """``slack``, ``discord`` or ``json``: the payload format the receiver understands."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if host in ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com") \
            and parts.path.startswith("/api/webhooks/"):
        return "discord"
    return "json"


def target_name(number: int, url: str) -> str:
    """How a webhook is named in logs and reports: never its path or query (the secret)."""
    return f"webhook #{number} ({(urlsplit(url).hostname or '?').lower()})"
