"""The fast path's start messages, kept by ETag, are those of the reply asked for: the same
body with another content type, caching or status gets its own; GET and HEAD say the same
length; the table stays within its bound."""

from __future__ import annotations

import pytest

from scholar_stats.service import fastpath
from scholar_stats.service.fastpath import STARTS_KEPT, answer
from scholar_stats.service.replies import Reply

BODY = b'{"error": "not found"}'
SAME_BODY = [  # one body, four answers
    Reply.make(BODY, b"application/json"),
    Reply.make(BODY, b"image/svg+xml"),
    Reply.make(BODY, b"application/json", cache=b"public, max-age=60"),
    Reply.make(BODY, b"application/json", status=404),
]


@pytest.mark.parametrize("methods", [("GET", "HEAD", "GET"), ("HEAD", "GET", "HEAD")])
def test_a_kept_start_is_the_replys_own(methods: tuple[str, ...]) -> None:
    for reply in SAME_BODY * 2:  # built, then found again
        for method in methods:
            start, body = answer(reply, method, [(b"host", b"example.org")])
            headers = dict(start["headers"])
            assert start["status"] == reply.status
            assert headers[b"content-type"] == reply.ctype
            assert headers[b"cache-control"] == reply.cache
            assert headers[b"content-length"] == b"%d" % len(BODY)
            assert body == (b"" if method == "HEAD" else BODY)


def test_a_start_kept_stays_whole_when_asked_for_its_gzip_form() -> None:
    reply = Reply.make(b'{"papers": "%s"}' % (b"x" * 4000), b"application/json")
    assert reply.gz is not None
    plain, _ = answer(reply, "GET", [])
    packed, body = answer(reply, "GET", [(b"accept-encoding", b"gzip")])
    assert dict(packed["headers"])[b"content-encoding"] == b"gzip" and body == reply.gz
    assert b"content-encoding" not in dict(answer(reply, "GET", [])[0]["headers"])
    assert answer(reply, "GET", [])[0] == plain


def test_the_kept_starts_are_bounded() -> None:
    for i in range(STARTS_KEPT + 10):
        answer(Reply.make(b"%d" % i, b"application/json"), "GET", [])
        assert len(fastpath._STARTS) <= STARTS_KEPT
