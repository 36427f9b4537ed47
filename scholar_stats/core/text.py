"""The rules for text from outside (a name, an affiliation, a title): how it is cleaned when it
comes in, and how it is shown where it must not act. Pure functions.

Cleaning (:func:`clean_text`, :func:`clean_json`, :func:`load_json`): every value from outside (a
source's answer, a file in ``--out``, a row of the store) keeps everything JSON, XML 1.0, SQL text
and a terminal can carry; the rest is removed, never refused (one stray byte in a paper's title
must not cost a whole profile): C0 controls other than tab, newline and carriage return (NUL among
them: PostgreSQL's text cannot hold it), DEL and the C1 controls (a terminal acts on some), lone
surrogates (UTF-8 has no form for them, so neither a file nor either database can take one) and
the Unicode noncharacters (U+FFFE, U+FFFF, U+FDD0..U+FDEF and their kin in every plane: XML
refuses U+FFFE and U+FFFF). Structure is bounded instead: a value nested deeper than
``MAX_DEPTH`` containers, or something JSON has no form for, is refused (``ValueError``), so no
reader of it ever recurses without end.

Showing (:func:`log_safe`, :func:`json_safe`, :func:`without_bidi`): the files that carry data
keep text as it came (``gs_data.json``, ``changes.json``). Where it is shown, it must not act. On a
terminal or in a log, ESC and the other control characters move the cursor, clear the screen or
set the window title, a line separator breaks a line, a zero-width or bidi character hides or
reorders text, and a GitHub runner acts on a line starting with ``::`` and on ``##[`` anywhere in
one: every line a command prints with scraped text in it goes through :func:`log_safe`. In a
picture or a feed, a bidi override reorders what follows it: :func:`without_bidi`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
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


# Bidi embedding, override and isolate controls: a scraped name must not reorder what follows.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control, format (zero-width, bidi), line and paragraph separators, lone surrogates: they break
# lines, hide text, or are skipped by the runner's culture-sensitive matching.
_HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LEADING_COMMAND = re.compile(r"^(\s*):")
_NOT_PRINTABLE_ASCII = re.compile("[^\x20-\x7e]")  # the characters worth a look


def is_hidden(char: str) -> bool:
    """A character that acts or hides instead of showing: control, format, separator."""
    return unicodedata.category(char) in _HIDDEN


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if not is_hidden(char):
        return char
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def log_safe(text: str) -> str:
    """``text`` as one inert line for a terminal or a log: hidden and line-breaking characters
    shown as escapes (``\\n``, ``\\x1b``, ``\\u202e``), a leading ``:`` as ``\\x3a`` and ``##[``
    as ``#\\x23[``, so the line can start no workflow command. Plain text is left as it is."""
    line = _NOT_PRINTABLE_ASCII.sub(_shown, text).replace("##[", "#\\x23[")
    return _LEADING_COMMAND.sub(lambda m: m.group(1) + "\\x3a", line, count=1)


_NOT_PLAIN_ASCII = re.compile("[^\n\x20-\x7e]")  # what json.dumps may leave unescaped


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if not is_hidden(char):
        return char
    data = char.encode("utf-16-be", "surrogatepass")  # two units beyond the BMP
    return "".join(f"\\u{data[i]:02x}{data[i + 1]:02x}" for i in range(0, len(data), 2))


def json_safe(value: Any) -> str:
    """``value`` as indented JSON whose text is exact but whose bytes hold no hidden character:
    each is written as a ``\\uXXXX`` escape, so ``json.loads`` gives the text back unchanged and
    a terminal shows it inert. Other non-ASCII text (``Zoë``) stays readable."""
    return _NOT_PLAIN_ASCII.sub(_json_escape, json.dumps(value, indent=1, ensure_ascii=False))


def without_bidi(text: str) -> str:
    """``text`` without bidi embedding, override and isolate controls."""
    return "".join(char for char in text if char not in BIDI_CONTROLS)
