"""The text and structure rules every value from outside passes (a source's answer, a file in
``--out``, a row of the store). Pure.

Text keeps everything JSON, XML 1.0, SQL text and a terminal can carry; the rest is removed, never
refused (one stray byte in a paper's title must not cost a whole profile): C0 controls other than
tab, newline and carriage return (NUL among them: PostgreSQL's text cannot hold it), DEL and the
C1 controls (a terminal acts on some), lone surrogates (UTF-8 has no form for them, so neither a
file nor either database can take one) and the Unicode noncharacters (U+FFFE, U+FFFF, U+FDD0..
U+FDEF and their kin in every plane: XML refuses U+FFFE and U+FFFF).

Structure is bounded instead: a value nested deeper than ``MAX_DEPTH`` containers, or something
JSON has no form for, is refused (``ValueError``), so no reader of it ever recurses without end.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A profile record nests four containers deep (record > publications > publication > bib);
# the files fetch reads back (status.json, changes.json) three.
MAX_DEPTH = 8

# What is removed, and (second part) every character past U+1FFFD, among which the
# noncharacters of planes 1-16 (U+1FFFE, U+1FFFF, ... U+10FFFF) are picked out by ``_drop``: a
# class listing those 32 alone makes every search about ten times slower.
_SUSPECT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
    "|[\U0001fffe-\U0010ffff]")


def _drop(match: re.Match[str]) -> str:
    found = match.group()
    return found if ord(found) > 0xFFFF and ord(found) & 0xFFFE != 0xFFFE else ""


def clean_text(text: str) -> str:
    """``text`` without the characters JSON, XML, SQL text or a terminal cannot carry."""
    return _SUSPECT.sub(_drop, text)


def clean_json(value: Any, depth: int = 0) -> Any:
    """``value`` (as ``json.loads`` or a parser made it) with every text cleaned; dict keys are
    not changed (two would merge) but refused when they hold such a character. ``ValueError``
    saying what is wrong for a value nested more than ``MAX_DEPTH`` containers deep, a number
    that is not finite, or anything JSON has no form for."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, int):  # bool is an int
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"holds a number that is not finite ({value})")
        return value
    if depth >= MAX_DEPTH:
        raise ValueError(f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)) or (isinstance(key, str)
                                                   and clean_text(key) != key):
                raise ValueError(f"has a key that is not plain text or a whole number "
                                 f"({repr(key)[:40]})")
        return {key: clean_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(item, depth + 1) for item in value]
    raise ValueError(f"holds a {type(value).__name__}, which JSON has no form for")


def load_json(data: str | bytes) -> Any:
    """JSON read from outside, cleaned by ``clean_json``; ``ValueError`` saying why for anything
    that is not JSON or breaks the rules (nesting too deep for ``json`` itself included)."""
    try:
        value = json.loads(data)
    except ValueError:
        raise ValueError("not JSON") from None
    except RecursionError:
        raise ValueError("the JSON is nested too deeply to read") from None
    try:
        return clean_json(value)
    except ValueError as exc:
        raise ValueError(f"the JSON {exc}") from None


def repair_json(text: str) -> Any:
    """JSON this program wrote (a store row): its text repaired by ``clean_text`` (rows an older
    release wrote may hold what no longer gets in). Its shape was checked when it was written,
    so the value is walked only when the text holds an escape or a character to remove: most
    rows hold neither, and are read at ``json.loads``'s speed."""
    value = json.loads(text)
    if "\\u" in text or _SUSPECT.search(text):
        value = clean_json(value)
    return value
