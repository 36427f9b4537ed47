"""docs/architecture.md is the project's own design notes: every file that cites one of its
sections names a section it has, and no file cites a design document the repository does not
hold. (Its layer table is checked against the enforced order in tests/project/test_layout.py.)"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from support.paths import ROOT

DOC = ROOT / "docs" / "architecture.md"
# The design file the repository used to cite and never held; spelled in two pieces so that
# this test does not cite it either.
ABSENT_DOCUMENT = "CONTRACT" + ".md"
CITATION = re.compile(r'docs/architecture\.md,\s+"([^"]+)"')


def repository_files() -> list[Path]:
    """Every file of the repository: tracked, or new and not ignored."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True).stdout.decode("utf-8").split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def files_naming(needle: str, paths: Iterable[Path]) -> list[str]:
    return sorted(str(path) for path in paths if needle.encode() in path.read_bytes())


def sections(text: str) -> set[str]:
    """The titles of the document's sections, as cited: without the code marks."""
    return {title.replace("`", "").strip() for title in re.findall(r"^## (.+)$", text, re.M)}


def citations(paths: Iterable[Path]) -> dict[str, set[str]]:
    """Section title cited → the files citing it (a title may wrap onto the next line)."""
    found: dict[str, set[str]] = {}
    for path in paths:
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError:
            continue  # a saved page in another charset cites nothing
        for title in CITATION.findall(text):
            found.setdefault(" ".join(title.split()), set()).add(str(path))
    return found


FILES = repository_files()


def test_no_file_cites_a_design_document_the_repository_does_not_hold() -> None:
    assert files_naming(ABSENT_DOCUMENT, FILES) == []


def test_every_cited_section_is_in_the_document() -> None:
    cited = citations(FILES)
    have = sections(DOC.read_text("utf-8"))
    assert {title: files for title, files in cited.items() if title not in have} == {}
    # the code's citations were found at all (a regex that matches nothing would pass above)
    assert {"The gs_data.json record", "Shields endpoint files", "scholarly 1.7.11",
            "What an AcadHomepage page reads", "SerpApi's author engine"} <= set(cited)


def test_the_checks_see_a_planted_citation(tmp_path: Path) -> None:
    cites = tmp_path / "module.py"
    doc = "docs/architecture.md"  # in a variable, so this file cites no section itself
    cites.write_text(f'"""As {ABSENT_DOCUMENT} §2 says, and {doc}, "The\n'
                     f'    gs_data.json record"; {doc}, "No such section"."""\n')
    clean = tmp_path / "clean.py"
    clean.write_text('"""Nothing cited."""\n')
    (tmp_path / "latin1.html").write_bytes(b"caf\xe9")
    files = [cites, clean, tmp_path / "latin1.html"]
    assert files_naming(ABSENT_DOCUMENT, files) == [str(cites)]
    assert citations(files) == {"The gs_data.json record": {str(cites)},
                                "No such section": {str(cites)}}
    assert "No such section" not in sections(DOC.read_text("utf-8"))
