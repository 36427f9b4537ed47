"""shields.io's endpoint schema as a check: what its endpoint badge accepts from a JSON answer.

Written from shields' own validation (``services/endpoint-common.js`` in badges/shields: a Joi
object with unknown keys refused) and its documentation (https://shields.io/endpoint); the
same rules as docs/architecture.md, "Shields endpoint files". Shields refuses the whole badge
("invalid properties") for any break of these rules, so every endpoint file and every answer of
the service's endpoint routes must pass.
"""

from __future__ import annotations

import re
from typing import Any

# Shields keeps every endpoint badge at least this long, whatever ``cacheSeconds`` asks (its
# endpoint service's cache length); the schema itself takes any integer from 0.
SHIELDS_MIN_CACHE_SECONDS = 300
STYLES = frozenset({"flat", "flat-square", "plastic", "for-the-badge", "social"})
# badge-maker's named colours and aliases (``badge-maker/lib/color.js``).
NAMED_COLORS = frozenset({
    "brightgreen", "green", "yellow", "yellowgreen", "orange", "red", "blue", "grey",
    "lightgrey", "gray", "lightgray", "critical", "important", "success", "informational",
    "inactive",
})
_HEX = re.compile(r"#?(?:[0-9a-fA-F]{3}){1,2}")
_STRINGS = ("color", "labelColor", "namedLogo", "logoSvg", "style")
_WITH_NAMED_LOGO = ("logoColor", "logoSize")  # strings, only with namedLogo
_WITH_ANY_LOGO = ("logoWidth", "logoPosition")  # numbers, only with a logo
KEYS = frozenset({"schemaVersion", "label", "message", "isError", "cacheSeconds", *_STRINGS,
                  *_WITH_NAMED_LOGO, *_WITH_ANY_LOGO})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def endpoint_problems(obj: Any) -> list[str]:
    """What shields would refuse in ``obj`` (a decoded endpoint answer); empty when valid."""
    if not isinstance(obj, dict):
        return [f"not an object: {type(obj).__name__}"]
    problems = [f"unknown key {key!r}" for key in sorted(set(obj) - KEYS)]
    if not (_is_int(obj.get("schemaVersion")) and obj["schemaVersion"] == 1):
        problems.append(f"schemaVersion must be the number 1, got {obj.get('schemaVersion')!r}")
    if not isinstance(obj.get("label"), str):  # "" is allowed: no left side
        problems.append(f"label must be a string, got {obj.get('label')!r}")
    message = obj.get("message")
    if not (isinstance(message, str) and message):
        problems.append(f"message must be a non-empty string, got {message!r}")
    for key in _STRINGS:  # Joi.string(): a non-empty string
        if key in obj and not (isinstance(obj[key], str) and obj[key]):
            problems.append(f"{key} must be a non-empty string, got {obj[key]!r}")
    if "isError" in obj and not isinstance(obj["isError"], bool):
        problems.append(f"isError must be a boolean, got {obj['isError']!r}")
    if "cacheSeconds" in obj and not (_is_int(obj["cacheSeconds"]) and obj["cacheSeconds"] >= 0):
        problems.append(f"cacheSeconds must be an integer >= 0, got {obj['cacheSeconds']!r}")
    if "namedLogo" in obj and "logoSvg" in obj:
        problems.append("namedLogo and logoSvg together")
    for key in _WITH_NAMED_LOGO:
        if key in obj and not ("namedLogo" in obj and isinstance(obj[key], str)):
            problems.append(f"{key} must be a string, and only with namedLogo")
    for key in _WITH_ANY_LOGO:
        if key in obj and not (("namedLogo" in obj or "logoSvg" in obj)
                               and _is_number(obj[key])):
            problems.append(f"{key} must be a number, and only with a logo")
    if isinstance(obj.get("style"), str) and obj["style"] not in STYLES:
        problems.append(f"style {obj['style']!r} is not one of shields' styles")
    color = obj.get("color")  # a colour shields cannot read falls back to its grey: refused here
    if isinstance(color, str) and color not in NAMED_COLORS and not _HEX.fullmatch(color):
        problems.append(f"color {color!r} is neither a shields name nor hex")
    return problems


def assert_shields_endpoint(obj: Any, where: str = "") -> None:
    """Fails naming every rule ``obj`` breaks."""
    problems = endpoint_problems(obj)
    assert not problems, f"{where}: {problems} in {obj!r}"
