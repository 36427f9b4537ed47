"""How scraped text (a name, an affiliation, a title) is shown. Pure functions.

Text from Scholar is data: the files that carry data keep it as it came (``gs_data.json``,
``changes.json``). Where it is shown, it must not act. On a terminal or in a log, ESC and the
other control characters move the cursor, clear the screen or set the window title, a line
separator breaks a line, a zero-width or bidi character hides or reorders text, and a GitHub
runner acts on a line starting with ``::`` and on ``##[`` anywhere in one: every line a command
prints with scraped text in it goes through :func:`log_safe`. In a picture or a feed, a bidi
override reorders what follows it: :func:`without_bidi`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

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
