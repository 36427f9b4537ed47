"""Every public answer of the service is the recorded one, byte for byte (status, headers,
ETags, gzip, HEAD, 304s): what the service keeps in memory and when it draws it may change, what
a user sees may not. The golden file and how to regenerate it: ``support/golden_answers.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.golden_answers import GOLDEN, all_paths, ask, faketime_library, golden_service


def test_every_answer_is_the_recorded_one(tmp_path: Path) -> None:
    try:
        faketime_library()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    golden = json.loads(GOLDEN.read_text())
    assert sorted(golden) == sorted(all_paths()), "regenerate the golden file"
    with golden_service(tmp_path) as base:
        changed = {}
        for path in all_paths():
            answer = ask(base, path)
            if answer != golden[path]:
                changed[path] = {"now": answer, "recorded": golden[path]}
    assert not changed, json.dumps(changed, indent=1)[:6000]
