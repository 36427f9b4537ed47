"""A source's answer with no secret of the run in it, before anything is written.

A server that echoes the SerpApi key, a proxy's or the Scholar URL's password (or any other
secret ``redact`` knows) into a name, a title or a link would otherwise have it written into
``gs_data.json``, the store and the published branch. Such a text keeps its place with the
secret replaced by ``***`` (the rest of the profile is good data, and a warning says where);
a secret inside a publication id is refused as not understood, as an id cannot be mended.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from scholar_stats.core.model import AuthorData
from scholar_stats.errors import PageNotUnderstood
from scholar_stats.redact import scrub

log = logging.getLogger(__name__)

SHOWN_PLACES = 3


def without_secrets(data: AuthorData, source: str) -> AuthorData:
    """``data`` as ``source`` (``Scholar``, ``SerpApi``) answered it, every secret in its
    texts replaced by ``***``; a ``PageNotUnderstood`` when one is in a publication id."""
    try:
        gs_data, found = scrub(data.gs_data)
    except ValueError as exc:
        raise PageNotUnderstood(f"{source}'s answer holds a secret of this run in {exc}, "
                                "which cannot be mended: not this author's data") from None
    if not found:
        return data
    more = f" and {len(found) - SHOWN_PLACES} more" if len(found) > SHOWN_PLACES else ""
    log.warning("%s: %s's answer holds a secret of this run (in %s%s): written as ***",
                data.scholar_id, source, ", ".join(found[:SHOWN_PLACES]), more)
    return replace(data, gs_data=gs_data)
